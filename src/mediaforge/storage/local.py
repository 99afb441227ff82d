"""Placing outputs on disk: temporary names, collisions, atomic publish.

An output is written under a hidden temporary name in its destination folder
(same filesystem, so the final rename is atomic), verified, and only then
renamed to its final name. Nothing here ever touches an input.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Literal

from mediaforge.errors import InputError, StorageError

CollisionPolicy = Literal["rename", "skip", "overwrite", "fail"]
TEMP_MARK = ".mf"
TEMP_SUFFIX = ".part"


def temp_path_for(final: Path, job_id: int, attempt: int) -> Path:
    """Hidden temporary name beside ``final``; watchers and users skip dot-files."""
    return final.with_name(f".{final.name}{TEMP_MARK}{job_id}-{attempt}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """True for names mediaforge uses for work in progress."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX) and TEMP_MARK in name


def remove_quietly(path: Path) -> None:
    """Remove a temporary file or folder if it exists; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def remove_stale_temps(folder: Path, job_id: int) -> None:
    """Remove temporary outputs left by earlier attempts of ``job_id``
    (a worker killed mid-transcode cannot clean up after itself)."""
    if not folder.is_dir():
        return
    for path in folder.glob(f".*{TEMP_MARK}{job_id}-*{TEMP_SUFFIX}"):
        remove_quietly(path)


def ensure_folder(folder: Path, what: str = "output folder", fix: str = "") -> None:
    """Create ``folder`` if needed; StorageError unless it is a writable folder.
    ``what`` names it in the error, ``fix`` says what else to do."""
    hint = f"; {fix}" if fix else ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create {what} {folder}: {exc.strerror}; check the path and "
            f"its permissions{hint}"
        ) from None
    if not os.access(folder, os.W_OK):
        raise StorageError(f"{what} {folder} is not writable; fix its permissions{hint}")


def _numbered(final: Path, n: int) -> Path:
    # "clip.720p.mp4" -> "clip.720p (1).mp4"; "clip.hls" (a folder) -> "clip (1).hls"
    return final.with_name(f"{final.stem} ({n}){final.suffix}")


def decide_final(final: Path, policy: CollisionPolicy, inputs: set[Path]) -> Path | None:
    """Where an output will go given what is already there.

    Returns None when ``skip`` keeps the existing file. An input is never a
    valid target, whatever the policy.
    """
    clashes_input = final.resolve() in inputs
    if not final.exists() and not final.is_symlink() and not clashes_input:
        return final
    if policy == "overwrite" and not clashes_input:
        return final
    if policy == "skip" and not clashes_input:
        return None
    if policy == "fail" and clashes_input:
        raise InputError(
            f"output {final} would replace the job's input; give the preset's output a "
            "different name or use another output folder"
        )
    if policy == "fail":
        raise InputError(
            f"output {final} already exists; remove it or set output.collision to "
            "rename, skip or overwrite"
        )
    for n in range(1, 10_000):
        candidate = _numbered(final, n)
        if not candidate.exists() and candidate.resolve() not in inputs:
            return candidate
    raise StorageError(f"too many existing copies of {final}; clean up its folder")


def publish(temp: Path, final: Path, policy: CollisionPolicy) -> Path:
    """Move a verified temporary output to its final name and return that name.

    With ``rename`` a name taken meanwhile (another worker, a user) is never
    overwritten: files are linked into place (fails if the name exists) and
    the next free number is tried.
    """
    try:
        if policy == "overwrite":
            if temp.is_dir() and final.exists():
                aside = final.with_name(f".{final.name}{TEMP_MARK}old{TEMP_SUFFIX}")
                remove_quietly(aside)
                os.rename(final, aside)
                os.rename(temp, final)
                remove_quietly(aside)
            else:
                os.replace(temp, final)
            return final
        target = final
        for n in range(1, 10_000):
            try:
                if temp.is_dir():
                    if target.exists():
                        raise FileExistsError(errno.EEXIST, "exists")
                    os.rename(temp, target)
                else:
                    os.link(temp, target)
                    temp.unlink()
                return target
            except FileExistsError:
                if policy != "rename":
                    raise
                target = _numbered(final, n)
        raise StorageError(f"too many existing copies of {final}; clean up its folder")
    except FileExistsError:
        raise InputError(
            f"output {final} appeared while the job ran; remove it or set output.collision"
        ) from None
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP) and not temp.is_dir():
            # Filesystems without hard links (some SMB/FUSE mounts): fall back to a
            # rename after a fresh existence check; the window is tiny.
            if final.exists() and policy != "overwrite":
                raise StorageError(f"output {final} appeared while the job ran") from None
            os.replace(temp, final)
            return final
        raise StorageError(f"cannot publish {final}: {exc.strerror}") from None


def file_identity(path: Path) -> tuple[int, int] | None:
    """(inode, size) of a file or folder, without following a final symlink;
    None when nothing is there. A link or a rename within the folder keeps
    both, so they tell a published output from another file of the same name
    (a folder's size is left out: 0). The device is left out too: another
    host sees the same network share as another device, with the same inodes."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_ino, 0 if path.is_dir() and not path.is_symlink() else st.st_size)


def find_published(final: Path, identity: tuple[int, int]) -> Path | None:
    """Where the output with ``identity`` went when it was published as
    ``final``: that name, or a numbered one the ``rename`` policy gave it."""
    stem, suffix = final.stem, final.suffix
    try:
        names = sorted(os.listdir(final.parent))
    except OSError:
        return None
    for name in names:
        numbered = name.startswith(f"{stem} (") and name.endswith(f"){suffix}")
        if name == final.name or numbered:
            candidate = final.with_name(name)
            if file_identity(candidate) == identity:
                return candidate
    return None
