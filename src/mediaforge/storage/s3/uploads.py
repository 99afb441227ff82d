"""S3 sync: which files of a job go where, and uploading them as a step of their own.

When a job succeeds, the transaction that marks it succeeded also records one
``upload`` row per file it owes to S3 (``planned_uploads``); a queued task
(``mediaforge.upload``) then uploads them (``Uploader.upload_job``). So an
upload is never the job's business: it is retried on its own with backoff, a
store that is down never fails or redoes a transcode, and ``mediaforge s3
sync`` finds whatever is still owed.

An upload counts only once it is verified (size and ETag, see s3.py); only
then may the local copy be deleted (``s3.delete_local``), and an original
only once every job of that file has succeeded. Rows are claimed with a
compare-and-set like jobs, and the claim is refreshed while bytes flow, so a
worker that dies mid-upload leaves its rows to be taken again.

Where things go: outputs to ``processed_prefix`` + the output's name (an HLS
folder keeps its layout), originals to ``raw_prefix`` + the input's name.
An object that already holds the same bytes is not uploaded again; one that
holds another file is never overwritten.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import peewee

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted
from mediaforge.jobs.pulse import Pulse
from mediaforge.jobs.store import (
    Job,
    JobRow,
    JobStatus,
    JobStore,
    NewUpload,
    Output,
    UploadRow,
    insert_uploads,
    snapshot,
    worker_is_dead_here,
)
from mediaforge.storage.s3.client import (
    JOB_KEY,
    ORIGIN_KEY,
    S3Client,
    S3Error,
    content_type_for,
    etag_is_md5,
    expected_etag,
    is_s3_url,
    object_url,
    parse_s3_url,
)

log = logging.getLogger(__name__)

StopCheck = Callable[[], str | None]
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
        )

    @property
    def s3_url(self) -> str:
        return object_url(self.bucket, self.key)

    @property
    def link_valid(self) -> bool:
        return self.url is not None and (self.url_expires_at or 0) > time.time()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one upload (in ``status --json``)."""

        def iso(ts: float | None) -> str | None:
            return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()

        pending = self.status is UploadStatus.PENDING
        return {
            "kind": self.kind.value,
            "path": self.path,
            "object": self.s3_url,
            "size": self.size,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
            "uploaded_at": iso(self.uploaded_at),
            "next_attempt_at": iso(self.due_at) if pending else None,
            "link": self.url,
            "link_expires_at": iso(self.url_expires_at),
            "local_deleted": self.local_deleted,
        }


# -- what goes where -------------------------------------------------------------------


def upload_bucket(config: Config, input_path: str) -> str | None:
    """The bucket a job's files go to: ``s3.bucket``, else an s3:// input's own
    bucket; None when the job owes nothing to S3."""
    if config.s3.bucket is not None:
        return config.s3.bucket
    if is_s3_url(input_path):
        return parse_s3_url(input_path)[0]
    return None


def _key(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix.strip("/") else name


def _files_of(output: Output) -> Iterable[tuple[Path, str]]:
    """``(file, name in the store)`` of an output; an HLS folder gives every file in it."""
    path = Path(output.path)
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield file, f"{path.name}/{file.relative_to(path).as_posix()}"
    else:
        yield path, path.name


def planned_uploads(config: Config, input_path: str, outputs: Sequence[Output]) -> list[NewUpload]:
    """The files a job that made ``outputs`` from ``input_path`` owes to S3
    (none when S3 is off). Files that are not there are left out."""
    bucket = upload_bucket(config, input_path)
    if bucket is None:
        return []
    settings = config.s3
    items: list[NewUpload] = []

    def add(kind: UploadKind, path: Path, name: str, prefix: str) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        key = _key(prefix, name)
        items.append(
            NewUpload(kind.value, str(path), name, bucket, key, size, content_type_for(path))
        )

    if settings.upload in ("outputs", "both"):
        for output in outputs:
            for file, name in _files_of(output):
                add(UploadKind.OUTPUT, file, name, settings.processed_prefix)
    if settings.upload in ("originals", "both") and not is_s3_url(input_path):
        original = Path(input_path)
        add(UploadKind.ORIGINAL, original, original.name, settings.raw_prefix)
    return items


def _origin(path: str) -> str:
    """A token naming one local file (host and path), stored as object metadata:
    an object with another origin is another file and is never overwritten."""
    return hashlib.sha256(f"{socket.gethostname()}:{path}".encode()).hexdigest()[:32]


def _wants_link(upload: Upload) -> bool:
    """Links are made for outputs: each file, and an HLS folder's master playlist
    (its segments are reached through it)."""
    if upload.kind is not UploadKind.OUTPUT:
        return False
    return "/" not in upload.name or (
        upload.name.count("/") == 1 and upload.name.endswith("/master.m3u8")
    )


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

    def due_job_ids(self, horizon: float) -> list[int]:
        """Jobs with a pending file due by ``horizon``."""
        query = (
            UploadRow.select(UploadRow.job_id)
            .where((UploadRow.status == UploadStatus.PENDING.value) & (UploadRow.due_at <= horizon))
            .distinct()
        )
        return sorted(job_id for (job_id,) in cast(Any, query.tuples()))

    def claim(self, job_id: int, claimer: str, *, everything: bool = False) -> list[Upload]:
        """Take the job's due pending files (``everything``: all pending) for ``claimer``."""
        now = time.time()
        where = (UploadRow.job_id == job_id) & (UploadRow.status == UploadStatus.PENDING.value)
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

    def touch(self, ids: Sequence[int], claimer: str) -> bool:
        """Refresh a claim while it is worked on (a claim that goes stale is taken
        back); False when none of ``ids`` is claimed by ``claimer`` any more."""
        with self.db.atomic():
            return bool(
                UploadRow.update(claimed_at=time.time())
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
        stale, or its process is gone from this host). Returns their jobs' ids."""
        rows = UploadRow.select(
            UploadRow.id, UploadRow.job_id, UploadRow.claimed_by, UploadRow.claimed_at
        ).where(UploadRow.status == UploadStatus.UPLOADING.value)
        stale = [
            r
            for r in rows
            if (r.claimed_at or 0) < claimed_before
            or worker_is_dead_here((r.claimed_by or "").split("#", 1)[0])
        ]
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


# -- uploading ----------------------------------------------------------------------------


@dataclass
class Round:
    """What one ``upload_job`` call did."""

    uploaded: list[Upload] = field(default_factory=list)
    already: list[Upload] = field(default_factory=list)  # the store had the same bytes
    retrying: list[Upload] = field(default_factory=list)
    failed: list[Upload] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # local copies removed
    retry_in: float | None = None  # the earliest next attempt this round scheduled
    settled: bool = False  # the job has nothing more to upload (for its notification)

    def add(self, other: Round) -> None:
        self.uploaded += other.uploaded
        self.already += other.already
        self.retrying += other.retrying
        self.failed += other.failed
        self.deleted += other.deleted


class _Permanent(S3Error):
    """An upload that trying again cannot fix (the file is gone, the key is taken)."""


class _Elsewhere(S3Error):
    """The file is on another machine's disk: not this worker's to upload."""


_ELSEWHERE = 5.0  # seconds before an upload handed back for another machine goes again


class Uploader:
    """Uploads the files jobs owe to S3; one per worker process (or CLI command)."""

    def __init__(self, config: Config, store: JobStore, client: S3Client | None = None) -> None:
        self.config, self.store = config, store
        self.settings = config.s3
        self.table = UploadStore(store)
        self._client = client

    @property
    def client(self) -> S3Client:
        """The S3 client, made on first use (ConfigError when boto3 is missing)."""
        if self._client is None:
            self._client = S3Client(self.settings)
        return self._client

    def upload_job(
        self,
        job_id: int,
        claimer: str,
        *,
        everything: bool = False,
        stop: StopCheck = lambda: None,
        on_file: Callable[[Upload], None] | None = None,
    ) -> Round:
        """Upload the job's due files (``everything``: all its pending files).

        ``stop`` is polled while bytes flow; returning a reason abandons the
        upload and gives the file back without using up an attempt.
        """
        claim = f"{claimer}#{uuid.uuid4().hex[:8]}"
        result = Round()
        rows = self.table.claim(job_id, claim, everything=everything)
        interval = self.config.worker.heartbeat_interval
        beat = _Beat(stop, interval)
        ids = [r.id for r in rows]

        def one(row: Upload) -> bool:
            beat(0)  # a stop asked for before this file started: do not start it
            if on_file is not None:
                on_file(row)
            return self._upload_one(row, claim, beat)

        interrupted: Interrupted | None = None
        # Files in parallel (an HLS folder is hundreds of small ones); a large
        # file's parts are parallel inside boto3 as well. The claims on all of
        # them are refreshed for the whole round, whatever a request waits on.
        with (
            Pulse(lambda: self.table.touch(ids, claim), interval),
            ThreadPoolExecutor(
                max_workers=max(1, min(self.settings.concurrency, len(rows)))
            ) as pool,
        ):
            futures = {pool.submit(one, row): row for row in rows}
            for future in as_completed(futures):
                row = futures[future]
                try:
                    sent = future.result()
                except Interrupted as exc:
                    interrupted = exc
                except S3Error as exc:
                    self._failed(row, claim, exc, result)
                else:
                    (result.uploaded if sent else result.already).append(self._get(row.id))
        if interrupted is not None:
            for row in rows:  # whatever is still ours goes back, no attempt used
                self.table.settle(row.id, claim, UploadStatus.PENDING)
            log.info("job %s: uploads handed back (%s)", job_id, interrupted.reason)
            raise interrupted
        uploads = self.table.for_job(job_id)
        verified = uploads and all(u.status is UploadStatus.UPLOADED for u in uploads)
        if verified and self.settings.delete_local:
            # The original may have gone up with another job of the same file.
            input_path = self.store.get(job_id).input_path
            shared = [u for u in self.table.uploaded_originals(input_path) if u.job_id != job_id]
            result.deleted += self._delete_local(job_id, [*uploads, *shared])
        result.settled = bool(rows) and self.table.settled(job_id)
        return result

    def _get(self, upload_id: int) -> Upload:
        return Upload.from_row(UploadRow.get_by_id(upload_id))

    def _upload_one(self, row: Upload, claim: str, beat: _Beat) -> bool:
        """Upload and verify one file; False when the store had its bytes already."""
        path = Path(row.path)
        try:
            size = path.stat().st_size
        except OSError:
            if row.host != socket.gethostname():
                # Scale-out: the file was written on another machine and is
                # not visible here; hand it back for a worker over there.
                raise _Elsewhere(f"{path} is on {row.host}; left for a worker there") from None
            raise _Permanent(f"{path} is gone; nothing to upload") from None
        client = self.client
        expected = expected_etag(
            path, threshold=client.threshold, part_size=client.part_size, progress=beat
        )
        origin = _origin(row.path)
        existing = client.head(row.bucket, row.key)
        if existing is not None and existing.size == size and existing.etag == expected:
            self._uploaded(row, claim, existing.etag, size)
            log.info("%s is in the store already (same bytes); not uploaded again", row.s3_url)
            return False
        if existing is not None and existing.metadata.get(ORIGIN_KEY) != origin:
            raise _Permanent(
                f"{row.s3_url} already holds another file; nothing was overwritten: move or "
                "delete that object in the store, then 'mediaforge s3 sync --retry-failed'"
            )
        reported = client.upload(
            path,
            row.bucket,
            row.key,
            content_type=row.content_type,
            metadata={ORIGIN_KEY: origin, JOB_KEY: str(row.job_id)},
            md5=expected if "-" not in expected else None,
            progress=beat,
        )
        if reported is not None and reported == expected:
            # A single PUT whose Content-MD5 the store checked: it holds these bytes.
            etag = reported
        else:
            stored = client.head(row.bucket, row.key)
            if stored is None or stored.size != size:
                got = "nothing" if stored is None else f"{stored.size} bytes"
                raise S3Error(f"{row.s3_url}: the store holds {got} after uploading {size} bytes")
            if etag_is_md5(stored.etag) and stored.etag != expected:
                raise S3Error(f"{row.s3_url}: the stored ETag does not match the file's MD5")
            etag = stored.etag
        self._uploaded(row, claim, etag, size)
        log.info("uploaded %s to %s (%d bytes)", path, row.s3_url, size)
        return True

    def _uploaded(self, row: Upload, claim: str, etag: str, size: int) -> None:
        fields: dict[str, Any] = {
            "etag": etag,
            "error": None,
            "uploaded_at": time.time(),
            "attempts": row.attempts + 1,
            "size": size,
        }
        if self.settings.link_expiry and _wants_link(row):
            fields["url"] = self.client.presign(row.bucket, row.key, self.settings.link_expiry)
            fields["url_expires_at"] = time.time() + self.settings.link_expiry
        self.table.settle(row.id, claim, UploadStatus.UPLOADED, **fields)

    def _failed(self, row: Upload, claim: str, exc: S3Error, result: Round) -> None:
        if isinstance(exc, _Elsewhere):
            self.table.settle(row.id, claim, UploadStatus.PENDING, due_at=time.time() + _ELSEWHERE)
            result.retry_in = min(result.retry_in or _ELSEWHERE, _ELSEWHERE)
            log.info("%s", exc)
            return
        attempt = row.attempts + 1
        if isinstance(exc, _Permanent) or attempt >= self.settings.max_attempts:
            if self.table.settle(
                row.id, claim, UploadStatus.FAILED, attempts=attempt, error=str(exc)
            ):
                result.failed.append(self._get(row.id))
                log.error("upload of %s failed for good: %s", row.s3_url, exc)
            return
        delay = self.settings.retry_backoff * 2 ** (attempt - 1)
        if not self.table.settle(
            row.id,
            claim,
            UploadStatus.PENDING,
            attempts=attempt,
            error=str(exc),
            due_at=time.time() + delay,
        ):
            return  # the file was given to another worker meanwhile: its outcome counts
        result.retrying.append(self._get(row.id))
        result.retry_in = delay if result.retry_in is None else min(result.retry_in, delay)
        log.warning(
            "upload of %s failed (attempt %d/%d): %s; next attempt in %g s",
            row.s3_url,
            attempt,
            self.settings.max_attempts,
            exc,
            delay,
        )

    # -- deleting local copies ------------------------------------------------------

    def _delete_local(self, job_id: int, uploads: Sequence[Upload]) -> list[str]:
        """Remove the local copies of a job's verified uploads (``s3.delete_local``).

        Outputs go together once all of them are verified; an original only
        when every job of that file has succeeded or was skipped. A file that
        changed since its upload stays.
        """
        deleted: list[str] = []
        folders: set[Path] = set()
        for upload in uploads:
            if upload.local_deleted:
                continue
            path = Path(upload.path)
            if upload.kind is UploadKind.ORIGINAL and not self._original_done_with(upload.path):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if st.st_size != upload.size or st.st_mtime > (upload.uploaded_at or 0):
                log.warning("kept %s: it changed after its upload", path)
                continue
            try:
                path.unlink()
            except OSError as exc:  # a read-only share: the file stays, nothing is lost
                log.warning("kept %s: cannot delete it (%s)", path, exc.strerror)
                continue
            self.table.mark_local_deleted(upload.id)
            deleted.append(str(path))
            # An HLS folder's files: the folders between the file and the output.
            folders.update(list(path.parents)[: upload.name.count("/")])
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: nothing of the user's goes
        if deleted:
            log.info(
                "job %s: deleted %d local file(s) after a verified upload", job_id, len(deleted)
            )
        return deleted

    def _original_done_with(self, path: str) -> bool:
        statuses = {
            status
            for (status,) in cast(
                Any, JobRow.select(JobRow.status).where(JobRow.input_path == path).tuples()
            )
        }
        return statuses <= {JobStatus.SUCCEEDED.value, JobStatus.SKIPPED.value}

    # -- sync and links ------------------------------------------------------------------

    def owed_by_old_jobs(self) -> list[tuple[Job, list[NewUpload], list[str]]]:
        """Succeeded jobs that never recorded uploads: what they owe, and their
        outputs that are gone locally."""
        found = []
        for job in self.table.jobs_without_uploads():
            items = planned_uploads(self.config, job.input_path, job.outputs)
            gone = [o.path for o in job.outputs if not os.path.exists(o.path)]
            if items or gone:
                found.append((job, items, gone))
        return found

    def sync(
        self,
        claimer: str,
        *,
        retry_failed: bool = False,
        on_file: Callable[[Upload], None] | None = None,
    ) -> SyncReport:
        """Upload everything still owed, now: files of jobs made before S3 was
        on, files waiting for a retry, and (``retry_failed``) failed ones."""
        report = SyncReport()
        if retry_failed:
            report.retried_failed = len(self.table.failed())
            self.table.retry_failed()
        for job, items, gone in self.owed_by_old_jobs():
            report.recorded += self.table.add(job.id, items)
            report.missing += gone
        self.table.release_stale(time.time() - self.config.worker.stale_after)
        for job_id in self.table.due_job_ids(time.time() + 10**9):
            done = self.upload_job(job_id, claimer, everything=True, on_file=on_file)
            report.round.add(done)
            if done.settled:
                report.settled_jobs.append(job_id)
        report.still_failed = self.table.failed()
        retrying = {u.id for u in report.round.retrying}
        report.in_flight = [u for u in self.table.pending() if u.id not in retrying]
        return report

    def refresh_links(self, job_id: int, expiry: int) -> list[Upload]:
        """New pre-signed links, valid ``expiry`` seconds, for the job's uploaded outputs."""
        for upload in self.table.for_job(job_id):
            if upload.status is UploadStatus.UPLOADED and _wants_link(upload):
                url = self.client.presign(upload.bucket, upload.key, expiry)
                self.table.set_link(upload.id, url, time.time() + expiry)
        return self.table.for_job(job_id)


class _Beat:
    """Called as bytes flow (from several threads): every ``interval`` seconds
    asks ``stop``, and raises Interrupted once it gives a reason (that reason
    again on every later call)."""

    def __init__(self, stop: StopCheck, interval: float) -> None:
        self.stop, self.interval = stop, interval
        self.last = time.monotonic()
        self.lock = threading.Lock()
        self.reason: str | None = None

    def __call__(self, _: int) -> None:
        with self.lock:
            now = time.monotonic()
            if self.reason is None and now - self.last >= self.interval:
                self.last = now
                self.reason = self.stop()
            if self.reason is not None:
                raise Interrupted("uploads stopped", self.reason)


@dataclass
class SyncReport:
    """What ``mediaforge s3 sync`` did."""

    recorded: int = 0  # files of older jobs newly recorded as owed
    retried_failed: int = 0
    missing: list[str] = field(default_factory=list)  # outputs gone locally: not uploadable
    round: Round = field(default_factory=Round)
    still_failed: list[Upload] = field(default_factory=list)
    settled_jobs: list[int] = field(default_factory=list)  # nothing more to upload now
    # Still owed, not by this sync: uploading in a worker, or waiting for the
    # machine that has the file.
    in_flight: list[Upload] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """Whether nothing is left owed: nothing to retry, failed or in flight."""
        return not (self.round.retrying or self.still_failed or self.in_flight)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``mediaforge s3 sync --json``."""
        r = self.round
        return {
            "recorded": self.recorded,
            "retried_failed": self.retried_failed,
            "uploaded": [u.to_dict() for u in r.uploaded],
            "already_there": [u.to_dict() for u in r.already],
            "retrying": [u.to_dict() for u in r.retrying],
            "failed": [u.to_dict() for u in self.still_failed],
            "in_flight": [u.to_dict() for u in self.in_flight],
            "deleted_local": r.deleted,
            "missing_local": self.missing,
        }


def sync_plan(uploader: Uploader, *, retry_failed: bool) -> list[dict[str, Any]]:
    """What ``s3 sync`` would upload, without touching anything (``--dry-run``)."""
    table = uploader.table
    owed = [u for u in table.pending() if u.status is UploadStatus.PENDING]
    if retry_failed:
        owed += table.failed()
    plan = [{"job": u.job_id, "path": u.path, "object": u.s3_url} for u in owed]
    for job, items, _ in uploader.owed_by_old_jobs():
        plan += [
            {"job": job.id, "path": i.path, "object": object_url(i.bucket, i.key)} for i in items
        ]
    return sorted(plan, key=lambda item: (item["job"], item["path"]))


def upload_summary(uploads: Sequence[Upload]) -> str:
    """One line about a job's uploads, for messages and ``status``."""
    if not uploads:
        return ""
    done = [u for u in uploads if u.status is UploadStatus.UPLOADED]
    failed = [u for u in uploads if u.status is UploadStatus.FAILED]
    where = f"s3://{uploads[0].bucket}"
    if len(done) == len(uploads):
        return f"{len(done)} file(s) uploaded to {where}"
    text = f"{len(done)} of {len(uploads)} file(s) uploaded to {where}"
    if failed:
        text += f"; {len(failed)} failed: {failed[0].error}"
    else:
        text += "; the rest is on its way"
    return text


def ensure_available(config: Config) -> None:
    """Raise ConfigError now when S3 is configured but boto3 is missing."""
    if config.s3.enabled:
        S3Client(config.s3)
