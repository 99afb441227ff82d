"""Huey on PostgreSQL (psycopg 3), with table creation that does not race.

Imported only when ``queue.backend`` is ``postgres``: it imports huey's
PostgreSQL storage, which needs psycopg.
"""

from __future__ import annotations

from typing import Any

from huey import PostgresHuey
from huey.storage import PostgresStorage

from mediaforge.errors import EnvironmentProblem
from mediaforge.redact import redact_url

# pg_advisory_xact_lock key for huey's CREATE TABLE IF NOT EXISTS ("mfqueue!"
# in ASCII): the statements race with themselves (a unique violation on
# pg_type) when several workers start on a fresh database at once.
SCHEMA_LOCK = 0x6D66717565756521


class LockedPostgresStorage(PostgresStorage):  # type: ignore[misc]
    """Huey's PostgreSQL storage, creating its tables under an advisory lock."""

    def initialize_schema(self) -> None:
        with self.db(commit=True, close=True) as curs:
            curs.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for sql in self.ddl:
                curs.execute(sql)


class LockedPostgresHuey(PostgresHuey):  # type: ignore[misc]
    storage_class = LockedPostgresStorage


def postgres_huey(name: str, url: str) -> Any:
    """A Huey queue named ``name`` in the PostgreSQL database at ``url``."""
    import psycopg

    dsn = "postgresql://" + url.split("://", 1)[1]
    try:
        return LockedPostgresHuey(name, dsn=dsn, results=False, connect_timeout=10)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise EnvironmentProblem(
            f"cannot reach the postgres queue at {redact_url(url)}: {reason}"
        ) from None
