"""``mediaforge db check``: is a SQLite job database (the live one or a backup)
sound? SQLite's own integrity check, the schema version, and the rows that
point at a job that is not there.

The file is read through a read-only connection and never migrated, so a
backup can be checked before it is restored, and an older or newer database
is reported rather than changed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from mediaforge.errors import EnvironmentProblem
from mediaforge.jobs.database import SCHEMA_VERSION
from mediaforge.jobs.model import JobStatus

_INTEGRITY_LINES = 20  # SQLite can list thousands; the first ones tell enough


@dataclass(frozen=True)
class Checkup:
    """What ``db check`` found: facts, and one line per problem (none: sound)."""

    path: Path
    schema_version: int | None
    jobs: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not self.problems


def check(path: Path) -> Checkup:
    """Check the SQLite job database at ``path`` without writing to it."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise EnvironmentProblem(f"cannot open {path}: {exc}") from None
    try:
        return _check(path, db)
    except sqlite3.DatabaseError as exc:  # not a database at all, or unreadable
        return Checkup(path, None, None, [f"{path}: {exc}"])
    finally:
        db.close()


def _check(path: Path, db: sqlite3.Connection) -> Checkup:
    problems = [
        f"integrity: {line}"
        for (line,) in db.execute(f"PRAGMA integrity_check({_INTEGRITY_LINES})")
        if line != "ok"
    ]
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"job", "mediaforge_meta"} <= tables:
        problems.append(f"{path} holds no mediaforge job database (no job table)")
        return Checkup(path, None, None, problems)
    row = db.execute("SELECT value FROM mediaforge_meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row and str(row[0]).isdigit() else None
    if version is None:
        problems.append("schema: no schema version recorded")
    elif version > SCHEMA_VERSION:
        problems.append(
            f"schema: version {version} is newer than this mediaforge understands "
            f"({SCHEMA_VERSION}); upgrade mediaforge"
        )
    (jobs,) = db.execute('SELECT COUNT(*) FROM "job"').fetchone()
    known = ", ".join(f"'{s.value}'" for s in JobStatus)
    (odd,) = db.execute(f'SELECT COUNT(*) FROM "job" WHERE status NOT IN ({known})').fetchone()
    if odd:
        problems.append(f"jobs: {odd} job(s) have a status mediaforge does not know")
    for table, what in (("notification", "notification"), ("upload", "upload"), ("hook", "hook")):
        if table not in tables:
            continue
        (orphans,) = db.execute(
            f'SELECT COUNT(*) FROM "{table}" WHERE job_id IS NOT NULL '
            f'AND job_id NOT IN (SELECT id FROM "job")'
        ).fetchone()
        if orphans:
            problems.append(f"{table}: {orphans} {what} row(s) belong to no job")
    return Checkup(path, version, int(jobs), problems)
