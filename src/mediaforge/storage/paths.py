"""Path mapping: shared storage mounted at different paths on different hosts.

Jobs store canonical paths (``/media/in/talk.mov``); each host maps them to
where it mounts that storage (``/mnt/nas/media/in/talk.mov``) to read and
write, and maps its own paths back when it submits, so that every host
understands every job (like Tdarr's path translators). A path under no
mapping is the same on every host.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from mediaforge.config.schema import Config, PathMapping


class PathMap:
    """This host's mappings (``paths:`` in the config), longest prefix first."""

    def __init__(self, mappings: Sequence[PathMapping]) -> None:
        pairs = [
            (PurePosixPath(m.canonical), PurePosixPath(m.local))
            for m in mappings
            if m.canonical is not None and m.local is not None
        ]
        self.pairs = pairs
        self._by_canonical = sorted(pairs, key=lambda p: -len(p[0].parts))
        self._by_local = sorted(pairs, key=lambda p: -len(p[1].parts))

    @classmethod
    def of(cls, config: Config) -> PathMap:
        return cls(config.paths)

    def to_local(self, path: str) -> str:
        """Where this host finds the canonical ``path``."""
        return _swap(path, [(c, loc) for c, loc in self._by_canonical])

    def to_canonical(self, path: str) -> str:
        """The canonical form of this host's ``path`` (as jobs store it)."""
        return _swap(path, [(loc, c) for c, loc in self._by_local])

    def mapped(self, canonical: str) -> PurePosixPath | None:
        """The local mount point the canonical ``path`` maps to, if a mapping covers it."""
        pure = PurePosixPath(canonical)
        for c, loc in self._by_canonical:
            if pure == c or pure.is_relative_to(c):
                return loc
        return None


def _swap(path: str, pairs: list[tuple[PurePosixPath, PurePosixPath]]) -> str:
    if "://" in path:
        return path  # s3://bucket/key: the same everywhere
    pure = PurePosixPath(path)
    for old, new in pairs:
        if pure == old or pure.is_relative_to(old):
            return str(new / pure.relative_to(old))
    return path
