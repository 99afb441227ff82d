"""The numbers about jobs that ``mediaforge stats``, the dashboard and
``/metrics`` show: one reading of the job table, so all three agree."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import HookRow, JobRow, NotificationRow, UploadRow
from mediaforge.units import iso_time

# A failure reason is its first line, cut here: long enough to tell reasons apart.
REASON_CHARS = 120


@dataclass
class Totals:
    """Counts and sizes of one group of jobs (all of them, or one preset's)."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(JobStatus, 0))
    bytes_in: int = 0  # inputs of succeeded jobs
    bytes_out: int = 0  # their outputs
    media_seconds: float = 0.0  # input duration of succeeded jobs
    busy_seconds: float = 0.0  # how long their last attempts ran

    @property
    def space_saved(self) -> int:
        return self.bytes_in - self.bytes_out

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of media made per second of work (above 1: faster than playback)."""
        return self.media_seconds / self.busy_seconds if self.busy_seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        factor = self.realtime_factor
        return {
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "space_saved": self.space_saved,
            "media_seconds": round(self.media_seconds, 3),
            "busy_seconds": round(self.busy_seconds, 3),
            "realtime_factor": None if factor is None else round(factor, 3),
        }


@dataclass
class Stats:
    """Totals, per preset, the run time and realtime factor of each succeeded
    job (for histograms), and failures counted by reason."""

    since: float | None
    total: Totals = field(default_factory=Totals)
    by_preset: dict[str, Totals] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)
    realtime_factors: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    notifications_failed: int = 0  # messages every attempt failed for
    uploads_failed: int = 0  # S3 uploads every attempt failed for
    hooks_failed: int = 0  # hook runs every attempt failed for

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (``stats --json``, ``/api/v1/stats``)."""
        return {
            "since": iso_time(self.since),
            **self.total.to_dict(),
            "succeeded_per_hour": self.succeeded_per_hour(),
            "by_preset": {name: t.to_dict() for name, t in sorted(self.by_preset.items())},
            "notifications_failed": self.notifications_failed,
            "uploads_failed": self.uploads_failed,
            "hooks_failed": self.hooks_failed,
            "failures": [
                {"reason": reason, "count": n} for reason, n in self.failures.most_common()
            ],
        }

    def succeeded_per_hour(self) -> float | None:
        """Jobs that succeeded per hour of work."""
        busy = self.total.busy_seconds
        done = self.total.by_status[JobStatus.SUCCEEDED]
        return round(done * 3600 / busy, 3) if busy > 0 else None


def failure_reason(error: str | None) -> str:
    """The reason a failure is counted under: the first line of its error."""
    lines = (error or "").strip().splitlines()
    return (lines[0] if lines else "no reason recorded")[:REASON_CHARS]


def job_stats(store: JobStore, since: float | None = None) -> Stats:
    """Read every job (finished ones only when they finished after ``since``)."""
    stats = Stats(since)
    query = JobRow.select(
        JobRow.status, JobRow.preset, JobRow.input_size, JobRow.input_duration,
        JobRow.outputs, JobRow.started_at, JobRow.finished_at, JobRow.error,
    )  # fmt: skip
    if since is not None:
        query = query.where(JobRow.finished_at.is_null() | (JobRow.finished_at >= since))
    rows = cast(Any, query.tuples().execute(store.db))
    for status_text, preset, size, duration, outputs, started, finished, error in rows:
        status = JobStatus(status_text)
        groups = (stats.total, stats.by_preset.setdefault(preset, Totals()))
        for totals in groups:
            totals.by_status[status] += 1
        if status is JobStatus.FAILED:
            stats.failures[failure_reason(error)] += 1
        if status is not JobStatus.SUCCEEDED:
            continue
        made = sum(int(o.get("size") or 0) for o in json.loads(outputs or "[]"))
        took = max(0.0, finished - started) if started and finished else 0.0
        for totals in groups:
            totals.bytes_in += size or 0
            totals.bytes_out += made
            totals.busy_seconds += took
            totals.media_seconds += duration or 0.0
        if took > 0:
            stats.durations.append(took)
            if duration:
                stats.realtime_factors.append(duration / took)
    stats.notifications_failed = (
        NotificationRow.select().where(NotificationRow.status == "failed").count(store.db)
    )
    stats.uploads_failed = UploadRow.select().where(UploadRow.status == "failed").count(store.db)
    stats.hooks_failed = HookRow.select().where(HookRow.status == "failed").count(store.db)
    return stats
