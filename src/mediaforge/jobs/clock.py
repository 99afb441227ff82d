"""The one clock heartbeats are judged by: the job database's.

Workers on several hosts write heartbeats and judge each other's; their
clocks may disagree by more than a stale timeout. So every heartbeat is
written, and every age measured, in the database's time: on PostgreSQL the
server's clock, on SQLite (one host by nature) this machine's.
"""

from __future__ import annotations

import time

import peewee


def database_time(db: peewee.Database) -> float:
    """Now, in Unix seconds, by the database's clock."""
    if isinstance(db, peewee.PostgresqlDatabase):
        # clock_timestamp(), not now(): now() is frozen at the start of a transaction.
        cursor = db.execute_sql("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
        return float(cursor.fetchone()[0])
    return time.time()
