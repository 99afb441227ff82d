"""The benchmarks: each measures mediaforge against plain ffmpeg (or the naive
way) in the same run, alternating the two, and returns table rows."""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from harness import (
    FFPROBE,
    MEDIAFORGE,
    BenchmarkError,
    Figure,
    PresetCommand,
    Sample,
    Workspace,
    builtin_preset,
    clear,
    median,
    synthesize,
    timed,
    total,
)

MPEG4_SOURCE = ("-c:v", "mpeg4", "-q:v", "4")
H264_SOURCE = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is; ``--quick`` shrinks everything for a smoke run."""

    clip_seconds: float  # the 1080p clips of run and remux
    ladder_seconds: float  # the 1080p clips of hls-ladder
    run_repeats: int  # runs of each side for run (its target is tight)
    repeats: int  # runs of each side for the other encode benchmarks (alternated)
    jobs: int  # one-second jobs for job-overhead
    job_rounds: int  # rounds of both sides for job-overhead (alternated)
    cli_runs: int  # runs of a short CLI command (submit, jobs)
    rows: int  # jobs in the database for the jobs listing
    s3_file_mib: int  # the one large file of s3-upload
    s3_threshold_mib: int  # s3.multipart_threshold_mb for it
    s3_part_mib: int  # s3.part_size_mb for it
    s3_files: int  # files in the HLS-like folder of s3-upload
    s3_repeats: int  # runs of each side of s3-upload (alternated), after one untimed
    watch_files: int  # files dropped at once into a watched folder (watch-ingest)
    folder_files: int  # files of one `submit FOLDER` (watch-ingest)
    quick: bool = False  # scaling and claim-overhead: fewer layouts, rounds and jobs

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                clip_seconds=5,
                ladder_seconds=4,
                run_repeats=2,
                repeats=2,
                jobs=20,
                job_rounds=1,
                cli_runs=5,
                rows=10_000,
                s3_file_mib=16,
                s3_threshold_mib=5,
                s3_part_mib=5,
                s3_files=40,
                s3_repeats=3,
                watch_files=100,
                folder_files=40,
                quick=True,
            )
        return cls(
            clip_seconds=20,
            ladder_seconds=10,
            run_repeats=5,
            repeats=3,
            jobs=200,
            job_rounds=3,
            cli_runs=10,
            rows=100_000,
            s3_file_mib=96,
            s3_threshold_mib=64,
            s3_part_mib=16,
            s3_files=200,
            s3_repeats=7,
            watch_files=1000,
            folder_files=200,
        )


@dataclass
class Report:
    figures: list[Figure]
    details: dict[str, Any]  # raw samples and context, for the JSON
    notes: list[str] = field(default_factory=list)  # printed under the table


def _walls(samples: list[Sample]) -> list[float]:
    return [s.wall for s in samples]


def _cpus(samples: list[Sample]) -> list[float]:
    return [s.cpu for s in samples]


def _ratio_figures(
    benchmark: str,
    what: str,
    ours: list[Sample],
    base: list[Sample],
    label: str,
    *,
    wall_target: float | None = None,
    cpu_target: float | None = None,
) -> list[Figure]:
    """Wall and CPU rows: median of ours / median of the baseline."""
    figures = []
    for measure, values, target in (("wall", _walls, wall_target), ("CPU", _cpus, cpu_target)):
        mine, theirs = median(values(ours)), median(values(base))
        figures.append(
            Figure(
                benchmark,
                f"{what}: {measure}",
                mine,
                theirs,
                label,
                mine / theirs,
                "x",
                target,
                samples={"mediaforge": values(ours), "baseline": values(base)},
            )
        )
    return figures


def _absolute_figures(
    benchmark: str,
    what: str,
    ours: list[Sample],
    base: list[Sample],
    label: str,
    target: float,
) -> list[Figure]:
    """A wall row held to an absolute target (with the best run, the least
    disturbed by other load, as a note) and a CPU row, which load inflates less."""
    wall, cpu = median(_walls(ours)), median(_cpus(ours))
    return [
        Figure(
            benchmark,
            f"{what}: wall",
            wall,
            median(_walls(base)),
            label,
            wall,
            "s",
            target,
            note=f"best {min(_walls(ours)) * 1000:.0f} ms",
            samples={"mediaforge": _walls(ours), "baseline": _walls(base)},
        ),
        Figure(
            benchmark,
            f"{what}: CPU",
            cpu,
            median(_cpus(base)),
            label,
            cpu,
            "s",
            samples={"mediaforge": _cpus(ours), "baseline": _cpus(base)},
        ),
    ]


def _alternate(repeats: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """first, second; second, first; ... so drift in machine load hits both sides alike."""
    for i in range(repeats):
        for step in (first, second) if i % 2 == 0 else (second, first):
            step()


def _expect_job(done_stdout: str, action: str) -> dict[str, Any]:
    job: dict[str, Any] = json.loads(done_stdout)
    if job["status"] != "succeeded" or job["action"] != action:
        raise BenchmarkError(
            f"expected a succeeded {action} job, got {job['status']} {job['action']}: "
            f"{job.get('error')}"
        )
    return job


def warm_up(names: list[str]) -> None:
    """Run the command shapes the benchmarks ``names`` use once, so imports are
    compiled and cached before anything is timed (see harness.use_bytecode_cache)."""
    with Workspace("warm-up") as ws:
        clip = synthesize(ws.root / "clip.mp4", seconds=0.2)
        out = ws.folder("out")
        ws.run([sys.executable, "-c", "pass"])
        ws.mediaforge("--version")
        ws.preset_command("h264-720p", clip, out)
        ws.mediaforge("submit", str(clip), "-p", "h264-720p", "-o", str(out))
        ws.mediaforge("jobs")
        ws.mediaforge("jobs", "--status", "failed")
        if {"job-overhead"} & set(names):
            ws.mediaforge("worker", "--burst")
        if {"run", "remux"} & set(names):
            ws.mediaforge("run", str(clip), "-p", "h264-720p", "-o", str(out), "--json")


# -- 1. mediaforge run vs the identical ffmpeg command -------------------------


def bench_run(sizes: Sizes) -> Report:
    """`mediaforge run` vs the command `presets show` prints, run raw."""
    preset = "h264-1080p"
    with Workspace("run") as ws:
        clip = synthesize(
            ws.root / "talk.mp4", seconds=sizes.clip_seconds, size="1920x1080", video=MPEG4_SOURCE
        )
        raw_dir, ours_dir = ws.folder("raw"), ws.folder("ours")
        raw = ws.preset_command(preset, clip, raw_dir)
        if raw.action != "transcode":
            raise BenchmarkError(f"{preset} would {raw.action} the clip, not transcode it")
        ours: list[Sample] = []
        base: list[Sample] = []

        def run_raw() -> None:
            base.append(ws.run(raw.argv, raw.cwd))
            clear(raw_dir)

        def run_ours() -> None:
            sample, done = ws.mediaforge(
                "run", str(clip), "-p", preset, "-o", str(ours_dir), "--json"
            )
            _expect_job(done.stdout, "transcode")
            ours.append(sample)
            clear(ours_dir)

        _alternate(sizes.run_repeats, run_raw, run_ours)
    what = f"{sizes.clip_seconds:g} s 1080p MPEG-4 -> {preset}"
    figures = _ratio_figures("run", what, ours, base, "same ffmpeg command", wall_target=1.03)
    # Each raw run and mediaforge run of a pair ran back to back: their
    # difference is what mediaforge adds, less disturbed by load drifting.
    added_wall = median([o.wall - b.wall for o, b in zip(ours, base, strict=True)])
    added_cpu = median([o.cpu - b.cpu for o, b in zip(ours, base, strict=True)])
    notes = [
        f"run: mediaforge adds {added_wall:.2f} s wall and {added_cpu:.2f} s CPU to the "
        f"ffmpeg command (median of back-to-back pairs); ffmpeg alone: "
        f"{median(_walls(base)):.1f} s wall, {median(_cpus(base)):.1f} s CPU."
    ]
    return Report(
        figures, {"command": raw.argv, "added_wall": added_wall, "added_cpu": added_cpu}, notes
    )


# -- 2. hls-ladder (one decode, split) vs three separate runs --------------------


def bench_hls_ladder(sizes: Sizes) -> Report:
    """The ladder's one ffmpeg process vs three ffmpeg runs, one per rendition,
    from an H.264 source (what cameras and phones make) and an MPEG-4 Part 2
    one (cheap to decode, so less to save)."""
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for source, video in (("H.264", H264_SOURCE), ("MPEG-4", MPEG4_SOURCE)):
        with Workspace("hls") as ws:
            clip = synthesize(
                ws.root / "talk.mp4", seconds=sizes.ladder_seconds, size="1920x1080", video=video
            )
            ours, base, commands = _ladder_vs_singles(ws, clip, sizes.repeats)
        what = f"{sizes.ladder_seconds:g} s 1080p {source} source, 3 renditions"
        rows = _ratio_figures(
            "hls-ladder", what, ours, base, "3 separate ffmpeg runs", cpu_target=0.85
        )
        figures.extend(rows)
        details[source] = commands
    return Report(figures, details)


def _ladder_vs_singles(
    ws: Workspace, clip: Path, repeats: int
) -> tuple[list[Sample], list[Sample], dict[str, Any]]:
    # Ours is the ladder command run raw: bench_run measures what mediaforge adds.
    ladder = ws.preset_command("hls-ladder", clip, ws.folder("ladder"))
    # The same preset cut down to one rendition, three times: the same builder
    # writes the same per-rendition options.
    full = builtin_preset("hls-ladder")
    singles = []
    for rendition in full["outputs"][0]["renditions"]:
        one = copy.deepcopy(full)
        one["name"] = f"bench-hls-{rendition['name']}"
        one["outputs"][0]["renditions"] = [rendition]
        name = ws.add_preset(one)
        singles.append(ws.preset_command(name, clip, ws.folder(name)))
    scales = sorted(s for c in singles for s in re.findall(r"scale=\d+:\d+", " ".join(c.argv)))
    if scales != sorted(re.findall(r"scale=\d+:\d+", " ".join(ladder.argv))):
        raise BenchmarkError("the single-rendition commands do not make the ladder's sizes")

    def run_in_temp_folder(command: PresetCommand) -> Sample:
        assert command.cwd is not None
        command.cwd.mkdir(parents=True, exist_ok=True)
        sample = ws.run(command.argv, command.cwd)
        shutil.rmtree(command.cwd)
        return sample

    ours: list[Sample] = []
    base: list[Sample] = []
    _alternate(
        repeats,
        lambda: ours.append(run_in_temp_folder(ladder)),
        lambda: base.append(total([run_in_temp_folder(c) for c in singles])),
    )
    return ours, base, {"ladder": ladder.argv, "singles": [c.argv for c in singles]}


# -- 3. remux of a compliant input vs re-encode ---------------------------------


def bench_remux(sizes: Sizes) -> Report:
    """h264-1080p on an input that already complies (remux) vs the same preset
    without its compliance rule (re-encode), both through `mediaforge run`."""
    with Workspace("remux") as ws:
        clip = synthesize(
            ws.root / "talk.mp4", seconds=sizes.clip_seconds, size="1920x1080", video=H264_SOURCE
        )
        always = builtin_preset("h264-1080p")
        always["name"] = "bench-h264-1080p-always-encode"
        del always["compliant"]
        reencode = ws.add_preset(always)
        out = ws.folder("out")
        remuxes: list[Sample] = []
        encodes: list[Sample] = []

        def run(preset: str, action: str, into: list[Sample]) -> None:
            sample, done = ws.mediaforge("run", str(clip), "-p", preset, "-o", str(out), "--json")
            _expect_job(done.stdout, action)
            into.append(sample)
            clear(out)

        _alternate(
            sizes.repeats,
            lambda: run("h264-1080p", "remux", remuxes),
            lambda: run(reencode, "transcode", encodes),
        )
    mine, theirs = median(_walls(remuxes)), median(_walls(encodes))
    figure = Figure(
        "remux",
        f"{sizes.clip_seconds:g} s compliant 1080p H.264/AAC: wall",
        mine,
        theirs,
        "re-encode, same preset",
        mine / theirs,
        "x",
        0.10,
        note=f"{theirs / mine:.0f}x faster",
        samples={"mediaforge": _walls(remuxes), "baseline": _walls(encodes)},
    )
    return Report([figure], {})


# -- 4. per-job overhead through submit + worker --burst ------------------------

PROBES_PER_JOB = 2


def bench_job_overhead(sizes: Sizes) -> Report:
    """N one-second jobs through `submit` + `worker --burst` vs N raw ffmpeg runs
    of the same commands, and vs those plus the ffprobe runs mediaforge makes
    per job: `submit` probes the input (to refuse non-media before a job
    exists; the worker reuses that probe while the file is unchanged) and the
    worker probes the output (to verify it)."""
    n, preset = sizes.jobs, "h264-720p"
    with Workspace("jobs") as ws:
        clips = ws.folder("clips")
        # One ffmpeg run cut into n different one-second files.
        synthesize(
            clips / "clip%04d.mp4",
            seconds=n,
            muxer="segment",
            video=("-c:v", "mpeg4", "-q:v", "4", "-g", "25"),
            extra=("-segment_time", "1", "-reset_timestamps", "1", "-segment_format", "mp4"),
        )
        paths = sorted(clips.iterdir())
        if len(paths) != n:
            raise BenchmarkError(f"expected {n} clips, got {len(paths)}")
        raw_dir = ws.folder("raw")
        template = ws.preset_command(preset, paths[0], raw_dir)
        if template.action != "transcode":
            raise BenchmarkError(f"{preset} would {template.action} the clips")
        stem = paths[0].stem
        raw_commands = [[a.replace(stem, p.stem) for a in template.argv] for p in paths]
        if stem not in template.argv[-1]:
            raise BenchmarkError(f"the output is not the last argument of {template.argv}")

        raw_runs: list[Sample] = []
        probe_runs: list[Sample] = []
        submits: list[Sample] = []
        workers: list[Sample] = []

        def run_raw() -> None:
            # Job by job, in mediaforge's order, so both baselines see the same load:
            # ffprobe the input (submit), ffmpeg, ffprobe the output.
            ffmpegs, probes = [], []
            for path, command in zip(paths, raw_commands, strict=True):
                probes.append(ws.run([*FFPROBE, f"file:{path}"]))
                ffmpegs.append(ws.run(command))
                probes.append(ws.run([*FFPROBE, command[-1]]))
            raw_runs.append(total(ffmpegs))
            probe_runs.append(total(probes))
            clear(raw_dir)

        def run_ours() -> None:
            ws.use_data_dir(f"data-{len(submits)}")
            out = ws.folder(f"out-{len(submits)}")
            sample, _ = ws.mediaforge("submit", str(clips), "-p", preset, "-o", str(out))
            submits.append(sample)
            sample, _ = ws.mediaforge("worker", "--burst")
            workers.append(sample)
            _, done = ws.mediaforge("jobs", "--status", "succeeded", "-n", str(n + 1), "--json")
            if len(json.loads(done.stdout)) != n:
                raise BenchmarkError(f"not all {n} jobs succeeded")
            shutil.rmtree(out)

        _alternate(sizes.job_rounds, run_raw, run_ours)

    ours = [s + w for s, w in zip(submits, workers, strict=True)]
    with_probes = [r + p for r, p in zip(raw_runs, probe_runs, strict=True)]
    what = f"{n} one-second jobs ({preset})"
    probes = f"{PROBES_PER_JOB} ffprobe"
    figures = [
        _per_job(
            "wall", f"{what}: wall beyond raw ffmpeg", ours, raw_runs, f"{n} ffmpeg runs", n, 100.0
        ),
        _per_job("CPU", f"{what}: CPU beyond raw ffmpeg", ours, raw_runs, "CPU of those runs", n),
        _per_job(
            "wall",
            f"{what}: wall beyond ffmpeg + {probes}",
            ours,
            with_probes,
            f"{n} ffmpeg + {PROBES_PER_JOB * n} ffprobe runs",
            n,
        ),
        _per_job(
            "CPU",
            f"{what}: CPU beyond ffmpeg + {probes}",
            ours,
            with_probes,
            "CPU of those runs",
            n,
        ),
    ]
    details = {
        "submit_wall": _walls(submits),
        "worker_wall": _walls(workers),
        "ffprobe_ms_per_call": [p.wall / (PROBES_PER_JOB * n) * 1000 for p in probe_runs],
        "ffmpeg_ms_per_job": [r.wall / n * 1000 for r in raw_runs],
    }
    notes = [
        f"job-overhead: per job, ffmpeg alone takes {median(details['ffmpeg_ms_per_job']):.0f} "
        f"ms and one ffprobe {median(details['ffprobe_ms_per_call']):.0f} ms; one `submit` of "
        f"all {n} files takes {median(details['submit_wall']):.2f} s and `worker --burst` "
        f"{median(details['worker_wall']):.2f} s (medians)."
    ]
    return Report(figures, details, notes)


def _per_job(
    measure: str,
    what: str,
    ours: list[Sample],
    base: list[Sample],
    label: str,
    n: int,
    target: float | None = None,
) -> Figure:
    """Milliseconds per job that ours took beyond the baseline: the median of the
    per-round differences (each round ran both sides back to back)."""
    pick = _walls if measure == "wall" else _cpus
    per_job = [(o - b) / n * 1000 for o, b in zip(pick(ours), pick(base), strict=True)]
    return Figure(
        "job-overhead",
        what,
        median(pick(ours)),
        median(pick(base)),
        label,
        median(per_job),
        "ms/job",
        target,
        samples={"mediaforge": pick(ours), "baseline": pick(base), "ms_per_job": per_job},
    )


# -- 5. mediaforge submit, one file ---------------------------------------------


def bench_submit(sizes: Sizes) -> Report:
    """Wall time of `mediaforge submit` for one file, next to a bare Python start."""
    with Workspace("submit") as ws:
        clip = synthesize(ws.root / "clip.mp4", seconds=1)
        submits: list[Sample] = []
        pythons: list[Sample] = []
        versions: list[Sample] = []
        probes: list[Sample] = []
        submit_args = ("submit", str(clip), "-p", "h264-720p")

        def references() -> None:
            pythons.append(ws.run([sys.executable, "-c", "pass"]))
            versions.append(ws.mediaforge("--version")[0])
            probes.append(ws.run([*FFPROBE, f"file:{clip}"]))  # submit probes its input

        _alternate(
            sizes.cli_runs, lambda: submits.append(ws.mediaforge(*submit_args)[0]), references
        )
        _, done = timed(
            [sys.executable, "-X", "importtime", MEDIAFORGE, *submit_args], env=ws.env, cwd=ws.root
        )
    figures = _absolute_figures("submit", "one file", submits, pythons, "python -c pass", 0.25)
    offenders = _import_offenders(done.stderr)
    details = {
        "mediaforge_version_wall_median": median(_walls(versions)),
        "mediaforge_version_wall": _walls(versions),
        "ffprobe_wall": _walls(probes),
        "ffprobe_cpu": _cpus(probes),
        "import_time_top": offenders,
    }
    notes = [
        f"submit: `mediaforge --version` (Python, typer, rich, the CLI module) takes "
        f"{median(_walls(versions)) * 1000:.0f} ms; the ffprobe of the input that submit "
        f"runs takes {median(_walls(probes)) * 1000:.0f} ms on its own (medians)."
    ]
    if any(f.met is False for f in figures):
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in offenders[:8])
        notes.append(f"submit: slowest imports (cumulative, python -X importtime): {top}.")
    return Report(figures, details, notes)


def _import_offenders(importtime: str, top: int = 12) -> list[tuple[str, float]]:
    """The slowest imports (cumulative ms) of the modules mediaforge imports directly
    or that are top-level packages, from ``python -X importtime`` output."""
    found = []
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1:
            found.append((name.strip(), int(parts[1]) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]


# -- 5b. start-up: what each command imports ----------------------------------

# Packages a command imports only when it needs them (see docs/benchmarks.md).
HEAVY_IMPORTS = (
    "pydantic", "huey", "peewee", "psycopg", "redis", "boto3", "apprise", "watchdog", "yaml",
)  # fmt: skip


def bench_startup(sizes: Sizes) -> Report:
    """`mediaforge --version` and `submit one.mp3` next to `python -c pass` and
    `ffprobe -version` (the start-up of the program every job runs), and which
    heavy packages each command imports."""
    with Workspace("startup") as ws:
        song = ws.root / "one.mp3"
        ws.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", f"file:{song}"])
        versions: list[Sample] = []
        submits: list[Sample] = []
        pythons: list[Sample] = []
        ffprobes: list[Sample] = []
        submit_args = ("submit", str(song), "-p", "mp3-audio", "--force")

        def ours() -> None:
            versions.append(ws.mediaforge("--version")[0])
            submits.append(ws.mediaforge(*submit_args)[0])

        def references() -> None:
            pythons.append(ws.run([sys.executable, "-c", "pass"]))
            ffprobes.append(ws.run(["ffprobe", "-version"]))

        _alternate(sizes.cli_runs, ours, references)
        imported = {
            label: _heavy_imports(ws, args)
            for label, args in (
                ("--version", ("--version",)),
                ("submit one.mp3", submit_args),
                ("jobs", ("jobs",)),
                ("presets list", ("presets", "list")),
            )
        }
    figures = [
        *_absolute_figures("startup", "--version", versions, pythons, "python -c pass", 0.10),
        *_absolute_figures("startup", "submit one.mp3", submits, pythons, "python -c pass", 0.25),
    ]
    ffprobe_version = median(_walls(ffprobes))
    figures.append(
        Figure(
            "startup",
            "--version: wall vs ffprobe -version",
            median(_walls(versions)),
            ffprobe_version,
            "ffprobe -version",
            median(_walls(versions)) / ffprobe_version,
            "x",
            samples={"mediaforge": _walls(versions), "baseline": _walls(ffprobes)},
        )
    )
    notes = [
        "startup: heavy packages imported per command: "
        + "; ".join(f"`{cmd}`: {', '.join(mods) or 'none'}" for cmd, mods in imported.items())
        + "."
    ]
    return Report(figures, {"heavy_imports": imported}, notes)


# Runs mediaforge as its script does, then prints the top-level packages in
# sys.modules (a driver left out on purpose is None there: not imported).
_LIST_IMPORTS = """
import atexit, runpy, sys
def listed():
    names = {n.split(".")[0] for n, m in list(sys.modules.items()) if m is not None}
    sys.stderr.write("\\nIMPORTED " + " ".join(sorted(names)) + "\\n")
atexit.register(listed)
sys.argv = ["mediaforge", *sys.argv[1:]]
runpy.run_module("mediaforge", run_name="__main__", alter_sys=False)
"""


def _heavy_imports(ws: Workspace, args: tuple[str, ...]) -> list[str]:
    """Which of HEAVY_IMPORTS ``mediaforge ARGS`` imports."""
    _, done = timed([sys.executable, "-c", _LIST_IMPORTS, *args], env=ws.env, cwd=ws.root)
    last = (done.stderr.rstrip().splitlines() or [""])[-1]
    if not last.startswith("IMPORTED "):
        raise BenchmarkError(f"mediaforge {' '.join(args)} failed: {done.stderr[-500:]}")
    names = set(last.split()[1:])
    return [name for name in HEAVY_IMPORTS if name in names]


# -- 5c. ingest: submit of a folder, and a burst into a watched folder ----------

WATCH_SETTLE = 1.0  # settle_seconds of the watched folder


def bench_watch_ingest(sizes: Sizes) -> Report:
    """`submit FOLDER` vs a serial ffprobe loop over its files, and N files
    dropped at once into a watched folder: seconds from their settling to the
    last job, next to a serial ffprobe loop over them."""
    with Workspace("ingest") as ws:
        clips = _short_clips(ws, "clips", max(sizes.folder_files, sizes.watch_files))
        folder = ws.folder("folder")
        for path in clips[: sizes.folder_files]:
            os.link(path, folder / path.name)
        submits: list[Sample] = []
        loops: list[Sample] = []

        def submit_folder() -> None:
            ws.use_data_dir(f"data-submit-{len(submits)}")
            sample, done = ws.mediaforge("submit", str(folder), "-p", "h264-720p")
            if len(done.stdout.split()) != sizes.folder_files:
                raise BenchmarkError(f"submit made {done.stdout.split()!r}, not one job per file")
            submits.append(sample)

        def probe_loop() -> None:
            loops.append(total([ws.run([*FFPROBE, f"file:{p}"]) for p in folder.iterdir()]))

        _alternate(sizes.repeats, submit_folder, probe_loop)
        bursts: list[float] = []
        burst_loops: list[Sample] = []
        for _ in range(sizes.job_rounds):
            bursts.append(_watch_burst(ws, clips[: sizes.watch_files], len(bursts)))
            burst_loops.append(
                total([ws.run([*FFPROBE, f"file:{p}"]) for p in clips[: sizes.watch_files]])
            )
    n, m = sizes.folder_files, sizes.watch_files
    burst, loop = median(bursts), median(_walls(burst_loops))
    figures = [
        *_ratio_figures(
            "watch-ingest", f"submit of a folder of {n} files", submits, loops,
            f"serial ffprobe loop over the {n}", wall_target=0.40,
        ),
        Figure(
            "watch-ingest", f"{m} files dropped into a watched folder: settled -> last job",
            burst, loop, f"serial ffprobe loop over the {m}", burst, "s", 20.0,
            note=f"{burst / loop:.2f}x the loop",
            samples={"mediaforge": bursts, "baseline": _walls(burst_loops)},
        ),
    ]  # fmt: skip
    return Report(figures, {"probe_workers": os.cpu_count()})


def _short_clips(ws: Workspace, name: str, n: int) -> list[Path]:
    """``n`` different 0.2 s clips, cut from one lavfi run."""
    folder = ws.folder(name)
    synthesize(
        folder / "clip%05d.mp4",
        seconds=n * 0.2,
        size="160x120",
        muxer="segment",
        video=("-c:v", "mpeg4", "-q:v", "4", "-g", "5"),
        extra=("-segment_time", "0.2", "-reset_timestamps", "1", "-segment_format", "mp4"),
    )
    paths = sorted(folder.iterdir())[:n]
    if len(paths) < n:
        raise BenchmarkError(f"expected {n} clips, got {len(paths)}")
    return paths


def _watch_burst(ws: Workspace, clips: list[Path], round_no: int) -> float:
    """Seconds from the moment ``clips``, dropped at once into a watched folder,
    have settled to the moment the last of their jobs exists."""
    inbox = ws.folder(f"inbox-{round_no}")
    data = ws.use_data_dir(f"data-watch-{round_no}")
    config = ws.root / "config.yaml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["watch"] = [
        {"path": str(inbox), "presets": ["h264-720p"], "settle_seconds": WATCH_SETTLE}
    ]
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    staged = ws.folder(f"staged-{round_no}")
    for path in clips:
        os.link(path, staged / path.name)
    watcher = subprocess.Popen(
        [MEDIAFORGE, "watch"], env=ws.env, cwd=ws.root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(lambda: (data / "jobs.db").exists(), 30, "the watcher to open its database")
        time.sleep(1.0)  # let it attach to the folder
        for path in sorted(staged.iterdir()):
            os.rename(path, inbox / path.name)  # a whole file appears at once
        settled = time.monotonic() + WATCH_SETTLE
        _wait_for(lambda: _job_count(data) >= len(clips), 600, f"{len(clips)} jobs")
        return time.monotonic() - settled
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
        del settings["watch"]
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")


def _job_count(data: Path) -> int:
    with closing(sqlite3.connect(f"file:{data / 'jobs.db'}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute('SELECT count(*) FROM "job"').fetchone()[0])
        except sqlite3.OperationalError:  # the table is not made yet
            return 0


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"gave up waiting for {what} after {seconds:g} s")
        time.sleep(0.05)


# -- 6. mediaforge jobs with a big job database ------------------------------


def bench_jobs(sizes: Sizes) -> Report:
    """`mediaforge jobs` and `jobs --status failed` with many jobs in the database,
    next to `mediaforge jobs` on an empty one."""
    with Workspace("jobs-full") as full, Workspace("jobs-empty") as empty:
        _fill(full, sizes.rows)
        _fill(empty, 0)
        runs: dict[str, list[Sample]] = {"empty": [], "all": [], "failed": []}

        def listings() -> None:
            runs["all"].append(full.mediaforge("jobs")[0])
            runs["failed"].append(full.mediaforge("jobs", "--status", "failed")[0])

        _alternate(
            sizes.cli_runs, lambda: runs["empty"].append(empty.mediaforge("jobs")[0]), listings
        )
    figures = []
    for key, command in (("all", "jobs"), ("failed", "jobs --status failed")):
        what = f"`{command}`, {sizes.rows:,} jobs in the DB"
        figures += _absolute_figures(
            "jobs", what, runs[key], runs["empty"], "`jobs`, empty DB", 0.4
        )
    return Report(figures, {})


def _fill(ws: Workspace, rows: int) -> None:
    """Create the job database of ``ws`` with ``rows`` finished jobs (1% failed),
    in one transaction, through the JobStore's own models."""
    from mediaforge.config.discovery import load_config
    from mediaforge.jobs.store import JobStore
    from mediaforge.jobs.tables import JobRow

    store = JobStore.open(load_config(None, ws.env))
    start = time.time() - rows * 60
    try:
        with store.db.atomic():
            for first in range(0, rows, 500):
                chunk = range(first, min(first + 500, rows))
                JobRow.insert_many([_finished_job(i, start + i * 60) for i in chunk]).execute()
    finally:
        store.close()


_OUTPUTS = json.dumps(
    [
        {
            "path": "/srv/media/out/episode.720p.mp4",
            "kind": "video",
            "size": 48_000_000,
            "container": "mp4",
            "video_codec": "h264",
            "audio_codec": "aac",
            "width": 1280,
            "height": 720,
            "duration": 1312.4,
        }
    ]
)
_LOG_TAIL = "\n".join(f"[h264 @ 0x55d3c7340ac0] error while decoding MB {i} 12" for i in range(30))


def _finished_job(i: int, created: float) -> dict[str, Any]:
    """Job number ``i`` as a row, looking like a watch folder's: 1 in 100 failed."""
    failed = i % 100 == 37
    return {
        "input_path": f"/srv/media/incoming/show-{i // 100:04d}/episode-{i:06d}.mkv",
        "input_size": 700_000_000 + i,
        "input_mtime": created - 3600,
        "input_hash": f"{i:064x}",
        "input_duration": 1312.4,
        "preset": "h264-720p",
        "status": "failed" if failed else "succeeded",
        "progress": 1.0,
        "attempts": 3 if failed else 1,
        "max_attempts": 3,
        "action": "transcode",
        "outputs": "[]" if failed else _OUTPUTS,
        "error": "ffmpeg exited with code 1: Invalid data found" if failed else None,
        "log_tail": _LOG_TAIL if failed else None,
        "worker": "nas:4242/Worker-1",
        "heartbeat_at": created + 50,
        "source": "watch",
        "created_at": created,
        "started_at": created + 1,
        "finished_at": created + 55,
        "updated_at": created + 55,
    }


# -- 7. s3-upload: mediaforge's upload step vs plain boto3, against moto's server ----

S3_BUCKET = "bench-media"
MiB = 1024 * 1024
# moto's S3 server, in a process of its own (it would share this process's GIL
# otherwise): prints its port, serves until its stdin closes.
_MOTO_SERVER = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


def bench_s3_upload(sizes: Sizes) -> Report:
    """mediaforge's upload step (Uploader.upload_job: MD5, HEAD before and after,
    links, the upload table) vs plain boto3 upload_file, against moto's server:
    one large multipart file, and an HLS-like folder of many small files."""
    missing = [m for m in ("boto3", "moto", "flask", "flask_cors") if not _importable(m)]
    if missing:
        raise BenchmarkError(
            f"s3-upload needs boto3 and moto's server ({', '.join(missing)} missing); "
            "install the test extra: pip install -e '.[test]'"
        )
    with (
        Workspace("s3") as ws,
        _aws_environment(ws.root),
        _moto_server(ws.root) as (endpoint, server_pid),
    ):
        bench = _S3Bench(ws, endpoint, server_pid, sizes)
        try:
            large = bench.one_large_file()
            folder = bench.hls_folder(rtt=0.0)
            far = bench.hls_folder(rtt=S3_RTT)
        finally:
            bench.close()
    return Report(
        large.figures + folder.figures + far.figures,
        {
            "one_large_file": large.details,
            "hls_folder": folder.details,
            "hls_folder_rtt": far.details,
        },
        large.notes + folder.notes + far.notes,
    )


# A round trip to a store across a network, added to every request of both
# sides (a sleep in the sending thread, as a network wait would be).
S3_RTT = 0.020


@contextmanager
def _round_trip(clients: list[Any], seconds: float) -> Iterator[None]:
    def wait(**_: Any) -> None:  # a before-send handler must return None to send
        time.sleep(seconds)

    if seconds:
        for client in clients:
            client.meta.events.register("before-send.s3", wait)
    try:
        yield
    finally:
        if seconds:
            for client in clients:
                client.meta.events.unregister("before-send.s3", wait)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@contextmanager
def _aws_environment(root: Path) -> Iterator[None]:
    """Fake credentials for moto, for this process only (restored afterwards);
    no AWS profile or file of the user's is read."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIABENCHMARKONLY000",
        AWS_SECRET_ACCESS_KEY="benchmark-secret-key-for-moto-only",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(root / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(root / "aws-credentials"),
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _moto_server(root: Path) -> Iterator[tuple[str, int]]:
    """moto's S3 server on 127.0.0.1 in a child process: (endpoint URL, its pid)."""
    log_path = root / "moto.log"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", _MOTO_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = server.stdout.readline().strip()
            if not port.isdigit():
                tail = " | ".join(log_path.read_text(encoding="utf-8").splitlines()[-3:])
                raise BenchmarkError(f"moto's server did not start: {tail}")
            yield f"http://127.0.0.1:{port}", server.pid
        finally:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _process_cpu(pid: int) -> float | None:
    """user+sys seconds of a running process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _random_file(path: Path, size: int, rng: random.Random) -> Path:
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = min(left, 4 * MiB)
            fh.write(rng.randbytes(chunk))
            left -= chunk
    return path


def _hls_like_folder(folder: Path, files: int, rng: random.Random) -> None:
    """``files`` files laid out like an HLS ladder: a master playlist, three
    rendition playlists and segments of 64-256 KiB."""
    renditions = ("1080p", "720p", "480p")
    segments = files - 1 - len(renditions)
    if segments < len(renditions):
        raise BenchmarkError(f"an HLS-like folder needs more than {files} files")
    folder.mkdir(parents=True)
    master = ["#EXTM3U"]
    for i, name in enumerate(renditions):
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={(3 - i) * 1_500_000}", f"{name}/index.m3u8"]
        (folder / name).mkdir()
        count = segments // len(renditions) + (1 if i < segments % len(renditions) else 0)
        playlist = ["#EXTM3U", "#EXT-X-TARGETDURATION:4"]
        for n in range(count):
            segment = f"seg_{n:05d}.ts"
            _random_file(folder / name / segment, rng.randint(64, 256) * 1024, rng)
            playlist += ["#EXTINF:4.0,", segment]
        (folder / name / "index.m3u8").write_text("\n".join([*playlist, "#EXT-X-ENDLIST\n"]))
    (folder / "master.m3u8").write_text("\n".join(master) + "\n")


class _S3Bench:
    """One job store, one mediaforge Uploader and one plain boto3 client, made
    once (as a worker makes them once), against one moto server."""

    def __init__(self, ws: Workspace, endpoint: str, server_pid: int, sizes: Sizes) -> None:
        import boto3
        import botocore.config
        import yaml
        from boto3.s3.transfer import TransferConfig

        from mediaforge.config.discovery import load_config
        from mediaforge.jobs.store import JobStore
        from mediaforge.storage.s3.uploader import Uploader

        self.ws, self.sizes, self.server_pid = ws, sizes, server_pid
        self.rng = random.Random(20261121)
        self.runs = itertools.count()  # a fresh key (prefix) for every run
        config_file = Path(ws.env["MEDIAFORGE_CONFIG"])
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        config["s3"] = {
            "bucket": S3_BUCKET,
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "multipart_threshold_mb": sizes.s3_threshold_mib,
            "part_size_mb": sizes.s3_part_mib,
        }
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.config = load_config(None, ws.env)
        self.settings = self.config.s3
        self.store = JobStore.open(self.config)
        self.uploader = Uploader(self.config, self.store)
        _ = self.uploader.client  # made now, not in the first timed run
        # What a script would write: a client for a path-style endpoint and
        # the same TransferConfig (threshold, part size, parallel parts).
        self.plain_client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            config=botocore.config.Config(s3={"addressing_style": "path"}),
        )
        self.transfer = TransferConfig(
            multipart_threshold=self.settings.multipart_threshold_mb * MiB,
            multipart_chunksize=self.settings.part_size_mb * MiB,
            max_concurrency=self.settings.concurrency,
            use_threads=True,
        )
        self.plain_client.create_bucket(Bucket=S3_BUCKET)
        self.server_cpu: dict[str, list[float]] = {"mediaforge": [], "baseline": []}

    def close(self) -> None:
        self.store.close()

    # -- the two sides -------------------------------------------------------------

    def _timed(self, side: str, work: Callable[[], Any]) -> tuple[Sample, Any]:
        """Wall and CPU time of ``work`` in this process (moto's CPU is in its own)."""
        server_before = _process_cpu(self.server_pid)
        cpu, start = time.process_time(), time.perf_counter()
        result = work()
        sample = Sample(time.perf_counter() - start, time.process_time() - cpu)
        server_after = _process_cpu(self.server_pid)
        if server_before is not None and server_after is not None:
            self.server_cpu[side].append(server_after - server_before)
        return sample, result

    def ours(self, output: Path, kind: str) -> Sample:
        """Record a succeeded job that made ``output`` and the rows it owes S3
        (untimed: that happens when the job finishes), then time its upload step."""
        from mediaforge.jobs.model import JobStatus, NewJob, Output
        from mediaforge.storage.s3.plan import planned_uploads
        from mediaforge.storage.s3.rows import UploadStatus, UploadStore

        source = str(self.ws.root / "source.mov")
        [job_id] = self.store.create([NewJob(input_path=source, preset="bench")])
        files = sorted(output.rglob("*")) if output.is_dir() else [output]
        size = sum(p.stat().st_size for p in files if p.is_file())
        made = Output(path=str(output), kind=kind, size=size)
        if self.store.claim(job_id, "bench") is None or not self.store.finish(
            job_id, "bench", JobStatus.SUCCEEDED, outputs=[made]
        ):
            raise BenchmarkError(f"could not make job {job_id} succeed")
        table = UploadStore(self.store)
        table.add(job_id, planned_uploads(self.config, source, [made]))
        owed = table.for_job(job_id)

        sample, result = self._timed(
            "mediaforge", lambda: self.uploader.upload_job(job_id, "bench", everything=True)
        )
        rows = table.for_job(job_id)
        bad = [r for r in rows if r.status is not UploadStatus.UPLOADED]
        if bad:
            raise BenchmarkError(
                f"{len(bad)} of {len(rows)} upload(s) not uploaded: {bad[0].status.value}, "
                f"{bad[0].error}"
            )
        if len(result.uploaded) != len(owed) or not owed:
            raise BenchmarkError(
                f"{len(owed)} file(s) owed, {len(result.uploaded)} uploaded, "
                f"{len(result.already)} 'already there'"
            )
        if not any(r.url for r in rows):
            raise BenchmarkError("no link was made for the job's output")
        self._check_and_remove({r.key: r.size for r in rows})
        return sample

    def plain(self, files: list[tuple[Path, str]]) -> Sample:
        """boto3 upload_file for each file, one after another; no verification."""

        def upload_all() -> None:
            for path, key in files:
                self.plain_client.upload_file(str(path), S3_BUCKET, key, Config=self.transfer)

        sample, _ = self._timed("baseline", upload_all)
        self._check_and_remove({key: path.stat().st_size for path, key in files})
        return sample

    def _check_and_remove(self, expected: dict[str, int]) -> None:
        """Untimed: the store holds exactly these objects at these sizes (so a
        broken upload cannot look fast); then empty the bucket for the next run."""
        stored: dict[str, int] = {}
        pages = self.plain_client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET)
        for page in pages:
            stored.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        if stored != expected:
            wrong = sorted(set(stored.items()) ^ set(expected.items()))[:3]
            raise BenchmarkError(f"the bucket does not hold what was uploaded: {wrong}")
        keys = [{"Key": key} for key in stored]
        for first in range(0, len(keys), 1000):
            self.plain_client.delete_objects(
                Bucket=S3_BUCKET, Delete={"Objects": keys[first : first + 1000], "Quiet": True}
            )

    # -- what is measured --------------------------------------------------------------

    def _measure(
        self, run_plain: Callable[[], None], run_ours: Callable[[], None], *lists: list[Sample]
    ) -> dict[str, list[float]]:
        """One untimed round of each side (imports, connection pools, moto's own
        first-use costs), then the alternated repeats; moto's CPU per run."""
        self.server_cpu = {"mediaforge": [], "baseline": []}
        _alternate(1, run_plain, run_ours)
        for samples in lists:
            samples.clear()
        measured: dict[str, list[float]] = {"mediaforge": [], "baseline": []}
        self.server_cpu = measured
        _alternate(self.sizes.s3_repeats, run_plain, run_ours)
        return measured

    def one_large_file(self) -> Report:
        from mediaforge.storage.s3.client import expected_etag

        sizes = self.sizes
        folder = self.ws.folder("large")
        current = [_random_file(folder / "film.mp4", sizes.s3_file_mib * MiB, self.rng)]
        ours: list[Sample] = []
        base: list[Sample] = []

        def run_ours() -> None:
            # A fresh name, so a fresh key: "already there" never applies.
            current[0] = current[0].rename(folder / f"film-{next(self.runs)}.mp4")
            ours.append(self.ours(current[0], "video"))

        def run_plain() -> None:
            base.append(self.plain([(current[0], f"plain/{next(self.runs)}/film.mp4")]))

        server = self._measure(run_plain, run_ours, ours, base)
        md5_walls = []
        for _ in range(3):
            start = time.perf_counter()
            expected_etag(
                current[0],
                threshold=self.settings.multipart_threshold_mb * MiB,
                part_size=self.settings.part_size_mb * MiB,
            )
            md5_walls.append(time.perf_counter() - start)

        size = sizes.s3_file_mib * MiB
        part = self.settings.part_size_mb * MiB
        parts = -(-size // part) if size >= self.settings.multipart_threshold_mb * MiB else 1
        what = (
            f"one {sizes.s3_file_mib} MiB file, {parts} parts of {self.settings.part_size_mb} MiB"
        )
        label = "boto3 upload_file, same TransferConfig"
        figures = _ratio_figures("s3-upload", what, ours, base, label, wall_target=1.5)
        added = median([o.wall - b.wall for o, b in zip(ours, base, strict=True)])
        notes = [
            f"s3-upload: verification adds {added:.2f} s to one {sizes.s3_file_mib} MiB upload "
            f"(median of back-to-back pairs); recomputing its multipart MD5 alone takes "
            f"{median(md5_walls):.2f} s; moto's server used "
            f"{_median_or_none(server['mediaforge'])} s CPU per mediaforge run and "
            f"{_median_or_none(server['baseline'])} s per plain run."
        ]
        details = {
            "file_bytes": size,
            "parts": parts,
            "multipart_threshold_mb": self.settings.multipart_threshold_mb,
            "part_size_mb": self.settings.part_size_mb,
            "concurrency": self.settings.concurrency,
            "added_wall": added,
            "md5_wall": md5_walls,
            "server_cpu": server,
        }
        return Report(figures, details, notes)

    def hls_folder(self, rtt: float) -> Report:
        sizes = self.sizes
        root = self.ws.folder(f"hls-{rtt * 1000:.0f}ms")
        current = [root / "clip.hls"]
        _hls_like_folder(current[0], sizes.s3_files, self.rng)
        files = sorted(p for p in current[0].rglob("*") if p.is_file())
        total_bytes = sum(p.stat().st_size for p in files)
        ours: list[Sample] = []
        base: list[Sample] = []

        def run_ours() -> None:
            current[0] = current[0].rename(root / f"clip-{next(self.runs)}.hls")
            ours.append(self.ours(current[0], "hls"))

        def run_plain() -> None:
            folder, prefix = current[0], f"plain/{next(self.runs)}/clip.hls"
            keys = [
                (p, f"{prefix}/{p.relative_to(folder).as_posix()}")
                for p in sorted(p for p in folder.rglob("*") if p.is_file())
            ]
            base.append(self.plain(keys))

        clients = [self.uploader.client.client, self.plain_client]
        with _round_trip(clients, rtt):
            server = self._measure(run_plain, run_ours, ours, base)
        n = len(files)
        where = f", {rtt * 1000:.0f} ms round trip" if rtt else ", local"
        what = f"HLS-like folder, {n} files, {total_bytes / MiB:.0f} MiB{where}"
        label = "boto3 upload_file per file, one after another"
        # Locally, client and server share two cores: parallel requests cannot
        # gain there, so only the figure with a round trip has a target.
        target = 1.0 if rtt else None
        figures = _ratio_figures("s3-upload", what, ours, base, label, wall_target=target)
        notes = [
            f"s3-upload{where}: per file of the folder, mediaforge "
            f"{median(_walls(ours)) / n * 1000:.1f} ms wall with {self.settings.concurrency} "
            f"files at a time, the plain loop {median(_walls(base)) / n * 1000:.1f} ms; "
            f"moto's server used {_median_or_none(server['mediaforge'])} s CPU per mediaforge "
            f"run and {_median_or_none(server['baseline'])} s per plain run."
        ]
        details = {
            "files": n,
            "bytes": total_bytes,
            "concurrency": self.settings.concurrency,
            "server_cpu": server,
        }
        return Report(figures, details, notes)


def _median_or_none(values: list[float]) -> str:
    return f"{median(values):.2f}" if values else "(unknown)"


# -- 8. scale-out: many workers on many hosts (see scaling.py) ------------------


def bench_scaling(sizes: Sizes) -> Report:
    """1 to 8 workers on 1 to 4 simulated hosts, jobs that take wall time, not CPU."""
    import scaling

    return Report(*scaling.bench_scaling(sizes.quick))


def bench_claim_overhead(sizes: Sizes) -> Report:
    """What the queue and the job database cost per job, on each backend."""
    import scaling

    return Report(*scaling.bench_claim_overhead(sizes.quick))

# The web door's and the health check's, in modules of their own; they import
# from this one inside their functions.
from health import bench_check  # noqa: E402
from serving import bench_serve, bench_serve_events  # noqa: E402

BENCHMARKS: dict[str, Callable[[Sizes], Report]] = {
    "run": bench_run,
    "hls-ladder": bench_hls_ladder,
    "remux": bench_remux,
    "job-overhead": bench_job_overhead,
    "submit": bench_submit,
    "startup": bench_startup,
    "watch-ingest": bench_watch_ingest,
    "jobs": bench_jobs,
    "s3-upload": bench_s3_upload,
    "scaling": bench_scaling,
    "claim-overhead": bench_claim_overhead,
    "serve": bench_serve,
    "serve-events": bench_serve_events,
    "check": bench_check,
}
