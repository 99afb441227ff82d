"""The benchmarks: each measures mediaforge against plain ffmpeg (or the naive
way) in the same run, alternating the two, and returns table rows."""

from __future__ import annotations

import copy
import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

PROBES_PER_JOB = 3


def bench_job_overhead(sizes: Sizes) -> Report:
    """N one-second jobs through `submit` + `worker --burst` vs N raw ffmpeg runs
    of the same commands, and vs those plus the ffprobe runs mediaforge makes
    per job: `submit` probes the input (to refuse non-media before a job
    exists), the worker probes it again (to plan) and probes the output (to
    verify it)."""
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
            # ffprobe the input (submit), again (worker), ffmpeg, ffprobe the output.
            ffmpegs, probes = [], []
            for path, command in zip(paths, raw_commands, strict=True):
                probes += [ws.run([*FFPROBE, f"file:{path}"]) for _ in range(2)]
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
            "wall", f"{what}: wall beyond raw ffmpeg", ours, raw_runs, f"{n} ffmpeg runs", n, 30.0
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
    from mediaforge.config import load_config
    from mediaforge.jobs import JobRow, JobStore

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


BENCHMARKS: dict[str, Callable[[Sizes], Report]] = {
    "run": bench_run,
    "hls-ladder": bench_hls_ladder,
    "remux": bench_remux,
    "job-overhead": bench_job_overhead,
    "submit": bench_submit,
    "jobs": bench_jobs,
}
