"""Quantities as people read and write them: sizes, durations, clock times,
timestamps, and the retry delay. One copy of each, for every stage."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_CLOCK = re.compile(r"(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def human_size(n: int | None) -> str:
    """``1536`` -> ``1.5 KiB``; an unknown size is ''."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def human_duration(seconds: float | None) -> str:
    """``75`` -> ``1 min 15 s``; an unknown duration is ''."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def parse_clock(text: str) -> float | None:
    """Seconds in an ``[-]HH:MM:SS[.fff]`` time as ffmpeg and Matroska write it
    (negative before the first timestamp); None for anything else."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        return None
    sign, hours, minutes, seconds = match.groups()
    value = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return -value if sign else value


def iso_time(ts: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC (the JSON shape of every record)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def backoff(base: float, attempt: int, cap: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry):
    ``base`` doubled for each earlier retry, at most ``cap``."""
    delay = float(base) * 2.0 ** max(0, attempt - 1)
    return delay if cap is None else min(cap, delay)


_SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_or_time(text: str, now: float | None = None) -> float:
    """A moment given as a span back from now (``90m``, ``12h``, ``7d``, ``2w``)
    or an ISO date or time (``2026-01-31``, ``2026-01-31T08:00``, UTC unless
    it says otherwise); ValueError naming the forms otherwise."""
    text = text.strip()
    now = datetime.now(UTC).timestamp() if now is None else now
    unit = _SPAN_UNITS.get(text[-1:].lower())
    if unit is not None and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * unit
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is neither a span like 12h or 7d nor a date like 2026-01-31"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
