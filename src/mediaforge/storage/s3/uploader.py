"""Uploading the files jobs owe to S3, as a step of its own.

When a job succeeds, the transaction that marks it succeeded also records one
``upload`` row per file it owes to S3 (``planned_uploads``); a queued task
(``mediaforge.upload``) then uploads them (``Uploader.upload_job``). So an
upload is never the job's business: it is retried on its own with backoff, a
store that is down never fails or redoes a transcode, and ``mediaforge s3
sync`` finds whatever is still owed.

An upload counts only once it is verified (size and ETag, see client.py); only
then may the local copy be deleted (``s3.delete_local``), and an original
only once every job of that file has succeeded. Rows are claimed with a
compare-and-set like jobs, and the claim is refreshed while bytes flow, so a
worker that dies mid-upload leaves its rows to be taken again.

An object that already holds the same bytes is not uploaded again; one that
holds another file is never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, cast

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.pulse import Pulse
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import JobRow, UploadRow
from mediaforge.jobs.upload_rows import NewUpload
from mediaforge.storage.paths import PathMap
from mediaforge.storage.s3.client import (
    JOB_KEY,
    ORIGIN_KEY,
    S3Client,
    S3Error,
    etag_is_md5,
    expected_etag,
    object_url,
)
from mediaforge.storage.s3.plan import planned_uploads
from mediaforge.storage.s3.report import Round, SyncReport
from mediaforge.storage.s3.rows import Upload, UploadKind, UploadStatus, UploadStore
from mediaforge.units import backoff

log = logging.getLogger(__name__)

StopCheck = Callable[[], str | None]


def _origin(upload: Upload) -> str:
    """A token naming one file (host and path; on shared storage the canonical
    path alone, whichever host sends it), stored as object metadata: an object
    with another origin is another file and is never overwritten."""
    name = upload.path if upload.shared else f"{upload.host}:{upload.path}"
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def _wants_link(upload: Upload) -> bool:
    """Links are made for outputs: each file, and an HLS folder's master playlist
    (its segments are reached through it)."""
    if upload.kind is not UploadKind.OUTPUT:
        return False
    return "/" not in upload.name or (
        upload.name.count("/") == 1 and upload.name.endswith("/master.m3u8")
    )


class _Permanent(S3Error):
    """An upload that trying again cannot fix (the file is gone, the key is taken)."""


class _Elsewhere(S3Error):
    """The file is on another machine's disk: not this worker's to upload."""


# Seconds before an upload handed back for another machine is due again; the
# recovery sweep of a host that can send it queues it then.
_ELSEWHERE = 60.0


class Uploader:
    """Uploads the files jobs owe to S3; one per worker process (or CLI command)."""

    def __init__(self, config: Config, store: JobStore, client: S3Client | None = None) -> None:
        self.config, self.store = config, store
        self.settings = config.s3
        self.table = UploadStore(store)
        self.paths = PathMap.of(config)
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
        if not rows and self.table.waiting_elsewhere(job_id):
            # Files on another host's disk: its workers upload them, and its
            # recovery sweep queues them again. Not asked again from here: every
            # other worker doing so would loop at upload priority, ahead of jobs,
            # for as long as that host is gone.
            return result
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
        path = Path(self.paths.to_local(row.path))  # rows hold canonical paths
        try:
            size = path.stat().st_size
        except OSError:
            if row.shared or row.host != socket.gethostname():
                # Scale-out: the file is on another machine's disk, or on a
                # share not mounted here; hand it back for a worker that sees it.
                where = "shared storage not mounted here" if row.shared else row.host
                raise _Elsewhere(f"{path} is on {where}; left for a worker there") from None
            raise _Permanent(f"{path} is gone; nothing to upload") from None
        client = self.client
        expected = expected_etag(
            path, threshold=client.threshold, part_size=client.part_size, progress=beat
        )
        origin = _origin(row)
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
        delay = backoff(self.settings.retry_backoff, attempt)
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
            path = Path(self.paths.to_local(upload.path))
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
            gone = [o.path for o in job.outputs if not os.path.exists(self.paths.to_local(o.path))]
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
        # Claims are stamped on the database's clock; judge them on it too.
        self.table.release_stale(self.store.now() - self.config.worker.stale_after)
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


def ensure_available(config: Config) -> None:
    """Raise ConfigError now when S3 is configured but boto3 is missing."""
    if config.s3.enabled:
        S3Client(config.s3)
