"""The notification rows: what is owed to each target, claimed and settled.

Each row is one message owed to one target about one event; the rows, not
the queue, say what is due. Workers claim a target's due rows with a
compare-and-set, as they claim jobs, and settle them after one attempt.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from mediaforge.jobs.model import Job, snapshot
from mediaforge.jobs.owed import OwedRows
from mediaforge.jobs.tables import NotificationRow
from mediaforge.units import iso_time


class NotificationStatus(enum.StrEnum):
    """Where a notification is in its delivery; stored as text."""

    PENDING = "pending"  # waiting for its digest window or its next retry
    SENDING = "sending"  # claimed by one worker, which is sending it now
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; not retried any more


@dataclass(frozen=True)
class NewNotification:
    """A message owed to ``target`` about ``event``, to send from ``due_at`` on."""

    key: str
    event: str
    target: str
    due_at: float
    job_id: int | None = None
    batch: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notification:
    """A read-only snapshot of one notification row."""

    id: int
    key: str
    event: str
    target: str
    job_id: int | None
    batch: str | None
    payload: dict[str, Any]
    status: NotificationStatus
    attempts: int
    error: str | None
    due_at: float
    created_at: float
    sent_at: float | None

    @classmethod
    def from_row(cls, row: NotificationRow) -> Notification:
        return snapshot(
            cls,
            row,
            payload=json.loads(row.payload or "{}"),
            status=NotificationStatus(row.status),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a delivery outcome (in ``status --json``)."""

        pending = self.status is NotificationStatus.PENDING
        return {
            "event": self.event,
            "target": self.target,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
            "sent_at": iso_time(self.sent_at),
            "next_attempt_at": iso_time(self.due_at) if pending else None,
        }


class NotificationStore(OwedRows):
    """Reads and writes of notification rows, in the job database."""

    model = NotificationRow
    claimed, done = NotificationStatus.SENDING.value, NotificationStatus.SENT.value
    done_at = "sent_at"

    def add(self, items: Sequence[NewNotification]) -> int:
        """Record messages to send; one already recorded (same key, event and
        target) is left alone, and so is one about a job that no longer exists
        (pruned between its end and now: its message could never be composed).
        Returns how many rows were new."""
        with self.db.atomic():
            existing = self._jobs_that_exist(item.job_id for item in items)
            return self._add(
                {
                    "key": item.key,
                    "event": item.event,
                    "target": item.target,
                    "job_id": item.job_id,
                    "batch": item.batch,
                    "payload": json.dumps(item.payload or {}),
                    "due_at": item.due_at,
                }
                for item in items
                if item.job_id is None or item.job_id in existing
            )

    def get(self, key: str, event: str, target: str) -> Notification | None:
        """One recorded message, None when it was never recorded."""
        row = NotificationRow.get_or_none(
            (NotificationRow.key == key)
            & (NotificationRow.event == event)
            & (NotificationRow.target == target)
        )
        return None if row is None else Notification.from_row(row)

    def due_targets(self, now: float) -> list[str]:
        """Targets with at least one pending message due by ``now``."""
        query = (
            NotificationRow.select(NotificationRow.target)
            .where(
                (NotificationRow.status == NotificationStatus.PENDING.value)
                & (NotificationRow.due_at <= now)
            )
            .distinct()
        )
        return sorted(target for (target,) in cast(Any, query.tuples()))

    def claim(self, target: str, claimer: str) -> list[Notification]:
        """Take every pending message of ``target`` for ``claimer`` to send as one.

        A compare-and-set, like claiming a job: of two workers claiming the
        same rows, one gets them and the other gets none. ``claimer`` must be
        unique to this claim.
        """
        now = self.now()
        with self.db.atomic():
            NotificationRow.update(
                status=NotificationStatus.SENDING.value,
                claimed_by=claimer,
                claimed_at=now,
                updated_at=now,
            ).where(
                (NotificationRow.target == target)
                & (NotificationRow.status == NotificationStatus.PENDING.value)
            ).execute()
        query = NotificationRow.select().where(
            (NotificationRow.claimed_by == claimer)
            & (NotificationRow.status == NotificationStatus.SENDING.value)
        )
        return [Notification.from_row(r) for r in query.order_by(NotificationRow.id)]

    def settle(
        self,
        ids: Sequence[int],
        claimer: str,
        *,
        sent: bool,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Record one delivery attempt of claimed messages: sent, to retry at
        ``retry_at``, or failed for good. ``error`` must already be redacted."""
        fields = self._settled(done=sent, error=error, retry_at=retry_at)
        with self.db.atomic():
            NotificationRow.update(**fields).where(
                NotificationRow.id.in_(list(ids)) & self._held_by(claimer)
            ).execute()

    def for_job(self, job: Job) -> list[Notification]:
        """The messages about ``job``: its own and its batch's digest."""
        where = NotificationRow.job_id == job.id
        if job.batch:
            where = where | (
                (NotificationRow.batch == job.batch) & NotificationRow.job_id.is_null()
            )
        query = NotificationRow.select().where(where).order_by(NotificationRow.id)
        return [Notification.from_row(r) for r in query]
