"""Copying a SQLite job database into PostgreSQL (``mediaforge db migrate``).

The SQLite file is never written: it is read through a snapshot (SQLite's
backup API from a read-only connection), and the snapshot is what gets
brought up to the current schema. Jobs, notification, upload and hook rows
are copied with their ids, in one transaction, into an empty database; the
counts are checked before it commits, and so is the SQLite file: a watcher,
worker or submit that wrote to it after the snapshot would be left behind,
so the copy is then undone and the user told to stop them first. The watch
folders remember what they did through these rows (a file's fingerprint and
outputs on its jobs and on the memory of pruned jobs, an original's uploads),
so they carry over with them.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from mediaforge.errors import ConfigError, EnvironmentProblem
from mediaforge.jobs.database import connect
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.owed_mark import OwedMark
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import HookRow, JobRow, NotificationRow, PrunedJobRow, UploadRow

# The memory of pruned jobs goes too: the watch folders read it (jobs/retention.py).
TABLES: tuple[type[peewee.Model], ...] = (JobRow, NotificationRow, UploadRow, PrunedJobRow, HookRow)
CHUNK = 500  # rows per INSERT


@dataclass(frozen=True)
class QueuedJob:
    """A job that waits for a worker: it goes on the new queue."""

    id: int
    priority: int
    retry_at: float | None


@dataclass(frozen=True)
class Copied:
    """What was copied: rows per table, and the queued jobs."""

    counts: dict[str, int]
    queued: list[QueuedJob]


def sqlite_path(url: str | None, data_dir: Path) -> Path:
    """The file of the SQLite job database named by ``database.url``."""
    if url is None:
        return data_dir / "jobs.db"
    if not url.startswith("sqlite:"):
        raise ConfigError(
            "database.url: the job database is already on a server; "
            "'db migrate' copies a SQLite job database"
        )
    return Path(url.removeprefix("sqlite:").removeprefix("//"))


def _snapshot(source: Path, into: Path) -> None:
    """A consistent copy of ``source`` without writing to it."""
    if not source.is_file():
        raise EnvironmentProblem(f"no job database at {source}; nothing to migrate")
    try:
        with (
            sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src,
            sqlite3.connect(into) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"cannot read the job database {source}: {exc}") from None


# Per table: how many rows, the highest id and the latest change. Any write
# (a new job, a job that started or ended, a notification sent) moves one.
Marks = dict[str, tuple[Any, ...] | None]


def _marks(path: Path) -> Marks:
    """Where each table of the SQLite file at ``path`` stands, read without writing."""
    marks: Marks = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for model in TABLES:
            table = model._meta.table_name
            try:
                marks[table] = db.execute(
                    f'SELECT COUNT(*), MAX(id), MAX(updated_at) FROM "{table}"'
                ).fetchone()
            except sqlite3.OperationalError:
                marks[table] = None  # an older schema, without this table yet
    return marks


def _unchanged_since(source: Path, snapshot: Marks) -> None:
    """Raise unless the SQLite file still stands where the snapshot did."""
    try:
        now = _marks(source)
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"cannot read the job database {source}: {exc}") from None
    changed = [table for table, mark in now.items() if mark != snapshot.get(table)]
    if changed:
        raise EnvironmentProblem(
            f"the job database {source} changed while it was copied ({', '.join(changed)} "
            "rows were written); nothing was kept: stop every watcher and worker and "
            "any submit on this machine, then run 'db migrate' again"
        )


def _read(path: Path) -> tuple[dict[type[peewee.Model], list[dict[str, Any]]], float | None]:
    """Every row to copy, and how far recovery had recorded what ended jobs owe."""
    store = JobStore(connect(f"sqlite:///{path}", path.parent))
    try:
        running = [r.id for r in JobRow.select(JobRow.id).where(JobRow.status == "running")]
        if running:
            raise EnvironmentProblem(
                f"job {running[0]} is running ({len(running)} in all); stop every worker "
                "(or wait for the queue to drain) before 'db migrate'"
            )
        return {model: _rows(model) for model in TABLES}, OwedMark(store).get()
    finally:
        store.close()


def _rows(model: type[peewee.Model]) -> list[dict[str, Any]]:
    query: Any = model.select().order_by(model._meta.primary_key)
    return list(query.dicts())


def _reset_sequences(db: peewee.Database) -> None:
    """Copied ids were set by hand: new rows continue after the highest one."""
    if not isinstance(db, peewee.PostgresqlDatabase):
        return
    for model in TABLES:
        if not isinstance(model._meta.primary_key, peewee.AutoField):
            continue  # ids copied from another table (pruned jobs): no sequence of its own
        table = model._meta.table_name
        highest = f'SELECT MAX(id) FROM "{table}"'
        if model is JobRow:  # a pruned job's id is never handed out again
            highest += ' UNION ALL SELECT MAX(id) FROM "pruned_job"'
        db.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM ({highest}) AS ids(id)), false)"
        )


def copy_jobs(source: Path, target_url: str) -> Copied:
    """Copy the SQLite job database at ``source`` into the empty database at
    ``target_url``; the source file is left as it was."""
    with tempfile.TemporaryDirectory(prefix="mediaforge-migrate-") as folder:
        snapshot = Path(folder) / "jobs.db"
        _snapshot(source, snapshot)
        marks = _marks(snapshot)  # before _read brings the snapshot up to date
        rows, recorded_until = _read(snapshot)
    target = JobStore(connect(target_url, source.parent))
    try:
        held = {m._meta.table_name: m.select().count() for m in TABLES}
        if any(held.values()):
            raise EnvironmentProblem(
                f"{target_url.split('@')[-1]} already holds "
                + ", ".join(f"{n} {t} row(s)" for t, n in held.items() if n)
                + "; migrate into an empty database"
            )
        counts: dict[str, int] = {}
        with target.db.atomic():
            for model, table_rows in rows.items():
                for start in range(0, len(table_rows), CHUNK):
                    model.insert_many(table_rows[start : start + CHUNK]).execute()
                copied = model.select().count()
                if copied != len(table_rows):
                    raise EnvironmentProblem(
                        f"copied {copied} of {len(table_rows)} {model._meta.table_name} rows; "
                        "nothing was kept, try again"
                    )
                counts[model._meta.table_name] = copied
            _reset_sequences(target.db)
            # Without it the first sweep there would look back only an hour: a job whose
            # worker died before recording what it owed, longer ago, would never get it.
            if recorded_until is not None:
                OwedMark(target).advance(recorded_until)
            # Last, inside the transaction: a late write undoes the copy.
            _unchanged_since(source, marks)
    finally:
        target.close()
    queued = [
        QueuedJob(r["id"], r["priority"], r["retry_at"])
        for r in rows[JobRow]
        if r["status"] == JobStatus.QUEUED.value
    ]
    return Copied(counts, queued)
