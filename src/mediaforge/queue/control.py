"""What a user may do to queued and running jobs: cancel one (and say so to
whoever wants to hear), or queue failed and cancelled ones again.

The CLI, the watch daemon and an HTTP server call these; the job database
decides which moves are allowed (``JobStore.cancel``, ``JobStore.retry``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediaforge.config.schema import Config
from mediaforge.errors import InputError, PresetError
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
    _record_hooks(config, store, job)
    return job


def _record_hooks(config: Config, store: JobStore, job: Job) -> None:
    """Record the hooks owed for a job cancelled here and wake a worker to run
    them. Never raises, like ``_record_end``."""
    if not config.hooks:
        return
    from mediaforge.hooks.delivery import Hooks
    from mediaforge.queue.backend import JobQueue

    try:
        if Hooks(config, store).job_ended(job):
            JobQueue(config).enqueue_hooks()
    except Exception as e:  # reported, never in the way of the command
        log.warning("could not record the hooks of job %s: %s", job.id, e)


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


def retry_job(config: Config, store: JobStore, queue: JobQueue, job_id: int) -> Job:
    """Queue a failed or cancelled job again, with a fresh set of attempts.

    Its input is checked as ``submit`` checks it: one that is gone, is not
    media or that the preset cannot apply to (a video preset on audio) is
    refused with the same InputError, since the job could only fail again.
    Raises JobNotFound for a wrong id and JobStateError for a job in another state.
    """
    job = store.get(job_id)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        _check_again(config, job)
    job = store.retry(job_id)
    queue.enqueue(job.id, priority=job.priority)
    return job


def _check_again(config: Config, job: Job) -> None:
    # Imported here: cancelling needs neither presets nor probes.
    from mediaforge.presets.loading import get_preset
    from mediaforge.queue.submission import check_input
    from mediaforge.storage.paths import PathMap
    from mediaforge.storage.s3.client import is_s3_url

    if is_s3_url(job.input_path):
        return  # a worker downloads it; a HEAD request tells nothing of its streams
    paths = PathMap.of(config)
    local = Path(paths.to_local(job.input_path))
    if paths.mapped(job.input_path) is not None and not local.parent.is_dir():
        return  # shared storage not mounted here: another host may see it, its worker judges
    check_input(config, get_preset(job.preset, config.presets_dir), local)


@dataclass(frozen=True)
class Retried:
    """One job of ``retry_jobs``: queued again, or left as it was and why."""

    job: Job
    refused: str | None = None


def retry_jobs(
    config: Config, store: JobStore, queue: JobQueue, job_ids: Iterable[int] | None = None
) -> Iterator[Retried]:
    """Queue these jobs again (``None``: every failed job), yielding each one
    as it is queued.

    One at a time, as the caller iterates: the jobs before one that cannot be
    retried (JobStateError, InputError) stay queued, and the caller can say so
    before the error. The failed jobs are looked up when the iteration
    starts; of those, one whose input could only fail again is left failed
    and yielded with the reason (``refused``) instead of stopping the rest.
    """
    if job_ids is not None:
        for job_id in job_ids:
            yield Retried(retry_job(config, store, queue, job_id))
        return
    for job_id in store.ids_with_status(JobStatus.FAILED):
        try:
            yield Retried(retry_job(config, store, queue, job_id))
        except (InputError, PresetError) as exc:
            yield Retried(store.get(job_id), refused=str(exc))


class WorkerWatch:
    """Tells whoever waits on jobs (``submit --wait``, ``status --follow``)
    that no worker is taking them.

    The signal is the job database, which every worker on every host writes:
    while a worker is alive and idle it takes a queued job within about a
    second, and while it is busy its running jobs heartbeat. So when jobs
    that are due have stayed ``queued`` for ``after`` seconds and no job
    anywhere is running with a fresh heartbeat, no worker is taking jobs.
    """

    def __init__(
        self, store: JobStore, stale_after: float, after: float, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.stale_after = stale_after
        self.after = after
        self.clock = clock
        self._since: float | None = None

    def nobody_working(self, jobs: Iterable[Job]) -> bool:
        """Look at the jobs being waited for; True once nothing has taken them
        for ``after`` seconds in a row."""
        now = self.clock()
        waiting = [j for j in jobs if j.status is JobStatus.QUEUED]
        # A job waiting out a retry backoff is not due: no worker would take it yet.
        due = any(j.retry_at is None or j.retry_at <= time.time() for j in waiting)
        if not due or self.store.running_with_fresh_heartbeat(self.stale_after):
            self._since = None
            return False
        if self._since is None:
            self._since = now
        return now - self._since >= self.after
