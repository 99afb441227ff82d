"""Opening the job database, and the migrations that bring its schema up to
date (``JobStore`` applies them when it opens a database).

SQLite runs in WAL mode with a busy timeout and IMMEDIATE transactions
(writers queue up instead of failing on lock upgrades). PostgreSQL (psycopg 3,
the ``postgres`` extra) is for many workers on many hosts: its connection is
reopened on the next use after the server went away, and migrations run
under an advisory lock so that any number of processes may open a fresh
database at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import peewee

from mediaforge import drivers
from mediaforge.errors import ConfigError, EnvironmentProblem
from mediaforge.jobs.tables import (
    HookRow,
    JobRow,
    MetaRow,
    NotificationRow,
    PrunedJobRow,
    UploadRow,
    WorkerRow,
)

# The tables of schema version 1.
MODELS: list[type[peewee.Model]] = [JobRow, MetaRow]


def _migration_1(db: peewee.Database) -> None:
    db.create_tables(MODELS, safe=True)
    # The listings: `jobs` (newest first, optionally by status), recovery (running
    # by heartbeat) and duplicate detection (by fingerprint).
    db.execute_sql('CREATE INDEX IF NOT EXISTS job_status_id ON "job" (status, id)')
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS job_status_heartbeat ON "job" (status, heartbeat_at)'
    )
    db.execute_sql('CREATE INDEX IF NOT EXISTS job_input_hash ON "job" (input_hash)')
    db.execute_sql('CREATE INDEX IF NOT EXISTS job_batch ON "job" (batch)')


def _migration_2(db: peewee.Database) -> None:
    db.create_tables([NotificationRow], safe=True)
    db.execute_sql(
        'CREATE UNIQUE INDEX IF NOT EXISTS notification_key ON "notification" (key, event, target)'
    )
    # Delivery: the pending rows of each target, by due time; `status`: by job, by batch.
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS notification_status_target ON "notification" '
        "(status, target, due_at)"
    )
    db.execute_sql('CREATE INDEX IF NOT EXISTS notification_job ON "notification" (job_id)')
    db.execute_sql('CREATE INDEX IF NOT EXISTS notification_batch ON "notification" (batch)')


def _migration_3(db: peewee.Database) -> None:
    db.create_tables([UploadRow], safe=True)
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS upload_job_key ON "upload" (job_id, key)')
    # Delivery (pending rows by due time), `status` (by job), sync (by path).
    db.execute_sql('CREATE INDEX IF NOT EXISTS upload_status_due ON "upload" (status, due_at)')
    db.execute_sql('CREATE INDEX IF NOT EXISTS upload_path ON "upload" (path)')


def _migration_4(db: peewee.Database) -> None:
    # The publish plan of a job (idempotent publishing after a crash). Migration 1
    # creates "job" from the current JobRow, so a new database has it already.
    if "publishing" not in {c.name for c in db.get_columns("job")}:
        db.execute_sql('ALTER TABLE "job" ADD COLUMN publishing TEXT')


def _migration_5(db: peewee.Database) -> None:
    # Worker processes on every host, with their heartbeats (jobs/workers.py).
    db.create_tables([WorkerRow], safe=True)
    db.execute_sql('CREATE INDEX IF NOT EXISTS worker_heartbeat ON "worker" (heartbeat_at)')


def _migration_6(db: peewee.Database) -> None:
    # Hand-backs by hosts that cannot see a job's files (queue/pipeline.py).
    if "handbacks" not in {c.name for c in db.get_columns("job")}:
        db.execute_sql('ALTER TABLE "job" ADD COLUMN handbacks INTEGER NOT NULL DEFAULT 0')


def _migration_7(db: peewee.Database) -> None:
    # Uploads of files on shared storage may go from any host (storage/s3/rows.py).
    if "shared" not in {c.name for c in db.get_columns("upload")}:
        db.execute_sql('ALTER TABLE "upload" ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE')


def _migration_8(db: peewee.Database) -> None:
    # The submit-time probe of a job's input, reused by the worker while the
    # input's fingerprint still matches (one ffprobe fewer per job).
    if "input_probe" not in {c.name for c in db.get_columns("job")}:
        db.execute_sql('ALTER TABLE "job" ADD COLUMN input_probe TEXT')


def _migration_9(db: peewee.Database) -> None:
    # Which hosts refused a job (they cannot see its files), so that the same
    # host refusing again is not counted twice (queue/handover.py).
    if "refusals" not in {c.name for c in db.get_columns("job")}:
        db.execute_sql('ALTER TABLE "job" ADD COLUMN refusals TEXT')


def _migration_10(db: peewee.Database) -> None:
    # What the worker decided for an attempt, shown by `status` (JobStore.decide).
    if "decisions" not in {c.name for c in db.get_columns("job")}:
        db.execute_sql('ALTER TABLE "job" ADD COLUMN decisions TEXT')


def _migration_11(db: peewee.Database) -> None:
    # Why a worker takes no new jobs (paused, draining, outside its run
    # window), shown by `workers` and `status` (jobs/control.py).
    if "intake" not in {c.name for c in db.get_columns("worker")}:
        db.execute_sql('ALTER TABLE "worker" ADD COLUMN intake TEXT')


def _migration_12(db: peewee.Database) -> None:
    # What pruned jobs did (jobs/retention.py), looked up by content and preset.
    db.create_tables([PrunedJobRow], safe=True)
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS pruned_job_input_hash ON "pruned_job" (input_hash, preset)'
    )


def _migration_13(db: peewee.Database) -> None:
    # Hooks owed a run after a job ended (the hooks package), shown by `status`.
    db.create_tables([HookRow], safe=True)
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS hook_job_key ON "hook" (job_id, key, hook)')
    db.execute_sql('CREATE INDEX IF NOT EXISTS hook_status_due ON "hook" (status, due_at)')


def _migration_14(db: peewee.Database) -> None:
    # Jobs by the time they ended: every recovery sweep looks up those that
    # ended since the last one, to record hooks a dead worker did not.
    db.execute_sql('CREATE INDEX IF NOT EXISTS job_finished_at ON "job" (finished_at)')


# Append-only: MIGRATIONS[n] takes a database from schema version n to n + 1.
# Never edit a released migration; add the next one.
MIGRATIONS: list[Callable[[peewee.Database], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
    _migration_10,
    _migration_11,
    _migration_12,
    _migration_13,
    _migration_14,
]
SCHEMA_VERSION = len(MIGRATIONS)


def sqlite_path(url: str | None, data_dir: Path) -> Path | None:
    """The SQLite file ``url`` names (None: the default in ``data_dir``), or
    None for a database server."""
    if url is None:
        return data_dir / "jobs.db"
    if url.startswith("sqlite:"):
        return Path(url.removeprefix("sqlite:").removeprefix("//"))
    return None


def connect(url: str | None, data_dir: Path) -> peewee.Database:
    """Open the job database named by ``url`` (None: SQLite in ``data_dir``)."""
    path = sqlite_path(url, data_dir)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot create the data folder {path.parent}: {exc.strerror}; "
                "set MEDIAFORGE_DATA_DIR or data_dir to a writable folder"
            ) from None
        return peewee.SqliteDatabase(
            str(path),
            # IMMEDIATE: take the write lock when the transaction begins, so two
            # writers wait on busy_timeout instead of deadlocking on an upgrade.
            lock_type="IMMEDIATE",
            timeout=30,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": 30_000,
                "synchronous": "normal",
                "foreign_keys": 1,
            },
        )
    assert url is not None  # sqlite_path gave None: a server URL
    if url.startswith(("postgres://", "postgresql://")):
        from mediaforge.jobs.postgres import postgres_database

        drivers.psycopg("database.url (PostgreSQL)")
        return postgres_database(url)
    raise ConfigError(
        f"database.url: unsupported database '{url.split(':', 1)[0]}'; "
        "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB"
    )
