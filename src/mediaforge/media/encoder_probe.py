"""Does a hardware encoder work on this host? A test encode of one tiny
frame answers, once per host: the answers are kept in ``encoders.json`` in the
data folder, for ``encoders.cache_ttl`` seconds and only for the ffmpeg binary
that gave them (its path, size and modification time: an upgraded ffmpeg asks
again). ``mediaforge doctor`` shows them.

A test encode can pass while real jobs fail (a GPU out of sessions or memory,
a driver that breaks on real sizes). Those failures are counted per worker
process (:class:`EncoderHealth`): after ``encoders.max_failures`` an encoder is
not used again until the worker restarts. The cache is not changed by them, so
a restart tries the hardware again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from mediaforge.config.schema import Config
from mediaforge.errors import EnvironmentProblem
from mediaforge.media.encoders import HardwareKind, device_args
from mediaforge.media.process import clean_line
from mediaforge.presets.model import HARDWARE_FAMILIES

log = logging.getLogger(__name__)

CACHE_FILE = "encoders.json"
# Big enough for every hardware encoder's minimum size (NVENC's HEVC wants
# more than 64 pixels a side), small enough to take milliseconds.
TEST_SOURCE = "color=s=256x256:d=0.04"


@dataclass(frozen=True)
class EncoderStatus:
    """One encoder on this host: usable or not, and why."""

    encoder: str
    ok: bool
    reason: str  # one line: "test encode passed", "Cannot load libcuda.so.1", ...
    checked_at: float

    def describe(self) -> str:
        return f"{self.encoder} works" if self.ok else f"{self.encoder} unavailable ({self.reason})"


def ffmpeg_identity(ffmpeg: str) -> str:
    """The installed ffmpeg binary, as the cache knows it: a change of binary,
    size or modification time (an upgrade) makes every cached answer stale."""
    path = shutil.which(ffmpeg)
    if path is None:
        return f"{ffmpeg} (not found)"
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real} {st.st_size} {st.st_mtime_ns}"


class FFmpegDoesNotRun(EnvironmentProblem):
    """``ffmpeg -encoders`` could not be run; the message is the reason, one line."""


def compiled_encoders(ffmpeg: str, timeout: float) -> set[str]:
    """The encoders this ffmpeg build has (``ffmpeg -encoders``). Raises
    FFmpegDoesNotRun when ffmpeg is missing, cannot be started or hangs."""
    try:
        out = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FFmpegDoesNotRun(f"'{ffmpeg} -encoders' took over {timeout:g} s") from None
    except OSError as exc:
        raise FFmpegDoesNotRun(f"cannot run {ffmpeg}: {exc.strerror or exc}") from None
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "V":
            names.add(parts[1])
    return names


def test_encode_args(encoder: str, vaapi_device: str) -> list[str]:
    """The ffmpeg arguments of the one-frame test encode of ``encoder``."""
    vaapi = encoder.endswith(HardwareKind.VAAPI.value)
    return [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *(device_args(vaapi_device) if vaapi else []),
        "-f",
        "lavfi",
        "-i",
        TEST_SOURCE,
        "-frames:v",
        "1",
        *(["-vf", "format=nv12,hwupload"] if vaapi else []),
        "-c:v",
        encoder,
        "-f",
        "null",
        "-",
    ]


# ffmpeg's generic closing lines: they say that it failed, not why.
_GENERIC = ("Conversion failed", "Error initializing output stream", "Error parsing global")


def failure_reason(stderr: str) -> str:
    """Why an encoder did not start: the first line ffmpeg logged at level
    error (the cause; later lines are its consequences), without the
    ``[h264_nvenc @ 0x...]`` prefix."""
    for line in stderr.splitlines():
        line = clean_line(line)
        if line and not line.startswith(_GENERIC):
            return line.rstrip(".")
    return "ffmpeg gave no reason"


def test_encode(ffmpeg: str, encoder: str, vaapi_device: str, timeout: float) -> EncoderStatus:
    """Encode one tiny frame with ``encoder``; a hung driver counts as a failure."""
    log.info("encoder %s: test encode", encoder)
    started = time.time()
    try:
        done = subprocess.run(
            [ffmpeg, *test_encode_args(encoder, vaapi_device)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return EncoderStatus(encoder, False, f"test encode took over {timeout:g} s", started)
    except OSError as exc:
        return EncoderStatus(encoder, False, f"ffmpeg does not run: {exc.strerror}", started)
    if done.returncode == 0:
        return EncoderStatus(encoder, True, "test encode passed", started)
    return EncoderStatus(encoder, False, failure_reason(done.stderr), started)


class EncoderCache:
    """The test-encode answers of this host, in ``<data_dir>/encoders.json``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.data_dir / CACHE_FILE
        self.identity = ffmpeg_identity(config.ffmpeg)
        self._encoders: set[str] | None = None  # ffmpeg -encoders, when first needed
        self._does_not_run: FFmpegDoesNotRun | None = None  # ... or why it could not run

    def _key(self, encoder: str) -> str:
        if encoder.endswith(HardwareKind.VAAPI.value):
            return f"{encoder}@{self.config.encoders.vaapi_device}"
        return encoder

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: ask ffmpeg again
        if not isinstance(data, dict) or data.get("ffmpeg") != self.identity:
            return {}
        entries = data.get("encoders")
        return entries if isinstance(entries, dict) else {}

    def cached(self, encoder: str) -> EncoderStatus | None:
        """The stored answer for ``encoder`` while it is fresh."""
        entry = self._read().get(self._key(encoder))
        if not isinstance(entry, dict):
            return None
        try:
            status = EncoderStatus(
                encoder, bool(entry["ok"]), str(entry["reason"]), float(entry["checked_at"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        if time.time() - status.checked_at > self.config.encoders.cache_ttl:
            return None
        return status

    def store(self, status: EncoderStatus) -> None:
        """Add one answer; several workers may write at once, so the file is
        read again, merged, and replaced in one rename."""
        entries = self._read()
        entries[self._key(status.encoder)] = {
            "ok": status.ok,
            "reason": status.reason,
            "checked_at": status.checked_at,
        }
        text = json.dumps({"ffmpeg": self.identity, "encoders": entries}, indent=2)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".encoders-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(temp, self.path)
        except OSError as exc:
            # Not fatal: the next job tests again.
            log.warning("cannot write %s: %s", self.path, exc.strerror)

    def status(self, encoder: str) -> EncoderStatus:
        """Whether ``encoder`` works here: cached, or a test encode now (stored)."""
        found = self.cached(encoder)
        if found is not None:
            log.debug("encoder %s: cached answer from %s", encoder, found.checked_at)
            return found
        timeout = self.config.encoders.probe_timeout
        try:
            compiled = self._compiled()
        except FFmpegDoesNotRun as exc:
            # Not stored: it says nothing about the encoder. Software is
            # chosen, and running it says what is wrong with ffmpeg.
            return EncoderStatus(encoder, False, str(exc), time.time())
        if encoder not in compiled:
            found = EncoderStatus(encoder, False, "not in this ffmpeg", time.time())
        else:
            found = test_encode(
                self.config.ffmpeg, encoder, self.config.encoders.vaapi_device, timeout
            )
        self.store(found)
        return found

    def _compiled(self) -> set[str]:
        if self._does_not_run is not None:
            raise self._does_not_run  # asked once: a hung ffmpeg costs one timeout
        if self._encoders is None:
            try:
                self._encoders = compiled_encoders(
                    self.config.ffmpeg, self.config.encoders.probe_timeout
                )
            except FFmpegDoesNotRun as exc:
                self._does_not_run = exc
                raise
        return self._encoders


class EncoderHealth:
    """Hardware encoder failures in real jobs, counted in this process: after
    ``limit`` of them an encoder is disabled until the process restarts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}

    def failures(self, encoder: str) -> int:
        with self._lock:
            return self._failures.get(encoder, 0)

    def record_failure(self, encoder: str) -> int:
        """Count one failure; the count so far."""
        with self._lock:
            self._failures[encoder] = self._failures.get(encoder, 0) + 1
            return self._failures[encoder]

    def disabled(self, encoder: str, limit: int) -> bool:
        return self.failures(encoder) >= limit


# One per process, on purpose: "until restart" is the lifetime of the worker.
HEALTH = EncoderHealth()


def host_report(config: Config) -> list[EncoderStatus]:
    """Every hardware encoder ``encoder: auto`` may try, in its order, as this
    host answers (cached answers, or test encodes now): ``mediaforge doctor``."""
    cache = EncoderCache(config)
    families = sorted(set(HARDWARE_FAMILIES.values()))
    statuses = []
    for kind in config.encoders.auto:
        for family in families:
            encoder = f"{family}_{kind}"
            status = cache.status(encoder)
            if status.ok and HEALTH.disabled(encoder, config.encoders.max_failures):
                status = EncoderStatus(encoder, False, "disabled until restart", time.time())
            statuses.append(status)
    return statuses
