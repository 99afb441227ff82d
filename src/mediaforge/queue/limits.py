"""How many jobs of a preset or tag one worker runs at once (``worker.limits``).

Limits count this worker process's own running jobs: each host decides for
its own CPU. What happens to a job over its limit is in ``slots.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mediaforge.presets.model import Preset

OTHERS = "*"  # the key for every job that no other limit names


class Limits:
    """The running count per limited name (a preset name or a tag), for one worker."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def names_of(self, preset: Preset) -> list[str]:
        """The limited names a job of ``preset`` counts against: its name and
        tags that have a limit, or else ``*`` (every other job) if that has one."""
        names = [n for n in (preset.name, *preset.tags) if n in self.limits]
        return names or ([OTHERS] if OTHERS in self.limits else [])

    def has_room(self, preset: Preset) -> bool:
        """Whether a job of ``preset`` would get a place now."""
        with self._lock:
            return all(self._running.get(n, 0) < self.limits[n] for n in self.names_of(preset))

    @contextmanager
    def slot(self, preset: Preset) -> Iterator[str | None]:
        """Hold a place for one job of ``preset`` while the block runs; yields
        None when it has one, or the name whose limit is reached (the job must
        not run now)."""
        names = self.names_of(preset)
        with self._lock:
            full = next((n for n in names if self._running.get(n, 0) >= self.limits[n]), None)
            if full is None:
                for name in names:
                    self._running[name] = self._running.get(name, 0) + 1
        try:
            yield full
        finally:
            if full is None:
                with self._lock:
                    for name in names:
                        self._running[name] -= 1
