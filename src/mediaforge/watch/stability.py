"""File stability: when a file has stopped changing (size, mtime and inode
unchanged for a settle time), judged on an injectable clock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileState:
    """What ``stat`` says about a file, as far as "is it still changing" goes."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileState:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass
class _Seen:
    state: FileState
    since: float  # clock time this state was first seen (or a deferred re-check)


class StabilityTracker:
    """Tells when a file has stopped changing.

    Feed it every observation of a file (:meth:`observe`); a file is stable
    once the same :class:`FileState` has been seen for ``settle`` seconds of
    ``clock`` time. Any change starts the wait again. It never touches the
    filesystem, so it is tested with a fake clock.
    """

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle = settle
        self.clock = clock
        self._seen: dict[Path, _Seen] = {}

    def observe(self, path: Path, state: FileState) -> bool:
        """Record ``state`` for ``path``; True when it has been the same for ``settle`` s."""
        now = self.clock()
        seen = self._seen.get(path)
        if seen is None or seen.state != state:
            self._seen[path] = _Seen(state, now)
            return self.settle <= 0
        return now - seen.since >= self.settle

    def defer(self, path: Path, seconds: float) -> None:
        """Look at ``path`` again in ``seconds`` at the earliest (after a transient failure)."""
        seen = self._seen.get(path)
        if seen is not None:
            seen.since = max(seen.since, self.clock() + seconds - self.settle)

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def due(self) -> list[Path]:
        """Files worth a fresh ``stat`` now: their state may have settled."""
        now = self.clock()
        return [p for p, seen in self._seen.items() if now - seen.since >= self.settle]

    def next_due(self) -> float | None:
        """Clock time when the next file may have settled; None when none is pending."""
        if not self._seen:
            return None
        return min(seen.since for seen in self._seen.values()) + self.settle

    def __contains__(self, path: object) -> bool:
        return path in self._seen

    def __len__(self) -> int:
        return len(self._seen)
