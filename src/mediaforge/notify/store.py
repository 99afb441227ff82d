"""The notification rows: what is owed to each target, claimed and settled."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from mediaforge.jobs.model import snapshot
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
