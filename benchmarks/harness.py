"""What every benchmark needs: a throwaway workspace, timed runs, medians, media.

The machine these run on is shared and noisy, so no single time means much:
every benchmark runs mediaforge and its baseline (plain ffmpeg, or the naive
way) in the same process, alternating them, and reports medians and ratios.
CPU time is the user+sys time of a child and every descendant it waited for
(``RUSAGE_CHILDREN`` deltas), so mediaforge's own ffmpeg and ffprobe
children count on its side.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml


class BenchmarkError(Exception):
    """A benchmark could not measure what it meant to (a command failed, a check did not hold)."""


def _find_mediaforge() -> str:
    beside = Path(sys.executable).with_name("mediaforge")
    if beside.exists():
        return str(beside)
    found = shutil.which("mediaforge")
    if found is None:
        raise BenchmarkError(
            "the 'mediaforge' command is not installed for this Python; "
            "run the benchmarks with the interpreter of mediaforge's virtualenv"
        )
    return found


MEDIAFORGE = _find_mediaforge()
# How mediaforge.media.probe.probe runs ffprobe (input probe and output verification).
FFPROBE = ("ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json")


@dataclass(frozen=True)
class Sample:
    """One timed run."""

    wall: float  # seconds
    cpu: float  # user + sys seconds of the child and its waited-for descendants

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.wall + other.wall, self.cpu + other.cpu)


ZERO = Sample(0.0, 0.0)


def total(samples: Sequence[Sample]) -> Sample:
    return sum(samples, ZERO)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def timed(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path
) -> tuple[Sample, subprocess.CompletedProcess[str]]:
    """Run ``argv`` to the end; its wall and CPU time, and what it printed.

    Not thread-safe: CPU time is a delta of this process's RUSAGE_CHILDREN.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise BenchmarkError(f"{shlex.join(argv)}\nexited with {done.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu), done


def ffmpeg_version() -> str:
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[0]


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def synthesize(
    path: Path,
    *,
    seconds: float,
    size: str = "320x240",
    fps: int = 25,
    video: Sequence[str] = ("-c:v", "mpeg4", "-q:v", "4"),
    muxer: str = "mp4",
    extra: Sequence[str] = (),
) -> Path:
    """Make a clip with lavfi: testsrc2 picture and a sine tone in AAC."""
    timed(
        [
            "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
            *video, "-c:a", "aac", "-b:a", "128k", *extra, "-f", muxer,
            f"file:{path}",
        ],
        env=dict(os.environ), cwd=path.parent,
    )  # fmt: skip
    return path


def builtin_preset(name: str) -> dict[str, Any]:
    """The YAML of a built-in preset, as data (to derive benchmark presets from)."""
    from importlib.resources import files

    builtin = files("mediaforge.presets").joinpath("builtin")
    text = builtin.joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


_bytecode_cache: Path | None = None


def use_bytecode_cache(folder: Path) -> None:
    """Have every Python the benchmarks start keep its bytecode in ``folder``.

    An installed mediaforge has .pyc files. A development shell may set
    PYTHONDONTWRITEBYTECODE, and then every run would compile mediaforge
    again (~60 ms a command here); a private PYTHONPYCACHEPREFIX measures
    installed behaviour without writing into the source tree.
    """
    global _bytecode_cache
    _bytecode_cache = folder


@dataclass(frozen=True)
class PresetCommand:
    """What ``mediaforge presets show NAME --input FILE`` says would run."""

    action: str  # transcode, remux, ...
    argv: list[str]
    cwd: Path | None  # HLS runs inside its temporary folder


class Workspace:
    """A temporary folder with its own data dir, config and presets; removed on close.

    Nothing outside it is read or written: MEDIAFORGE_DATA_DIR, MEDIAFORGE_CONFIG
    and the XDG folders all point inside.
    """

    def __init__(self, name: str, worker: dict[str, Any] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"mediaforge-bench-{name}-"))
        self.presets = self.folder("presets")
        config: dict[str, Any] = {"presets_dir": str(self.presets)}
        if worker:
            config["worker"] = worker
        config_file = self.root / "config.yaml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFORGE_")}
        if _bytecode_cache is not None:
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
            self.env["PYTHONPYCACHEPREFIX"] = str(_bytecode_cache)
        self.env.update(
            MEDIAFORGE_CONFIG=str(config_file),
            XDG_CONFIG_HOME=str(self.folder("xdg-config")),
            XDG_DATA_HOME=str(self.folder("xdg-data")),
            XDG_CACHE_HOME=str(self.folder("xdg-cache")),
        )
        self.use_data_dir("data")

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def use_data_dir(self, name: str) -> Path:
        """Point mediaforge at a fresh job database and queue under ``name``."""
        data = self.folder(name)
        self.env["MEDIAFORGE_DATA_DIR"] = str(data)
        return data

    def run(self, argv: Sequence[str], cwd: Path | None = None) -> Sample:
        sample, _ = timed(argv, env=self.env, cwd=cwd or self.root)
        return sample

    def mediaforge(self, *args: str) -> tuple[Sample, subprocess.CompletedProcess[str]]:
        return timed([MEDIAFORGE, *args], env=self.env, cwd=self.root)

    def add_preset(self, data: dict[str, Any]) -> str:
        (self.presets / f"{data['name']}.yaml").write_text(yaml.safe_dump(data), "utf-8")
        return str(data["name"])

    def preset_command(self, preset: str, input_path: Path, output_dir: Path) -> PresetCommand:
        """The exact ffmpeg command mediaforge would run, from ``presets show``."""
        _, done = self.mediaforge(
            "presets", "show", preset, "--input", str(input_path), "--output-dir", str(output_dir),
            "--exact",
        )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        header, line = lines[0], lines[-1]
        if not header.startswith("# ") or ":" not in header:
            raise BenchmarkError(f"unexpected 'presets show' output:\n{done.stdout}")
        action = header[2:].split(":", 1)[0]
        # HLS reads "mkdir -p DIR && cd DIR && ffmpeg ...".
        steps: list[list[str]] = [[]]
        for token in shlex.split(line):
            if token == "&&":
                steps.append([])
            else:
                steps[-1].append(token)
        cwd = next((Path(step[1]) for step in steps if step[0] == "cd"), None)
        return PresetCommand(action, steps[-1], cwd)


def clear(folder: Path) -> None:
    """Empty ``folder`` (outputs of the last run) and keep it."""
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@dataclass
class Figure:
    """One row of the results table."""

    benchmark: str
    measure: str
    ours: float  # median seconds, mediaforge's side
    baseline: float | None  # median seconds of the baseline
    baseline_label: str
    value: float  # what the target is about
    unit: str  # "x" (ratio ours/baseline), "s", "ms/job"
    target: float | None = None  # value must be <= target
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def figure_value(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "s":
        return seconds(value)
    return f"{value:.1f} {unit}"


def markdown_table(figures: Sequence[Figure]) -> str:
    rows = [
        "| benchmark | measure | mediaforge (median) | baseline (median) | result | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        # Times are shown as times; a figure in other units (MiB) in its own.
        show = seconds if f.unit in ("x", "s") or f.unit.startswith("ms") else (
            lambda v, unit=f.unit: figure_value(v, unit)
        )
        baseline = "" if f.baseline is None else f"{show(f.baseline)} ({f.baseline_label})"
        target = "" if f.target is None else f"<= {figure_value(f.target, f.unit)}"
        met = {None: "", True: "yes", False: "**no**"}[f.met]
        result = figure_value(f.value, f.unit) + (f" ({f.note})" if f.note else "")
        rows.append(
            f"| {f.benchmark} | {f.measure} | {show(f.ours)} | {baseline} | {result} "
            f"| {target} | {met} |"
        )
    return "\n".join(rows)
