"""Run windows: when a worker may take new jobs (``worker.schedule``).

A window is ``[DAYS ]HH:MM-HH:MM`` (seconds optional: ``HH:MM:SS``) in the
host's local time: ``22:00-07:00``
(across midnight), ``mon-fri 22:00-07:00``, ``sat,sun 00:00-24:00``. The days
are the days a window *opens* on: ``fri 22:00-07:00`` runs from Friday night
into Saturday morning. No windows: always open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"(?:(?P<days>[a-z,\-]+)\s+)?"
    r"(?P<start>\d{1,2}:\d{2}(?::\d{2})?)\s*-\s*(?P<end>\d{1,2}:\d{2}(?::\d{2})?)"
)
_DAY = 24 * 3600


@dataclass(frozen=True)
class Window:
    """One window: on ``days`` (0 = Monday), from ``start`` for ``length`` minutes."""

    days: frozenset[int]
    start: int  # seconds after midnight
    length: int  # seconds, up to a day

    def openings(self, around: datetime) -> Iterable[datetime]:
        """The times this window opens, from the day before ``around`` to a week after."""
        midnight = around.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(-1, 8):
            day = midnight + timedelta(days=offset)
            if day.weekday() in self.days:
                yield day + timedelta(seconds=self.start)


def _seconds(text: str, *, end: bool) -> int:
    hours, minutes, seconds = (int(part) for part in (text + ":0").split(":")[:3])
    late = hours == 24 and (minutes or seconds or not end)
    if minutes > 59 or seconds > 59 or hours > 24 or late:
        raise ValueError(f"{text!r} is not a time of day; write HH:MM from 00:00 to 24:00")
    return (hours * 60 + minutes) * 60 + seconds


def _days(text: str | None) -> frozenset[int]:
    if text is None:
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(
                f"{part!r} is not a day or a range of days; use mon..sun, e.g. mon-fri"
            )
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        found.update(i % 7 for i in range(a, b + 1 if b >= a else b + 8))
    return frozenset(found)


def parse_window(text: str) -> Window:
    """One window from its text; ValueError with one line saying what is wrong."""
    match = _WINDOW.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(
            f"{text!r} is not a run window; write HH:MM-HH:MM, optionally after days: "
            "'22:00-07:00', 'mon-fri 22:00-07:00', 'sat,sun 00:00-24:00'"
        )
    start = _seconds(match["start"], end=False)
    end = _seconds(match["end"], end=True)
    if start == end:
        raise ValueError(
            f"{text!r} opens and closes at the same time; for a whole day write 00:00-24:00"
        )
    length = end - start if end > start else end + _DAY - start
    return Window(_days(match["days"]), start, length)


def parse_schedule(texts: Sequence[str]) -> tuple[Window, ...]:
    return tuple(parse_window(text) for text in texts)


def is_open(windows: Sequence[Window], now: datetime) -> bool:
    """Whether ``now`` (local, naive) is inside a window; no windows: always."""
    if not windows:
        return True
    return any(
        opening <= now < opening + timedelta(seconds=w.length)
        for w in windows
        for opening in w.openings(now)
    )


def next_opening(windows: Sequence[Window], now: datetime) -> datetime | None:
    """When the next window opens after ``now``; None when one is open now (or none exist)."""
    if is_open(windows, now):
        return None
    later = [opening for w in windows for opening in w.openings(now) if opening > now]
    return min(later, default=None)


def next_closing(windows: Sequence[Window], now: datetime) -> datetime | None:
    """When the open window(s) around ``now`` close (windows that touch count as one);
    None when none is open or none exist."""
    if not windows or not is_open(windows, now):
        return None
    end = now
    # Follow touching or overlapping windows; a week of them counts as never closing.
    for _ in range(7 * len(windows) + 1):
        ends = [
            opening + timedelta(seconds=w.length)
            for w in windows
            for opening in w.openings(end)
            if opening <= end < opening + timedelta(seconds=w.length)
        ]
        if not ends:
            return end
        end = max(ends)
    return None


def clock_text(when: datetime, now: datetime) -> str:
    """``22:00`` today, ``07:00 tomorrow``, else ``Mon 22:00`` (seconds when a window has them)."""
    shown = when.strftime("%H:%M:%S" if when.second else "%H:%M")
    if when - now < timedelta(hours=24) and when.date() == now.date():
        return shown
    if when - now < timedelta(hours=24):
        return f"{shown} tomorrow"
    return f"{DAY_NAMES[when.weekday()].capitalize()} {shown}"
