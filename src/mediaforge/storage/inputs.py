"""Finding inputs (files, folders, globs) and fingerprinting them."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mediaforge.errors import InputError
from mediaforge.storage.local import is_temp_name

# What a folder scan picks up. A file named explicitly is taken whatever its name.
MEDIA_EXTENSIONS = frozenset(
    """
    3g2 3gp aac ac3 aif aiff amr ape asf avi dts dv f4v flac flv h264 h265 hevc m2t m2ts
    m2v m4a m4b m4v mka mkv mod mov mp2 mp3 mp4 mpeg mpg mts mxf oga ogg ogv opus ra rm
    rmvb tod ts vob wav weba webm wma wmv wv y4m
    """.split()
)
HASH_CHUNK = 1 << 20  # 1 MiB from the start and from the end


@dataclass(frozen=True)
class Fingerprint:
    """Size, mtime and a hash of the first and last MiB: cheap on a NAS, and
    enough to tell "same content, renamed" from "changed content"."""

    size: int
    mtime: float
    partial_hash: str


def fingerprint(path: Path) -> Fingerprint:
    try:
        st = path.stat()
        digest = hashlib.sha256(str(st.st_size).encode())
        with path.open("rb") as fh:
            digest.update(fh.read(HASH_CHUNK))
            if st.st_size > 2 * HASH_CHUNK:
                fh.seek(-HASH_CHUNK, os.SEEK_END)
                digest.update(fh.read(HASH_CHUNK))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return Fingerprint(st.st_size, st.st_mtime, digest.hexdigest()[:32])


def is_candidate(path: Path) -> bool:
    """A file a folder scan should pick up: media by extension, not hidden, not ours."""
    name = path.name
    if name.startswith(".") or is_temp_name(name):
        return False
    return path.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS


def _scan(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if is_candidate(path):
                yield path


def _pattern(path: Path) -> str | None:
    """The glob pattern an argument that names no file stands for, or None
    when it is no pattern. The leading folders that exist are taken as they
    are named, so brackets in ``Music [2020]/*.mp3`` are not a character class."""
    parts = path.parts
    for i in range(len(parts) - 1, 0, -1):
        if Path(*parts[:i]).is_dir():
            rest = parts[i:]
            if not any(glob.has_magic(p) for p in rest):
                return None
            return os.path.join(glob.escape(str(Path(*parts[:i]))), *rest)
    return str(path) if glob.has_magic(str(path)) else None


def expand_inputs(args: Iterable[str]) -> list[Path]:
    """Files as given, folders recursively (media files only), globs expanded.

    An argument that names an existing file or folder is that file or folder,
    whatever characters its name holds; only one that names nothing is a pattern.

    Raises InputError for an argument that matches nothing, so a typo is not
    silently a no-op.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for arg in args:
        path = Path(arg).expanduser()
        if path.is_dir():
            matches = list(_scan(path))
            if not matches:
                raise InputError(f"folder {arg} holds no media files")
        elif path.exists() or path.is_symlink():
            matches = [path]
        elif (pattern := _pattern(path)) is not None:
            matches = []
            for hit in sorted(glob.glob(pattern, recursive=True)):
                p = Path(hit)
                matches.extend(_scan(p) if p.is_dir() else [p] if is_candidate(p) else [])
            if not matches:
                raise InputError(f"no media files match {arg}")
        else:
            raise InputError(f"input not found: {arg}; check the path")
        for m in matches:
            resolved = m.absolute()
            if resolved not in seen:
                seen.add(resolved)
                found.append(resolved)
    return found
