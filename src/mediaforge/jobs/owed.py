"""Rows of what is owed once a job has ended (a notification, a hook run):
recorded once, claimed by one worker with a compare-and-set, settled after
each attempt, and given back when the worker holding them died.

The stores of each kind (``notify/store.py``, ``hooks/store.py``) build on
``OwedRows``; what differs is the table, the names of the claimed and done
states, and how rows are claimed (a target's rows at once, or one row).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import peewee

from mediaforge.jobs.clock import database_time
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import JobRow

PENDING = "pending"  # waiting for its first attempt or its next retry
FAILED = "failed"  # every attempt failed; not retried any more


class OwedRows:
    """The shared reads and writes of one table of owed rows."""

    model: Any  # the peewee model of the table
    claimed: str  # the state of a row a worker holds ("sending", "running")
    done: str  # the state of a row that went through ("sent", "done")
    done_at: str  # the column stamped when it did

    def __init__(self, store: JobStore) -> None:
        self.db: peewee.Database = store.db

    def now(self) -> float:
        """Now by the database's clock: claims are stamped and judged stale on
        it, whichever host's worker stamped or judges them (see jobs/clock.py)."""
        return database_time(self.db)

    def _add(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert ``rows`` (column -> value); one already recorded (the table's
        unique key) is left alone. Returns how many rows were new."""
        now = self.now()
        added = 0
        with self.db.atomic():
            for row in rows:
                query = self.model.insert(**row, created_at=now, updated_at=now)
                # rowcount, not the returned id: SQLite reports the last rowid
                # even when the row was ignored.
                added += max(0, self.db.execute(query.on_conflict_ignore()).rowcount)
        return added

    def next_due(self) -> float | None:
        """The earliest due time of a pending row, if any."""
        model = self.model
        due = model.select(peewee.fn.MIN(model.due_at)).where(model.status == PENDING).scalar()
        return None if due is None else float(due)

    def _settled(
        self, *, done: bool, error: str | None, retry_at: float | None
    ) -> dict[str, Any]:
        """The columns of one attempt's outcome: done, to retry at ``retry_at``,
        or failed for good (``error`` already redacted)."""
        now = self.now()
        fields: dict[str, Any] = {
            "attempts": self.model.attempts + 1,
            "claimed_by": None,
            "claimed_at": None,
            "updated_at": now,
        }
        if done:
            fields.update({"status": self.done, self.done_at: now, "error": None})
        elif retry_at is not None:
            fields.update(status=PENDING, due_at=retry_at, error=error)
        else:
            fields.update(status=FAILED, error=error)
        return fields

    def _held_by(self, claimer: str) -> Any:
        """The condition for rows ``claimer`` holds."""
        return (self.model.claimed_by == claimer) & (self.model.status == self.claimed)

    def release_stale(self, claimed_before: float) -> int:
        """Give back rows claimed (or last refreshed) before ``claimed_before``:
        their worker died with them; they go again (at least once, not exactly once)."""
        model = self.model
        with self.db.atomic():
            return int(
                model.update(
                    status=PENDING, claimed_by=None, claimed_at=None, updated_at=self.now()
                )
                .where((model.status == self.claimed) & (model.claimed_at < claimed_before))
                .execute()
            )

    def _jobs_that_exist(self, job_ids: Iterable[int | None]) -> set[int]:
        """Which of ``job_ids`` still name a job: a row about a job pruned
        between its end and its recording could never be acted on."""
        ids = sorted({job_id for job_id in job_ids if job_id is not None})
        if not ids:
            return set()
        query = JobRow.select(JobRow.id).where(JobRow.id.in_(ids))
        return {job_id for (job_id,) in cast(Any, query.tuples())}
