"""A quick look at the newest jobs without opening the job store: for shell
completion, which runs on every Tab press. It never creates or migrates the
database, never waits for a lock, and finds nothing where there is nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import peewee

from mediaforge.jobs.database import sqlite_path
from mediaforge.jobs.tables import JobRow

if TYPE_CHECKING:
    from mediaforge.config.schema import Config

# A Tab press must answer at once: a busy or distant database gives no
# candidates rather than a shell that hangs.
PEEK_TIMEOUT = 0.5


@dataclass(frozen=True)
class JobGlimpse:
    """What a completion shows of a job."""

    id: int
    status: str
    preset: str
    input_path: str


def newest_jobs(config: Config, limit: int = 50) -> list[JobGlimpse]:
    """The newest ``limit`` jobs, newest first; none when the database does not
    exist yet, cannot be read now, or is a server that does not answer quickly."""
    path = sqlite_path(config.database.url, config.data_dir)
    db: peewee.Database
    if path is not None:
        if not path.is_file():
            return []
        db = peewee.SqliteDatabase(f"file:{path}?mode=ro", uri=True, timeout=PEEK_TIMEOUT)
    else:
        from playhouse.db_url import connect as connect_url

        db = connect_url(config.database.url, connect_timeout=1)
    columns = (JobRow.id, JobRow.status, JobRow.preset, JobRow.input_path)
    try:
        with db.bind_ctx([JobRow], bind_refs=False, bind_backrefs=False):
            rows = JobRow.select(*columns).order_by(JobRow.id.desc()).limit(limit).tuples()
            return [JobGlimpse(*row) for row in cast(Any, rows)]
    except peewee.PeeweeException:
        return []  # no job table yet, locked, unreachable: nothing to offer
    finally:
        db.close()
