"""A consistent copy of the SQLite job database while workers run (``mediaforge
db backup``), and where it lives (``db check`` and the restore in
docs/operations.md use the same file).

SQLite's online backup API copies the database as one read transaction: in
WAL mode writers go on meanwhile, and the copy is the database as it stood
when the copy began, with whatever the write-ahead log held then. The copy is
written under a temporary name beside its destination, switched out of WAL
mode (one self-contained file), checked, flushed to disk and only then
renamed into place, so a backup that stopped half-way never looks like one.

On PostgreSQL the server's own tools do this better (``pg_dump``, base
backups): these commands say so instead.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mediaforge.errors import EnvironmentProblem, InputError
from mediaforge.jobs.database import sqlite_path


@dataclass(frozen=True)
class Backup:
    """A finished backup: where it is, its size and how many jobs it holds."""

    path: Path
    size: int
    jobs: int


def sqlite_file(url: str | None, data_dir: Path, command: str) -> Path:
    """The job database's SQLite file; on a database server, an error telling
    to use the server's tools for ``command``."""
    path = sqlite_path(url, data_dir)
    if path is None:
        raise EnvironmentProblem(
            f"the job database is on PostgreSQL: 'db {command}' works on SQLite only; "
            "use the server's own tools (pg_dump, pg_restore, pg_amcheck) instead"
        )
    if not path.is_file():
        raise EnvironmentProblem(f"no job database at {path}; check database.url and data_dir")
    return path


def backup(source: Path, dest: Path, *, force: bool = False) -> Backup:
    """Copy the SQLite job database ``source`` to ``dest`` while it is in use.
    ``dest`` must not exist unless ``force``: then it is replaced, only once
    the new copy is complete."""
    if dest.is_dir():
        raise InputError(f"{dest} is a folder; give the backup's file name")
    if dest.exists() and not force:
        raise InputError(f"{dest} already exists; choose another name or add --force to replace it")
    if dest.resolve() == source.resolve():
        raise InputError(f"{dest} is the job database itself; choose another name")
    if not dest.parent.is_dir():
        raise InputError(f"{dest.parent} is not a folder; create it first")
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        jobs = _copy(source, partial)
        _flush(partial)
        os.replace(partial, dest)
        _flush(dest.parent)
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"cannot back up {source} to {dest}: {exc}") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {dest}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return Backup(dest, dest.stat().st_size, jobs)


def _copy(source: Path, into: Path) -> int:
    """The online copy; returns the copy's job count. Raises sqlite3.Error."""
    into.unlink(missing_ok=True)
    # A plain connection, not a read-only one: reading a WAL database needs
    # its shared-memory file, which a read-only connection may not create.
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(into)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            problems = [r[0] for r in dst.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"the copy does not check out: {problems[0]}")
            (jobs,) = dst.execute('SELECT COUNT(*) FROM "job"').fetchone()
        finally:
            dst.close()
    finally:
        src.close()
    return int(jobs)


def _flush(path: Path) -> None:
    """Make ``path`` (a file, or a folder's entries) durable before going on."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
