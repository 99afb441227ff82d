"""How far recovery has made sure that every ended job's owed rows (its
notifications and its hook runs, ``jobs/owed.py``) are recorded.

A worker killed between a job's end and the recording of what the job owes
leaves them unrecorded; every recovery sweep records them for the jobs that
ended since this mark (``queue/aftercare.py``) and moves it on. The mark is
one ``mediaforge_meta`` row, shared by every worker and kept over restarts.
"""

from __future__ import annotations

from typing import Any, cast

import peewee

from mediaforge.jobs.clock import database_time
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import MetaRow

MARK_KEY = "owed_recorded_until"
"""The ``mediaforge_meta`` row: a job's ``finished_at`` up to which every
ended job's notifications and hooks are known to be recorded."""

OLD_MARK_KEY = "hooks_recorded_until"
"""The same mark under the name earlier versions gave it (it guarded both
kinds there too). Still read: a database that holds only it is not swept
again from scratch, and a worker of an earlier version running beside this
one keeps moving it. Still written too: earlier versions read only this
name, and one coming back (a rollback, a host not yet upgraded) would
otherwise sweep again from where it stopped and run hooks configured since
for jobs long over."""


def recorded_until() -> float | None:
    """Up to when every ended job's owed rows are recorded (None: never swept).
    The further of the two names: each says that much was recorded."""
    query = MetaRow.select(MetaRow.value).where(MetaRow.key.in_([MARK_KEY, OLD_MARK_KEY]))
    values = [float(value) for (value,) in cast(Any, query.tuples())]
    return max(values) if values else None


class OwedMark:
    """The mark in one job database."""

    def __init__(self, store: JobStore) -> None:
        self.db: peewee.Database = store.db

    def now(self) -> float:
        """Now by the database's clock, the one ``finished_at`` is stamped on."""
        return database_time(self.db)

    def get(self) -> float | None:
        """Up to when every ended job's owed rows are recorded (None: never swept)."""
        return recorded_until()

    def advance(self, until: float) -> None:
        """Move the mark forward to ``until`` under both its names, each never
        back (another worker's sweep may have moved it further meanwhile)."""
        with self.db.atomic():
            query = MetaRow.select(MetaRow.key, MetaRow.value).where(
                MetaRow.key.in_([MARK_KEY, OLD_MARK_KEY])
            )
            current = {key: float(value) for key, value in cast(Any, query.tuples())}
            for key in (MARK_KEY, OLD_MARK_KEY):
                if key in current and current[key] >= until:
                    continue
                MetaRow.insert(key=key, value=repr(until)).on_conflict(
                    conflict_target=[MetaRow.key], update={MetaRow.value: repr(until)}
                ).execute()
