"""The events people can be notified about (see docs/notifications.md)."""

from __future__ import annotations

import enum


class Event(enum.StrEnum):
    """Something that happened and may be worth a message; stored and configured as text."""

    JOB_SUCCEEDED = "job_succeeded"
    JOB_FAILED = "job_failed"
    JOB_CANCELLED = "job_cancelled"
    JOB_SKIPPED = "job_skipped"
    BATCH_FINISHED = "batch_finished"  # every job of a multi-file submit or a watch drop ended
    WORKER_STALLED = "worker_stalled"  # recovery found a worker that stopped heartbeating
    WORKER_STOPPED = "worker_stopped"  # a worker stopped on a signal (not a --burst worker)

    @classmethod
    def for_job(cls, status: str) -> Event:
        """The event of a job that ended in ``status`` (a finished ``JobStatus``)."""
        return _JOB_EVENTS[status]


# Keyed by JobStatus value: the config schema imports this module and must stay light.
_JOB_EVENTS = {
    "succeeded": Event.JOB_SUCCEEDED,
    "failed": Event.JOB_FAILED,
    "cancelled": Event.JOB_CANCELLED,
    "skipped": Event.JOB_SKIPPED,
}

DEFAULT_EVENTS: tuple[Event, ...] = (
    Event.JOB_SUCCEEDED,
    Event.JOB_FAILED,
    Event.BATCH_FINISHED,
    Event.WORKER_STALLED,
)
"""What a target hears about unless it lists its own events."""
