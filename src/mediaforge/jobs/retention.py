"""Retention: finished jobs older than a cutoff leave the job database, with
their notification, upload and hook rows (``mediaforge jobs prune`` and the
workers' periodic pruning when ``jobs.retention_days`` is set).

Nothing owed is lost: a job stays while one of its notifications is still to
be sent, while one of its uploads is not in the store (a failed upload can
still be retried with ``s3 sync --retry-failed``), while one of its hooks is
still to run, while a digest of its batch is still to be sent, and while
another job of its batch has not ended (the digest, recorded when the last
one ends, counts every job of the batch; held whichever targets are
configured, as those may change before then). A job that ended after the
recovery mark (``jobs/owed_mark.py``) stays too: its worker may have died
before recording its notifications and hooks, and the next sweep records
them. What a pruned job did
is remembered in a compact table (``pruned_job``: input fingerprint, preset,
outcome, output paths), so the watch folders do not do its input again nor
take its outputs for new work.

Jobs go in batches, each one short transaction, so workers writing at the
same time wait milliseconds, not minutes. Any number of processes may prune
at once: a job is deleted once, and remembered once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from mediaforge.jobs.model import FINISHED, JobStatus
from mediaforge.jobs.owed_mark import recorded_until
from mediaforge.jobs.store import mentioning
from mediaforge.jobs.tables import HookRow, JobRow, NotificationRow, PrunedJobRow, UploadRow
from mediaforge.units import iso_time

BATCH = 500  # jobs per transaction
DAY = 86400.0

# Rows still owed: a notification to send, an upload not (yet) in the store.
_UNSENT_NOTIFICATIONS = ("pending", "sending")
_UNRUN_HOOKS = ("pending", "running")  # a hook run still to come (hooks/store.py)
_UPLOADED = "uploaded"


@dataclass(frozen=True)
class Pruned:
    """What a prune removed (or, for a dry run, would remove)."""

    cutoff: float  # jobs finished before this Unix time
    jobs: int
    notifications: int
    uploads: int
    hooks: int  # hook runs that ended (done or failed); one still to come keeps its job
    held: int  # finished before the cutoff, kept because something is still owed

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": iso_time(self.cutoff),
            "jobs": self.jobs,
            "notifications": self.notifications,
            "uploads": self.uploads,
            "hooks": self.hooks,
            "held": self.held,
        }


@dataclass(frozen=True)
class Remembered:
    """A pruned job, as the watch folders need it."""

    id: int
    status: JobStatus
    finished_at: float | None


def _old(cutoff: float) -> Any:
    """Finished jobs that ended before ``cutoff``."""
    ended = peewee.fn.COALESCE(JobRow.finished_at, JobRow.updated_at)
    return JobRow.status.in_([s.value for s in FINISHED]) & (ended < cutoff)


def _owing() -> Any:
    """Jobs something is still owed for (their subqueries hold no NULL, so
    NOT IN is safe)."""
    notes = NotificationRow.select(NotificationRow.job_id).where(
        NotificationRow.status.in_(_UNSENT_NOTIFICATIONS) & NotificationRow.job_id.is_null(False)
    )
    uploads = UploadRow.select(UploadRow.job_id).where(UploadRow.status != _UPLOADED)
    hooks = HookRow.select(HookRow.job_id).where(HookRow.status.in_(_UNRUN_HOOKS))
    digests = NotificationRow.select(NotificationRow.batch).where(
        NotificationRow.status.in_(_UNSENT_NOTIFICATIONS) & NotificationRow.batch.is_null(False)
    )
    return (
        JobRow.id.in_(notes)
        | JobRow.id.in_(uploads)
        | JobRow.id.in_(hooks)
        | (JobRow.batch.is_null(False) & JobRow.batch.in_(digests))
    )


def _batch_unended() -> Any:
    """Jobs of a batch that still has a job not ended: the batch's digest is
    recorded when its last job ends and counts them all (the subquery holds no
    NULL, so NOT IN is safe)."""
    others = JobRow.alias()
    unended = others.select(others.batch).where(
        others.status.not_in([s.value for s in FINISHED]) & others.batch.is_null(False)
    )
    return JobRow.batch.is_null(False) & JobRow.batch.in_(unended)


def _after_mark(mark: float) -> Any:
    """Jobs that ended after the recovery mark: their notifications and hooks
    may not be recorded yet (a worker that died right after their end)."""
    # finished_at is tested for NULL first: the negation must be true, not NULL.
    return JobRow.finished_at.is_null(False) & (JobRow.finished_at > mark)


def _holding(mark: float | None) -> Any:
    """Finished jobs to keep: owed something, in a batch not yet ended, or
    not yet passed by the recovery sweeps (with no mark, never swept, there
    is nothing to go by: none is held for that)."""
    holding = _owing() | _batch_unended()
    return holding if mark is None else holding | _after_mark(mark)


def _count_rows(model: Any, condition: Any) -> int:
    jobs = JobRow.select(JobRow.id).where(condition)
    return int(model.select().where(model.job_id.in_(jobs)).count())


def prune(
    db: peewee.Database,
    cutoff: float,
    *,
    dry_run: bool = False,
    stopping: Callable[[], bool] = lambda: False,
) -> Pruned:
    """Delete the finished jobs that ended before ``cutoff`` and are owed
    nothing, with their notification, upload and hook rows, remembering what each
    did; with ``dry_run``, only count them. ``stopping`` is asked between
    batches: a worker asked to stop leaves the rest for its next prune."""
    mark = recorded_until()
    prunable = _old(cutoff) & ~_holding(mark)
    held = int(JobRow.select().where(_old(cutoff) & _holding(mark)).count())
    if dry_run:
        return Pruned(
            cutoff,
            int(JobRow.select().where(prunable).count()),
            _count_rows(NotificationRow, prunable),
            _count_rows(UploadRow, prunable),
            _count_rows(HookRow, prunable),
            held,
        )
    removed = [0, 0, 0, 0]  # jobs, notification, upload and hook rows
    while True:
        with db.atomic():
            rows = list(JobRow.select().where(prunable).order_by(JobRow.id).limit(BATCH))
            if not rows:
                break
            done = _prune_rows(rows)
        removed = [total + n for total, n in zip(removed, done, strict=True)]
        if len(rows) < BATCH or done[0] == 0 or stopping():
            break
    jobs, notifications, uploads, hooks = removed
    return Pruned(cutoff, jobs, notifications, uploads, hooks, held)


def _prune_rows(rows: Sequence[JobRow]) -> tuple[int, int, int, int]:
    """Remember and delete ``rows`` (inside the caller's transaction)."""
    now = time.time()
    ids = [int(r.id) for r in rows]
    memory = [
        {
            "id": r.id,
            "input_path": r.input_path,
            "input_hash": r.input_hash,
            "preset": r.preset,
            "status": r.status,
            "outputs": json.dumps([o.get("path") for o in json.loads(r.outputs or "[]")]),
            "finished_at": r.finished_at,
            "updated_at": now,
        }
        for r in rows
    ]
    PrunedJobRow.insert_many(memory).on_conflict_ignore().execute()
    # Only the settled rows: one that became owed meanwhile keeps its job (below).
    notifications = (
        NotificationRow.delete()
        .where(
            NotificationRow.job_id.in_(ids) & NotificationRow.status.not_in(_UNSENT_NOTIFICATIONS)
        )
        .execute()
    )
    uploads = (
        UploadRow.delete()
        .where(UploadRow.job_id.in_(ids) & (UploadRow.status == _UPLOADED))
        .execute()
    )
    # Hook runs that ended (done or failed) go with their job.
    hooks = (
        HookRow.delete()
        .where(HookRow.job_id.in_(ids) & HookRow.status.not_in(_UNRUN_HOOKS))
        .execute()
    )
    left = NotificationRow.select(NotificationRow.job_id).where(NotificationRow.job_id.in_(ids))
    left_uploads = UploadRow.select(UploadRow.job_id).where(UploadRow.job_id.in_(ids))
    left_hooks = HookRow.select(HookRow.job_id).where(HookRow.job_id.in_(ids))
    jobs = (
        JobRow.delete()
        .where(
            JobRow.id.in_(ids)
            & JobRow.status.in_([s.value for s in FINISHED])
            & JobRow.id.not_in(left)
            & JobRow.id.not_in(left_uploads)
            & JobRow.id.not_in(left_hooks)
            # A job of its batch retried meanwhile: the digest will count it.
            & ~_batch_unended()
        )
        .execute()
    )
    return int(jobs), int(notifications), int(uploads), int(hooks)


def prune_older_than(
    db: peewee.Database, days: float, *, stopping: Callable[[], bool] = lambda: False
) -> Pruned:
    """:func:`prune` of the jobs that finished more than ``days`` days ago."""
    return prune(db, time.time() - days * DAY, stopping=stopping)


def remembered_job(input_hash: str, preset: str) -> Remembered | None:
    """The latest pruned job that did this content with ``preset``, if any."""
    row = (
        PrunedJobRow.select()
        .where((PrunedJobRow.input_hash == input_hash) & (PrunedJobRow.preset == preset))
        .order_by(PrunedJobRow.id.desc())
        .first()
    )
    if row is None:
        return None
    return Remembered(int(row.id), JobStatus(row.status), row.finished_at)


def remembered_output(paths: Sequence[str]) -> int | None:
    """The pruned job that published one of ``paths`` as an output, if any."""
    wanted = set(paths)
    condition = mentioning(PrunedJobRow.outputs, wanted)
    if condition is None:
        return None
    for row in PrunedJobRow.select(PrunedJobRow.id, PrunedJobRow.outputs).where(condition):
        if wanted.intersection(json.loads(row.outputs or "[]")):
            return int(row.id)
    return None
