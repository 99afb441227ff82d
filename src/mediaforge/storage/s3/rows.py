"""Upload rows as the code sees them: their kinds and states, the read-only
snapshot of one (``Upload``) and every read and write of them (``UploadStore``).
The table itself is declared with the job tables (jobs/store.py).
"""

from __future__ import annotations

import enum
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import peewee

from mediaforge.jobs.clock import database_time
from mediaforge.jobs.model import Job, JobStatus, snapshot
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import JobRow, UploadRow
from mediaforge.jobs.upload_rows import NewUpload, insert_uploads
from mediaforge.storage.s3.client import object_url
from mediaforge.units import iso_time

_EARLY = 0.2  # seconds before its due time a row may go


class UploadKind(enum.StrEnum):
    OUTPUT = "output"
    ORIGINAL = "original"


class UploadStatus(enum.StrEnum):
    """Where one file is in its upload; stored as text."""

    PENDING = "pending"  # waiting for a worker, or for its next attempt
    UPLOADING = "uploading"  # claimed by one worker, bytes flowing
    UPLOADED = "uploaded"  # in the store and verified
    FAILED = "failed"  # every attempt failed; `mediaforge s3 sync --retry-failed`


UNSETTLED = (UploadStatus.PENDING.value, UploadStatus.UPLOADING.value)


@dataclass(frozen=True)
class Upload:
    """A read-only snapshot of one upload row."""

    id: int
    job_id: int
    kind: UploadKind
    path: str
    name: str
    bucket: str
    key: str
    size: int
    content_type: str
    status: UploadStatus
    attempts: int
    error: str | None
    etag: str | None
    url: str | None
    url_expires_at: float | None
    local_deleted: bool
    host: str
    shared: bool
    due_at: float
    uploaded_at: float | None

    @classmethod
    def from_row(cls, row: UploadRow) -> Upload:
        return snapshot(
            cls,
            row,
            kind=UploadKind(row.kind),
            status=UploadStatus(row.status),
            local_deleted=bool(row.local_deleted),
            shared=bool(row.shared),
        )

    @property
    def s3_url(self) -> str:
        return object_url(self.bucket, self.key)

    @property
    def link_valid(self) -> bool:
        return self.url is not None and (self.url_expires_at or 0) > time.time()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one upload (in ``status --json``)."""

        pending = self.status is UploadStatus.PENDING
        return {
            "kind": self.kind.value,
            "path": self.path,
            "object": self.s3_url,
            "size": self.size,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
            "uploaded_at": iso_time(self.uploaded_at),
            "next_attempt_at": iso_time(self.due_at) if pending else None,
            "link": self.url,
            "link_expires_at": iso_time(self.url_expires_at),
            "local_deleted": self.local_deleted,
        }


def _visible_on(host: str) -> peewee.Expression:
    """Upload rows a worker on ``host`` can read the file of."""
    return (UploadRow.shared == True) | (UploadRow.host == host)  # noqa: E712 (SQL)


# -- the table ---------------------------------------------------------------------------


class UploadStore:
    """Reads and writes of upload rows (one per file owed to S3)."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.db: peewee.Database = store.db

    def add(self, job_id: int, items: Sequence[NewUpload]) -> int:
        with self.db.atomic():
            return insert_uploads(job_id, items, time.time())

    def for_job(self, job_id: int) -> list[Upload]:
        query = UploadRow.select().where(UploadRow.job_id == job_id).order_by(UploadRow.id)
        return [Upload.from_row(r) for r in query]

    def settled(self, job_id: int) -> bool:
        """Whether none of the job's files is still waiting or uploading."""
        return not (
            UploadRow.select()
            .where((UploadRow.job_id == job_id) & UploadRow.status.in_(UNSETTLED))
            .exists()
        )

    def batch_settled(self, batch: str) -> bool:
        """Whether no file of any job of ``batch`` is still waiting or uploading."""
        in_batch = JobRow.select(JobRow.id).where(JobRow.batch == batch)
        return not (
            UploadRow.select()
            .where(UploadRow.job_id.in_(in_batch) & UploadRow.status.in_(UNSETTLED))
            .exists()
        )

    def for_jobs(self, job_ids: Sequence[int]) -> dict[int, list[Upload]]:
        found: dict[int, list[Upload]] = {}
        query = UploadRow.select().where(UploadRow.job_id.in_(list(job_ids)))
        for row in query.order_by(UploadRow.id):
            found.setdefault(row.job_id, []).append(Upload.from_row(row))
        return found

    def original_failed(self, job_ids: Sequence[int]) -> bool:
        """Whether the upload of an original of these jobs failed for good."""
        return bool(
            UploadRow.select()
            .where(
                UploadRow.job_id.in_(list(job_ids))
                & (UploadRow.kind == UploadKind.ORIGINAL.value)
                & (UploadRow.status == UploadStatus.FAILED.value)
            )
            .exists()
        )

    def outputs_in_store(self, job_id: int) -> bool:
        """Whether every output file of the job is uploaded and verified (so its
        local copy may be gone: ``s3.delete_local``)."""
        statuses = {
            status
            for (status,) in cast(
                Any,
                UploadRow.select(UploadRow.status)
                .where((UploadRow.job_id == job_id) & (UploadRow.kind == UploadKind.OUTPUT.value))
                .tuples(),
            )
        }
        return statuses == {UploadStatus.UPLOADED.value}

    def originals_settled(self, job_ids: Sequence[int]) -> bool:
        """Whether no original of these jobs is still waiting or uploading."""
        return not (
            UploadRow.select()
            .where(
                UploadRow.job_id.in_(list(job_ids))
                & (UploadRow.kind == UploadKind.ORIGINAL.value)
                & UploadRow.status.in_(UNSETTLED)
            )
            .exists()
        )

    def due_job_ids(self, horizon: float, host: str | None = None) -> list[int]:
        """Jobs with a pending file due by ``horizon`` (that a worker on ``host`` may upload)."""
        where = (UploadRow.status == UploadStatus.PENDING.value) & (UploadRow.due_at <= horizon)
        if host is not None:
            where &= _visible_on(host)
        query = UploadRow.select(UploadRow.job_id).where(where).distinct()
        return sorted(job_id for (job_id,) in cast(Any, query.tuples()))

    def claim(
        self, job_id: int, claimer: str, *, everything: bool = False, host: str | None = None
    ) -> list[Upload]:
        """Take the job's due pending files (``everything``: all pending) for
        ``claimer``: those on shared storage, and those written on ``host``
        (default: this one); a file on another host's disk is left to it."""
        now = database_time(self.db)  # claims are judged stale on the database's clock
        where = (
            (UploadRow.job_id == job_id)
            & (UploadRow.status == UploadStatus.PENDING.value)
            & _visible_on(host or socket.gethostname())
        )
        if not everything:
            where &= UploadRow.due_at <= now + _EARLY
        with self.db.atomic():
            UploadRow.update(
                status=UploadStatus.UPLOADING.value,
                claimed_by=claimer,
                claimed_at=now,
                updated_at=now,
            ).where(where).execute()
        query = UploadRow.select().where(
            (UploadRow.claimed_by == claimer) & (UploadRow.status == UploadStatus.UPLOADING.value)
        )
        return [Upload.from_row(r) for r in query.order_by(UploadRow.id)]

    def waiting_elsewhere(self, job_id: int, host: str | None = None) -> bool:
        """Whether the job has pending files that only another host can upload."""
        return bool(
            UploadRow.select()
            .where(
                (UploadRow.job_id == job_id)
                & (UploadRow.status == UploadStatus.PENDING.value)
                & ~_visible_on(host or socket.gethostname())
            )
            .exists()
        )

    def touch(self, ids: Sequence[int], claimer: str) -> bool:
        """Refresh a claim while it is worked on (a claim that goes stale is taken
        back); False when none of ``ids`` is claimed by ``claimer`` any more."""
        with self.db.atomic():
            return bool(
                UploadRow.update(claimed_at=database_time(self.db))
                .where(
                    UploadRow.id.in_(list(ids))
                    & (UploadRow.claimed_by == claimer)
                    & (UploadRow.status == UploadStatus.UPLOADING.value)
                )
                .execute()
            )

    def settle(self, upload_id: int, claimer: str, status: UploadStatus, **fields: Any) -> bool:
        """Record the outcome of a claimed file; False when the claim was lost
        meanwhile (the recovery sweep gave the file to someone else)."""
        fields.update(status=status.value, claimed_by=None, claimed_at=None, updated_at=time.time())
        with self.db.atomic():
            return bool(
                UploadRow.update(**fields)
                .where(
                    (UploadRow.id == upload_id)
                    & (UploadRow.claimed_by == claimer)
                    & (UploadRow.status == UploadStatus.UPLOADING.value)
                )
                .execute()
            )

    def mark_local_deleted(self, upload_id: int) -> None:
        with self.db.atomic():
            UploadRow.update(local_deleted=True, updated_at=time.time()).where(
                UploadRow.id == upload_id
            ).execute()

    def set_link(self, upload_id: int, url: str, expires_at: float) -> None:
        with self.db.atomic():
            UploadRow.update(url=url, url_expires_at=expires_at, updated_at=time.time()).where(
                UploadRow.id == upload_id
            ).execute()

    def release_stale(self, claimed_before: float) -> list[int]:
        """Give back files claimed by a worker that died mid-upload (its claim went
        stale by the database's clock, or its process is provably gone: see
        ``WorkerStore.proven_dead``). Returns their jobs' ids."""
        rows = list(
            UploadRow.select(
                UploadRow.id, UploadRow.job_id, UploadRow.claimed_by, UploadRow.claimed_at
            ).where(UploadRow.status == UploadStatus.UPLOADING.value)
        )
        dead = self.store.workers.proven_dead(r.claimed_by for r in rows)
        stale = [r for r in rows if (r.claimed_at or 0) < claimed_before or r.claimed_by in dead]
        for row in stale:
            with self.db.atomic():
                UploadRow.update(
                    status=UploadStatus.PENDING.value,
                    claimed_by=None,
                    claimed_at=None,
                    due_at=time.time(),
                    updated_at=time.time(),
                ).where(
                    (UploadRow.id == row.id)
                    & (UploadRow.claimed_by == row.claimed_by)
                    & (UploadRow.status == UploadStatus.UPLOADING.value)
                ).execute()
        return sorted({r.job_id for r in stale})

    def retry_failed(self) -> list[int]:
        """Make every failed file pending again, with fresh attempts; returns their jobs."""
        job_ids = [
            job_id
            for (job_id,) in cast(
                Any,
                UploadRow.select(UploadRow.job_id)
                .where(UploadRow.status == UploadStatus.FAILED.value)
                .distinct()
                .tuples(),
            )
        ]
        with self.db.atomic():
            UploadRow.update(
                status=UploadStatus.PENDING.value,
                attempts=0,
                due_at=time.time(),
                updated_at=time.time(),
            ).where(UploadRow.status == UploadStatus.FAILED.value).execute()
        return sorted(job_ids)

    def uploaded_originals(self, path: str) -> list[Upload]:
        """The verified uploads of the original at ``path`` (any job's)."""
        query = UploadRow.select().where(
            (UploadRow.kind == UploadKind.ORIGINAL.value)
            & (UploadRow.path == path)
            & (UploadRow.status == UploadStatus.UPLOADED.value)
        )
        return [Upload.from_row(r) for r in query]

    def failed(self) -> list[Upload]:
        query = UploadRow.select().where(UploadRow.status == UploadStatus.FAILED.value)
        return [Upload.from_row(r) for r in query.order_by(UploadRow.id)]

    def pending(self) -> list[Upload]:
        query = UploadRow.select().where(UploadRow.status.in_(UNSETTLED))
        return [Upload.from_row(r) for r in query.order_by(UploadRow.id)]

    def jobs_without_uploads(self) -> list[Job]:
        """Succeeded jobs with outputs that have no upload rows at all (made
        before S3 was turned on, or while it was off)."""
        has_rows = UploadRow.select(UploadRow.job_id).where(UploadRow.job_id == JobRow.id)
        query = (
            JobRow.select()
            .where((JobRow.status == JobStatus.SUCCEEDED.value) & ~peewee.fn.EXISTS(has_rows))
            .order_by(JobRow.id)
        )
        return [Job.from_row(r) for r in query]
