"""Health checks: is a media file whole? (``mediaforge check``, watch rules' ``check:``)

A *quick* check is a probe: ffprobe must read the file, find streams and a
duration. A *thorough* check decodes every frame of every stream and counts
the errors the decoders and the demuxer log, as a player would meet them.

The time of the first error comes from ffprobe itself: with ``-show_log``
ffprobe attaches each log message to the frame it was decoding, so one
line-oriented stream (``-of flat`` on stdout) holds frames and errors in
order. ffmpeg's ``-progress`` reports only every half second of wall time,
far too coarsely for a decoder running at 100x realtime, and its stderr has
no timestamps unless every packet is logged too.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import threading
from collections.abc import Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Final

from mediaforge.errors import EnvironmentProblem, FFmpegError, InputError, Interrupted
from mediaforge.media.probe import MediaInfo, probe
from mediaforge.media.process import (
    REASON_MAX_CHARS,
    clean_line,
    kill_group,
    last_error_line,
    media_path,
    spawn,
)

# AV_LOG_ERROR: what ``ffmpeg -v error`` shows (errors, fatal errors, panics).
# Warnings ("Packet corrupt" while probing, timestamp hiccups) do not count.
ERROR_LEVEL: Final = 16

# -of flat prints one value a line: frames.frame.12.best_effort_timestamp_time="1.52",
# frames.frame.12.logs.log.0.level=16, frames.frame.12.logs.log.0.message="...".
_FLAT_LINE: Final = re.compile(r'([\w.]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))')
_ESCAPED: Final = re.compile(r"\\(.)")


class CheckKind(StrEnum):
    """How hard a health check looks."""

    QUICK = "quick"  # a probe: streams and a duration
    THOROUGH = "thorough"  # every frame decoded


@dataclass(frozen=True)
class HealthReport:
    """The outcome of checking one file."""

    path: Path
    kind: CheckKind
    ok: bool
    errors: int  # error messages counted (a failed probe counts one)
    first_error: str | None  # the first error, one line
    first_error_time: float | None  # seconds from the start of the file; None if unknown
    duration: float | None  # seconds, as probed

    @property
    def problem(self) -> str:
        """What is wrong, in one line: ``2 errors, first at 0:00:00.983: MESSAGE``."""
        if self.ok:
            return ""
        count = f"{self.errors} error{'' if self.errors == 1 else 's'}"
        where = ""
        if self.first_error_time is not None:
            where = f", first at {clock(self.first_error_time)}"
        return f"{count}{where}: {self.first_error}"

    def to_dict(self) -> dict[str, Any]:
        """The report as ``mediaforge check --json`` prints it."""
        return {
            "path": str(self.path),
            "check": self.kind.value,
            "ok": self.ok,
            "errors": self.errors,
            "first_error": self.first_error,
            "first_error_time": self.first_error_time,
            "duration": self.duration,
        }


def check_file(
    path: Path,
    kind: CheckKind,
    *,
    ffprobe: str = "ffprobe",
    timeout: float = 30.0,
    decoders: Decoders | None = None,
) -> HealthReport:
    """Check ``path``; a file that is missing, not media or damaged is a report
    with ``ok`` False, not an exception.

    The probe is bounded by ``timeout``; decoding every frame is not (it takes
    as long as the file takes to decode): ``decoders`` lets another thread end it.

    Raises :class:`FFmpegError` when the probe takes longer than ``timeout``
    (a slow or hung share) or the decoding ffprobe is killed: worth another
    try, not a verdict on the file; and :class:`EnvironmentProblem` when
    ffprobe cannot be started.
    """
    try:
        info = probe(path, ffprobe=ffprobe, timeout=timeout)
    except InputError as exc:  # missing, unreadable, not media (ProbeError is one)
        return HealthReport(path, kind, False, 1, str(exc), None, None)
    if _still_image(info):
        # A picture has no duration: one frame, probed (and decoded) whole.
        if kind is CheckKind.QUICK:
            return HealthReport(path, kind, True, 0, None, None, 0.0)
        return _decode_all(path, 0.0, ffprobe, decoders or Decoders())
    if info.duration is None or info.duration <= 0:
        reason = (
            f"no duration: ffprobe finds streams in {path} but not how long it is; "
            "it may be truncated or still being written"
        )
        return HealthReport(path, kind, False, 1, reason, None, info.duration)
    if kind is CheckKind.QUICK:
        return HealthReport(path, kind, True, 0, None, None, info.duration)
    return _decode_all(path, info.duration, ffprobe, decoders or Decoders())


def check_files(
    paths: Iterable[Path],
    kind: CheckKind,
    *,
    ffprobe: str = "ffprobe",
    timeout: float = 30.0,
    parallel: int | None = None,
) -> Generator[HealthReport, None, None]:
    """Check ``paths``, several at once, and yield their reports in the order given.

    ``parallel`` bounds the checks running at once (default: one per CPU core;
    a thorough check keeps about one core busy). A probe that times out is a
    failed report here, naming the timeout: the caller is a person waiting.
    """
    workers = parallel or os.cpu_count() or 1
    decoders = Decoders()

    def one(path: Path) -> HealthReport:
        try:
            return check_file(path, kind, ffprobe=ffprobe, timeout=timeout, decoders=decoders)
        except FFmpegError as exc:
            return HealthReport(path, kind, False, 1, str(exc), None, None)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check")
    try:
        yield from pool.map(one, paths)
    finally:
        # Closed early (Ctrl-C, an error): end the decodes still running rather
        # than wait for them; they run in sessions of their own, which Ctrl-C misses.
        decoders.stop()
        pool.shutdown(wait=True, cancel_futures=True)


class Decoders:
    """The decoding ffprobe processes of running checks, so that they can be ended at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called: a check that failed since says nothing."""
        return self._stopped

    def start(self, command: list[str]) -> subprocess.Popen[bytes]:
        """:func:`spawn` ``command``; raises :class:`Interrupted` after :meth:`stop`."""
        with self._lock:
            if self._stopped:
                raise Interrupted("the health check was stopped", "stopped")
            proc = spawn(command)
            self._running.add(proc)
            return proc

    def done(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)
        kill_group(proc)

    def stop(self) -> None:
        """Kill every running decode; later ones do not start."""
        with self._lock:  # held: done() reaps a process only once it left the set
            self._stopped = True
            for proc in self._running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)


def _still_image(info: MediaInfo) -> bool:
    """A picture file (PNG, JPEG, WebP...): one video stream in an image
    container, which no duration describes."""
    image_format = info.format_name == "image2" or info.format_name.endswith("_pipe")
    return image_format and len(info.streams) == 1 and info.streams[0].kind == "video"


def _decode_all(path: Path, duration: float, ffprobe: str, decoders: Decoders) -> HealthReport:
    """Decode every frame of ``path`` with ffprobe; count errors and place the first."""
    command = [
        ffprobe, "-hide_banner",
        # "repeat": count every error, not "Last message repeated N times".
        "-v", "repeat+error", "-pattern_type", "none", "-show_log", str(ERROR_LEVEL),
        "-show_entries", "frame=best_effort_timestamp_time:log=level,message:format=start_time",
        "-of", "flat", media_path(path),
    ]  # fmt: skip
    try:
        proc = decoders.start(command)
    except (FileNotFoundError, PermissionError):
        raise EnvironmentProblem(
            f"ffprobe not found: '{ffprobe}'. Install it (Debian/Ubuntu: apt install ffmpeg)"
            " or set 'ffprobe:' in the config file"
        ) from None
    assert proc.stdout is not None and proc.stderr is not None
    stderr = _StderrCounter()
    reader = threading.Thread(
        target=stderr.drain, args=(proc.stderr,), name="check-stderr", daemon=True
    )
    reader.start()
    frames = _FrameLog()
    try:
        for raw in proc.stdout:
            frames.feed(raw.decode("utf-8", errors="replace"))
        proc.wait()
    finally:
        decoders.done(proc)
        reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()

    if proc.returncode < 0:  # killed (out of memory, an operator): no verdict on the file
        raise FFmpegError(
            f"ffprobe was killed by signal {-proc.returncode} while decoding {path}; "
            "check it again",
            "\n".join(stderr.lines),
        )
    errors = max(frames.errors, stderr.count)
    first_error, first_time = frames.first_error, frames.first_time
    if first_error is None and stderr.first:
        # ffprobe prints a log message with the next frame it shows: one that
        # no frame carried came after the last frame (a file cut short).
        first_error, first_time = stderr.first, frames.last_time
    if proc.returncode != 0:
        errors = max(errors, 1)
        first_error = first_error or (
            last_error_line(stderr.lines) or f"ffprobe exited with code {proc.returncode}"
        )
    if first_time is not None:
        first_time = round(max(0.0, first_time - (frames.start_time or 0.0)), 3)
    return HealthReport(
        path, CheckKind.THOROUGH, errors == 0, errors, _short(first_error), first_time, duration
    )


class _FrameLog:
    """Follows ffprobe's ``-of flat`` output: the frame times and the errors logged in them."""

    def __init__(self) -> None:
        self.errors = 0
        self.first_error: str | None = None
        self.first_time: float | None = None
        self.start_time: float | None = None
        self.last_time: float | None = None  # the newest frame's time
        self._level = ERROR_LEVEL

    def feed(self, line: str) -> None:
        match = _FLAT_LINE.match(line)
        if match is None:
            return  # the rest of a log message that held a newline
        key = match[1]
        value = _ESCAPED.sub(r"\1", match[2]) if match[2] is not None else match[3]
        field = key.rpartition(".")[2]
        if key.startswith("frames.frame."):
            if field == "best_effort_timestamp_time":
                # A frame without a timestamp ("N/A") is as far as the one before.
                self.last_time = _seconds(value) if _seconds(value) is not None else self.last_time
            elif field == "level":
                self._level = int(value) if value.lstrip("-").isdigit() else ERROR_LEVEL
            elif field == "message" and self._level <= ERROR_LEVEL:
                self.errors += 1
                if self.first_error is None:
                    self.first_error, self.first_time = clean_line(value), self.last_time
        elif key == "format.start_time":
            self.start_time = _seconds(value)


class _StderrCounter:
    """Drains ffprobe's stderr (so it never blocks on a full pipe), counting its lines."""

    def __init__(self, keep: int = 20) -> None:
        self.count = 0
        self.first: str | None = None
        self.lines: list[str] = []
        self._keep = keep

    def drain(self, stream: IO[bytes]) -> None:
        try:
            while raw := stream.readline(16384):
                line = clean_line(raw.decode("utf-8", errors="replace"))
                if not line:
                    continue
                self.count += 1
                if self.first is None:
                    self.first = line
                self.lines = [*self.lines[-self._keep + 1 :], line]
        except (OSError, ValueError):
            pass  # the pipe was closed under us


def _seconds(value: str) -> float | None:
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _short(line: str | None) -> str | None:
    if line is None or len(line) <= REASON_MAX_CHARS:
        return line
    return line[: REASON_MAX_CHARS - 1] + "…"


def clock(seconds: float) -> str:
    """``83.5`` -> ``0:01:23.500``: where to seek in a player."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
