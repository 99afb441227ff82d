"""The hook rows: which hook owes a run for which ending of which job.

One row per (job ending, hook), recorded when the job ends; the rows, not
the queue, say what is due. A worker claims one row with a compare-and-set
(``pending`` -> ``running`` under a claim token), runs the hook once and
settles the row: done, pending again for a retry at ``due_at``, or failed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from mediaforge.jobs.model import snapshot
from mediaforge.jobs.owed import OwedRows
from mediaforge.jobs.tables import HookRow
from mediaforge.units import iso_time


class HookStatus(enum.StrEnum):
    """Where a hook run is; stored as text."""

    PENDING = "pending"  # waiting for its first attempt or its next retry
    RUNNING = "running"  # claimed by one worker, which runs it now
    DONE = "done"
    FAILED = "failed"  # every attempt failed; not retried any more


@dataclass(frozen=True)
class NewHookRun:
    """A run of hook ``hook`` owed for the ending ``key`` of job ``job_id``."""

    job_id: int
    key: str
    hook: str
    kind: str
    event: str
    due_at: float


@dataclass(frozen=True)
class HookRun:
    """A read-only snapshot of one hook row."""

    id: int
    job_id: int
    key: str
    hook: str
    kind: str
    event: str
    status: HookStatus
    attempts: int
    error: str | None
    result: str | None
    output: str | None
    due_at: float
    created_at: float
    done_at: float | None

    @classmethod
    def from_row(cls, row: HookRow) -> HookRun:
        return snapshot(cls, row, status=HookStatus(row.status))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a hook's outcome (in ``status --json``)."""
        pending = self.status is HookStatus.PENDING
        return {
            "hook": self.hook,
            "kind": self.kind,
            "event": self.event,
            "status": self.status.value,
            "attempts": self.attempts,
            "result": self.result,
            "error": self.error,
            "output": self.output,
            "done_at": iso_time(self.done_at),
            "next_attempt_at": iso_time(self.due_at) if pending else None,
        }


class HookStore(OwedRows):
    """Reads and writes of hook rows, in the job database."""

    model = HookRow
    claimed, done, done_at = HookStatus.RUNNING.value, HookStatus.DONE.value, "done_at"

    def add(self, items: Sequence[NewHookRun]) -> int:
        """Record hook runs; one already recorded (same job, key and hook) is
        left alone, and so is one whose job no longer exists (pruned between
        its end and now). Returns how many rows were new."""
        with self.db.atomic():
            existing = self._jobs_that_exist(item.job_id for item in items)
            return self._add(
                {
                    "job_id": item.job_id,
                    "key": item.key,
                    "hook": item.hook,
                    "kind": item.kind,
                    "event": item.event,
                    "due_at": item.due_at,
                }
                for item in items
                if item.job_id in existing
            )

    def due_ids(self, horizon: float) -> list[int]:
        """Pending rows due by ``horizon``, oldest first."""
        query = (
            HookRow.select(HookRow.id)
            .where((HookRow.status == HookStatus.PENDING.value) & (HookRow.due_at <= horizon))
            .order_by(HookRow.due_at, HookRow.id)
        )
        return [row_id for (row_id,) in cast(Any, query.tuples())]

    def claim(self, row_id: int, claimer: str) -> HookRun | None:
        """Take one pending row for ``claimer`` (unique to this claim); None when
        another worker took it first."""
        now = self.now()
        with self.db.atomic():
            taken = (
                HookRow.update(
                    status=HookStatus.RUNNING.value,
                    claimed_by=claimer,
                    claimed_at=now,
                    updated_at=now,
                )
                .where((HookRow.id == row_id) & (HookRow.status == HookStatus.PENDING.value))
                .execute()
            )
        if not taken:
            return None
        return HookRun.from_row(HookRow.get_by_id(row_id))

    def refresh(self, row_id: int, claimer: str) -> bool:
        """Keep ``claimer``'s claim on a running row alive (while a hook runs
        long); False when the claim was taken away."""
        with self.db.atomic():
            return bool(
                HookRow.update(claimed_at=self.now(), updated_at=self.now())
                .where((HookRow.id == row_id) & self._held_by(claimer))
                .execute()
            )

    def settle(
        self,
        row_id: int,
        claimer: str,
        *,
        done: bool,
        result: str | None,
        output: str | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Record one attempt of a claimed row: done, to retry at ``retry_at``,
        or failed for good. Every text must already be redacted."""
        fields = self._settled(done=done, error=error, retry_at=retry_at)
        fields.update(result=result, output=output)
        with self.db.atomic():
            query = HookRow.update(**fields).where((HookRow.id == row_id) & self._held_by(claimer))
            query.execute()

    def for_job(self, job_id: int) -> list[HookRun]:
        """Every hook run recorded for ``job_id``, oldest first."""
        query = HookRow.select().where(HookRow.job_id == job_id).order_by(HookRow.id)
        return [HookRun.from_row(r) for r in query]
