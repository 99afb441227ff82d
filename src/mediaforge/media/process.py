"""Running ffmpeg: progress, cancellation, stall detection and clean deaths.

ffmpeg-python's ``run`` has no timeout and leaves stderr in a pipe nobody
reads (a chatty ffmpeg then blocks forever once 64 KiB are waiting), so every
ffmpeg that mediaforge starts goes through :func:`run_ffmpeg` instead:

* the child runs in its own session, so one ``killpg`` ends it and anything
  it started, and a Ctrl-C on the terminal reaches us, not ffmpeg;
* ``-progress pipe:1`` is parsed into :class:`Progress` updates;
* stderr is drained by a thread into a bounded tail;
* the calling thread polls ``should_stop`` and watches for stalls;
* whatever happens, the process group is killed and reaped before
  :func:`run_ffmpeg` returns or raises, and on Linux the child is also
  killed if the Python process itself dies (``kill -9``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from mediaforge.errors import EnvironmentProblem, FFmpegError, Interrupted
from mediaforge.units import parse_clock

# Global options, valid before the inputs. "-progress pipe:1" makes ffmpeg
# write key=value blocks on stdout (every 0.5 s by default, plus a final
# block); "-nostats" drops the human progress line from stderr.
GLOBAL_OPTIONS: Final = (
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-loglevel",
    "warning",
    "-progress",
    "pipe:1",
    "-y",
)

REASON_MAX_CHARS: Final = 200


def media_path(path: Path) -> str:
    """Return ``path`` as an ffmpeg/ffprobe URL that can only mean a local file.

    ffmpeg reads a name like ``-x.mp4`` as an option, ``http:foo.mp4`` as a
    URL, and ``%`` as an image-sequence pattern. The ``file:`` protocol with an
    absolute path takes the rest of the string literally.
    """
    return "file:" + os.path.abspath(path)


@dataclass(frozen=True)
class Progress:
    """One ``-progress`` block from a running ffmpeg."""

    out_time: float  # seconds of output written so far
    speed: float | None  # x realtime as ffmpeg reports it; None while N/A
    frame: int | None  # None when the outputs have no video
    ended: bool  # ffmpeg wrote progress=end: this is its last block


@dataclass(frozen=True)
class ProcessResult:
    """How a successful ffmpeg run went."""

    returncode: int
    stderr_tail: str  # the last lines ffmpeg wrote on stderr
    elapsed: float  # wall seconds


def run_ffmpeg(
    args: Sequence[str],
    *,
    ffmpeg: str = "ffmpeg",
    cwd: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
    stall_timeout: float | None = None,
    poll_interval: float = 0.25,
    tail_lines: int = 60,
) -> ProcessResult:
    """Run ffmpeg with ``args`` (no program name) and wait for it to finish.

    :data:`GLOBAL_OPTIONS` are put before ``args``; callers pass inputs and
    outputs as :func:`media_path` URLs and an explicit ``-f FORMAT`` for each
    output. ``on_progress`` and ``should_stop`` are called in the calling
    thread. ``should_stop`` returning a reason kills ffmpeg and raises
    :class:`Interrupted`. If the output time does not advance for
    ``stall_timeout`` seconds (counted from the start until the first
    progress) and no more frames went into the encoders, ffmpeg is killed and
    :class:`FFmpegError` raised. ffmpeg reports progress every 0.5 s, so a
    stall timeout under ~2 s means little.

    Raises :class:`FFmpegError` on a non-zero exit (one-line message, stderr
    tail in ``log_tail``) and :class:`EnvironmentProblem` if ffmpeg cannot be
    started.
    """
    command = [ffmpeg, *GLOBAL_OPTIONS, *args]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
    except (FileNotFoundError, PermissionError) as exc:
        if exc.filename != ffmpeg:
            raise  # cwd is missing: a bug in the caller, not a broken install
        raise EnvironmentProblem(
            f"ffmpeg not found: '{ffmpeg}'. Install it (Debian/Ubuntu: apt install ffmpeg)"
            " or set 'ffmpeg:' in the config file"
        ) from None

    assert proc.stdout is not None and proc.stderr is not None
    updates: queue.Queue[Progress | None] = queue.Queue()  # None: stdout closed
    tail: deque[str] = deque(maxlen=tail_lines)
    readers = [
        threading.Thread(
            target=_read_progress, args=(proc.stdout, updates), name="ffmpeg-progress", daemon=True
        ),
        threading.Thread(
            target=_read_tail, args=(proc.stderr, tail), name="ffmpeg-stderr", daemon=True
        ),
    ]
    for reader in readers:
        reader.start()

    try:
        _wait(
            proc,
            updates,
            tail,
            started=started,
            on_progress=on_progress,
            should_stop=should_stop,
            stall_timeout=stall_timeout,
            poll_interval=poll_interval,
        )
    finally:
        # Also on KeyboardInterrupt, or an exception from a callback.
        _kill_group(proc)
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()

    stderr_tail = "\n".join(tail)
    returncode = proc.returncode
    if returncode < 0:
        name = _signal_name(-returncode)
        reason = last_error_line(tail)
        raise FFmpegError(
            f"ffmpeg was killed by {name}, not by mediaforge" + (f": {reason}" if reason else ""),
            stderr_tail,
        )
    if returncode != 0:
        reason = last_error_line(tail) or "no error message"
        raise FFmpegError(f"ffmpeg exited with code {returncode}: {reason}", stderr_tail)
    return ProcessResult(returncode, stderr_tail, time.monotonic() - started)


def _wait(
    proc: subprocess.Popen[bytes],
    updates: queue.Queue[Progress | None],
    tail: deque[str],
    *,
    started: float,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], str | None] | None,
    stall_timeout: float | None,
    poll_interval: float,
) -> None:
    """Deliver progress and watch for stop requests and stalls until ffmpeg exits."""
    last_advance = started
    best = (-1.0, -1)  # (out_time, frame) seen so far
    stdout_closed = False
    # Exit only once stdout is drained: the final progress=end block comes
    # before EOF, and ffmpeg may exit before we have read it.
    while not (stdout_closed and proc.poll() is not None):
        if stdout_closed:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=poll_interval)
        else:
            try:
                update = updates.get(timeout=poll_interval)
            except queue.Empty:
                pass
            else:
                if update is None:
                    stdout_closed = True
                else:
                    # out_time counts muxed output, which stands still while an
                    # encoder with lookahead (x264: 40 frames) fills up, so
                    # frames fed to the encoder count as progress too.
                    frame = update.frame if update.frame is not None else -1
                    if update.out_time > best[0] or frame > best[1]:
                        best = (max(update.out_time, best[0]), max(frame, best[1]))
                        last_advance = time.monotonic()
                    if on_progress is not None:
                        on_progress(update)

        if should_stop is not None and (reason := should_stop()) is not None:
            _kill_group(proc)
            raise Interrupted(f"ffmpeg stopped: {reason}", reason)
        if stall_timeout is not None and time.monotonic() - last_advance > stall_timeout:
            _kill_group(proc)
            raise FFmpegError(
                f"ffmpeg made no progress for {stall_timeout:g} s and was killed", "\n".join(tail)
            )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ffmpeg's process group and reap ffmpeg; a no-op once it is reaped."""
    # Until we reap ffmpeg its pid (and so its group id) cannot be reused,
    # even if it has already exited, so this never hits a stranger.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _read_progress(stream: IO[bytes], updates: queue.Queue[Progress | None]) -> None:
    """Parse ``-progress`` blocks from ``stream`` into ``updates``; put None at EOF."""
    parser = _ProgressParser()
    try:
        for raw in stream:
            progress = parser.feed(raw.decode("ascii", errors="replace"))
            if progress is not None:
                updates.put(progress)
    except (OSError, ValueError):
        pass  # the pipe was closed under us while killing ffmpeg
    finally:
        updates.put(None)


def _read_tail(stream: IO[bytes], tail: deque[str]) -> None:
    """Keep draining ``stream`` so ffmpeg never blocks on a full pipe; keep the tail."""
    try:
        while raw := stream.readline(16384):
            tail.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    except (OSError, ValueError):
        pass


class _ProgressParser:
    """Turns ``key=value`` lines into a :class:`Progress` at each ``progress=`` line."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}
        self._out_time = 0.0

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key] = value.strip()
            return None
        fields, self._fields = self._fields, {}
        out_time = _out_time(fields)
        if out_time is not None:
            self._out_time = out_time
        return Progress(
            out_time=self._out_time,
            speed=_speed(fields.get("speed", "")),
            frame=_int_or_none(fields.get("frame", "")),
            ended=value.strip() == "end",
        )


def _out_time(fields: dict[str, str]) -> float | None:
    """Output time in seconds from a progress block; None while ffmpeg says N/A."""
    # out_time_ms is in microseconds too (a long-standing ffmpeg misnomer).
    for key in ("out_time_us", "out_time_ms"):
        micros = _int_or_none(fields.get(key, ""))
        if micros is not None:
            return max(micros, 0) / 1_000_000
    seconds = parse_clock(fields.get("out_time", ""))
    # ffmpeg reports negative times before the first output timestamp
    return None if seconds is None else max(seconds, 0.0)


def _speed(value: str) -> float | None:
    """``1.5x`` -> 1.5; ``N/A`` -> None."""
    try:
        return float(value.removesuffix("x"))
    except ValueError:
        return None


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


# Lines ffmpeg prints after the real error, which say only that something failed.
_GENERIC_LINES: Final = re.compile(
    r"Conversion failed!"
    r"|Error initializing output stream .*"
    r"|Error while processing the decoded data for stream .*"
    r"|Failed to inject frame into filter network.*"
    r"|Error reinitializing filters!"
    r"|Error initializing complex filters.*"
    r"|Could not write header for output file .*"
    r"|Error closing progress log.*"
    r"|Exiting normally, received signal .*"
    # An encoder closed early because another one failed to open (aac after x264).
    r"|\d+ frames left in the queue on closing"
)
# "[mp4 @ 0x55d3c7340ac0] msg": which ffmpeg component spoke, for its developers.
_CONTEXT: Final = re.compile(r"(?:\[[^\]]* @ 0x[0-9a-fA-F]+\] )+")
_FILE_URL: Final = re.compile(r"(?<![\w:])file:(?=/)")


def last_error_line(lines: Iterable[str], limit: int = REASON_MAX_CHARS) -> str:
    """The last stderr line that says what went wrong, cleaned up for users.

    Skips the generic trailers ffmpeg prints after the real error ("Conversion
    failed!"), drops the ``[component @ 0x...]`` prefixes and the ``file:``
    prefix of :func:`media_path`, and trims to ``limit`` characters. Returns
    "" when there is no such line.
    """
    for line in reversed(list(lines)):
        cleaned = clean_line(line)
        if cleaned and not _GENERIC_LINES.fullmatch(cleaned):
            return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
    return ""


def clean_line(line: str) -> str:
    """An ffmpeg/ffprobe stderr line without its ``[component @ 0x...]`` and ``file:`` prefixes."""
    line = _CONTEXT.sub("", line.strip())
    return _FILE_URL.sub("", line)


# Linux only: have the kernel SIGKILL ffmpeg when its parent dies. ffmpeg
# ignores SIGPIPE; when the progress pipe's reader is gone it notices EPIPE
# only at its next progress write, then finishes the output and exits (about
# 2 s in our measurements), and an ffmpeg blocked on an input that never
# delivers (a FIFO, a hung NAS) writes nothing and never notices at all.
_PR_SET_PDEATHSIG: Final = 1
_prctl: Callable[..., int] | None = None
if sys.platform == "linux":
    # Looked up now: the dynamic linker takes locks, and after fork() in a
    # threaded parent the child must not wait on a lock another thread held.
    _prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with its parent (Linux), else None.

    Caveat: PDEATHSIG fires when the *thread* that forked the child exits, not
    the process. That is fine here: run_ffmpeg waits for ffmpeg in the thread
    that started it, and worker threads live as long as the worker.
    """
    prctl = _prctl
    if prctl is None:
        return None

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died between fork() and prctl(): then we have
        # already been adopted and the death signal will never come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal


def ensure_programs(ffmpeg: str, ffprobe: str, timeout: float = 30.0) -> None:
    """Raise :class:`EnvironmentProblem` (see :func:`program_version`) unless
    ffmpeg and ffprobe both start and answer ``-version``.

    A worker checks this before it takes any job: one that cannot run them
    would fail every job it took, jobs that another host could run.
    """
    for key, program in (("ffmpeg", ffmpeg), ("ffprobe", ffprobe)):
        program_version(key, program, timeout)


def program_version(key: str, program: str, timeout: float = 30.0) -> str:
    """The first line ``program -version`` prints (``ffmpeg version 5.1...``);
    :class:`EnvironmentProblem` in one line naming the program and its config
    ``key`` when it is missing, cannot run, fails or hangs."""
    fix = f"Install it (Debian/Ubuntu: apt install ffmpeg) or set '{key}:' in the config file"
    try:
        done = subprocess.run(
            [program, "-hide_banner", "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (FileNotFoundError, NotADirectoryError):
        raise EnvironmentProblem(f"{key} not found: '{program}'. {fix}") from None
    except OSError as exc:  # not executable, not a program at all
        reason = exc.strerror or str(exc)
        raise EnvironmentProblem(f"{key} cannot run: '{program}' ({reason}). {fix}") from None
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(
            f"{key} did not answer '-version' within {timeout:g} s: '{program}'. {fix}"
        ) from None
    if done.returncode != 0:
        said = last_error_line(done.stderr.decode("utf-8", errors="replace").splitlines())
        ended = (
            f"was killed by {_signal_name(-done.returncode)}"  # SIGILL: built for newer CPUs
            if done.returncode < 0
            else f"exited with code {done.returncode}"
        )
        detail = f": {said}" if said else ""
        raise EnvironmentProblem(f"{key} does not run: '{program}' {ended}{detail}. {fix}")
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    return lines[0] if lines else "?"


def spawn(command: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start a long-running ffmpeg or ffprobe (not through :func:`run_ffmpeg`) with
    the same care: its own session, dying with us, stdout and stderr piped.

    The caller drains both pipes and ends it with :func:`kill_group`.
    """
    return subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=die_with_parent(os.getpid()),
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a :func:`spawn` child's process group and reap it; a no-op once reaped."""
    _kill_group(proc)
