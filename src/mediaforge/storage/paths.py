"""Path mapping: shared storage mounted at different paths on different hosts.

Jobs store canonical paths (``/media/in/talk.mov``); each host maps them to
where it mounts that storage (``/mnt/nas/media/in/talk.mov``) to read and
write, and maps its own paths back when it submits, so that every host
understands every job (like Tdarr's path translators). A path under no
mapping is the same on every host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

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
        found = self.mapping_of(canonical)
        return None if found is None else found[1]

    def shadowing(self, path: str) -> tuple[PurePosixPath, PurePosixPath] | None:
        """The (canonical, local) roots of a mapping whose canonical folder
        holds this host's ``path`` although ``path`` is not on the share (a
        USB disk under ``/media`` where ``/media`` is the share's canonical
        name): a job would store it as is, and every host, this one too,
        would look for it on the share. None for any other path."""
        pure = PurePosixPath(path)
        if any(pure == loc or pure.is_relative_to(loc) for _, loc in self.pairs):
            return None  # on a share as this host mounts it
        found = self.mapping_of(path)
        return found if found is not None and found[0] != found[1] else None

    def mapping_of(self, canonical: str) -> tuple[PurePosixPath, PurePosixPath] | None:
        """The (canonical, local) roots of the mapping that covers ``canonical``."""
        pure = PurePosixPath(canonical)
        for c, loc in self._by_canonical:
            if pure == c or pure.is_relative_to(c):
                return c, loc
        return None


def share_present(local_root: str | os.PathLike[str]) -> bool:
    """Whether a mapping's local folder shows the share, not the empty folder
    it is mounted on. A mount point whose mount failed is still a directory,
    so being one proves nothing: the folder must be a mount point (or bind
    mount) or hold something. An empty folder that is not mounted is taken for
    a share that is not there (writing into it would fill this host's own disk)."""
    root = Path(local_root)
    try:
        if not root.is_dir():
            return False
        if _is_mount_point(root):
            return True
        with os.scandir(root) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def _is_mount_point(path: Path) -> bool:
    # os.path.ismount misses a bind mount from the same filesystem (same
    # device, different inode); the kernel's mount table has every mount.
    try:
        table = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return os.path.ismount(path)
    real = os.path.realpath(path)
    for line in table.splitlines():
        fields = line.split(" ")
        if len(fields) > 4 and _unescape(fields[4]) == real:
            return True
    return False


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes (\040).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _swap(path: str, pairs: list[tuple[PurePosixPath, PurePosixPath]]) -> str:
    if "://" in path:
        return path  # s3://bucket/key: the same everywhere
    pure = PurePosixPath(path)
    for old, new in pairs:
        if pure == old or pure.is_relative_to(old):
            return str(new / pure.relative_to(old))
    return path
