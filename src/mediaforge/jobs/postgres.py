"""The job database on PostgreSQL: psycopg 3 through peewee, a connection that
comes back after the server went away, and a lock for schema changes."""

from __future__ import annotations

from typing import Any

import peewee

# pg_advisory_xact_lock key serializing schema migrations ("mfschema" in ASCII):
# CREATE TABLE IF NOT EXISTS races with itself on PostgreSQL (a unique
# violation on pg_type) when several processes open a fresh database at once.
MIGRATION_LOCK = 0x6D66736368656D61


class ReopeningPostgresDatabase(peewee.PostgresqlDatabase):
    """A PostgreSQL database whose broken connection is dropped and reopened on
    the next use outside a transaction.

    peewee keeps a connection per thread and, once the server has closed it
    (a restart, a network cut), hands the dead one out forever. The statement
    that meets the break fails (it may or may not have been applied, so it is
    not repeated here); the next one starts on a fresh connection.
    """

    def connection_state(self) -> Any:
        """peewee's per-thread connection state."""
        return getattr(self, "_state")  # noqa: B009 (peewee declares no type for it)

    def _broken(self) -> bool:
        conn = self.connection_state().conn
        return conn is not None and bool(conn.closed or conn.broken)

    def _reopen_if_broken(self) -> None:
        if self._broken() and not self.in_transaction():
            try:
                self.close()
            except peewee.PeeweeException:
                self.connection_state().reset()  # close() refused: forget the dead one

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        self._reopen_if_broken()
        return super().execute_sql(sql, params)

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        self._reopen_if_broken()
        return super().begin(*args, **kwargs)


def postgres_database(url: str) -> peewee.Database:
    """The job database at ``url`` (postgres:// or postgresql://)."""
    conninfo = "postgresql://" + url.split("://", 1)[1]
    return ReopeningPostgresDatabase(conninfo, prefer_psycopg3=True, connect_timeout=10)


def lock_for_migrations(db: peewee.Database) -> None:
    """Inside the migration transaction: wait until no other process migrates."""
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
