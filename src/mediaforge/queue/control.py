"""What a user may do to queued and running jobs: cancel one (and say so to
whoever wants to hear), or queue failed and cancelled ones again.

The CLI, the watch daemon and an HTTP server call these; the job database
decides which moves are allowed (``JobStore.cancel``, ``JobStore.retry``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from mediaforge.config.schema import Config
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore

if TYPE_CHECKING:
    # Only a type here: the caller opens the queue (and imports huey).
    from mediaforge.queue.backend import JobQueue

log = logging.getLogger(__name__)


def cancel_job(config: Config, store: JobStore, job_id: int) -> Job:
    """Cancel a queued or running job and record the messages about it.

    A running job's worker notices at its next heartbeat, kills ffmpeg and
    removes its temporary files. Raises JobNotFound for a wrong id and
    JobStateError for a job that has already ended; a notification problem is
    logged and never undoes the cancel.
    """
    job = store.cancel(job_id)
    _record_end(config, store, job)
    return job


def _record_end(config: Config, store: JobStore, job: Job) -> None:
    """Record the messages about a job that ended outside a worker and wake
    a worker to send them. Never raises: the job's change stands whatever
    happens to its notification."""
    # Imported here: retrying needs no notifications, and they load the S3 upload code.
    from mediaforge.notify.delivery import Notifier
    from mediaforge.queue.backend import JobQueue

    notifier = Notifier(config, store)
    if not notifier.enabled:
        return
    try:
        delay = notifier.job_ended(job)
        if delay is not None:
            JobQueue(config).enqueue_notify(delay=delay)
    except Exception as e:  # reported, never in the way of the command
        log.warning("could not record the notifications of job %s: %s", job.id, e)


def retry_job(store: JobStore, queue: JobQueue, job_id: int) -> Job:
    """Queue a failed or cancelled job again, with a fresh set of attempts.

    Raises JobNotFound for a wrong id and JobStateError for a job in another state.
    """
    job = store.retry(job_id)
    queue.enqueue(job.id, priority=job.priority)
    return job


def retry_jobs(
    store: JobStore, queue: JobQueue, job_ids: Iterable[int] | None = None
) -> Iterator[Job]:
    """Queue these jobs again (``None``: every failed job), yielding each one
    as it is queued.

    One at a time, as the caller iterates: the jobs before one that cannot be
    retried (JobStateError) stay queued, and the caller can say so before the
    error. The failed jobs are looked up when the iteration starts.
    """
    ids = store.ids_with_status(JobStatus.FAILED) if job_ids is None else job_ids
    for job_id in ids:
        yield retry_job(store, queue, job_id)
