"""What a worker owes once a job has ended: its S3 uploads, its
notifications and its hooks. Each is recorded in the job database and sent
by a queued task of its own (``mediaforge.upload``, ``mediaforge.notify``,
``mediaforge.hook``), retried with backoff, and never changes its job: a
problem with any of them is recorded and logged, and the job stays as it
ended. Recovery gives back what a dead worker held, wakes a worker for
rows overdue with no task to send them, and records the notifications and
hooks of jobs whose worker died before it recorded them (the catch-up).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted
from mediaforge.events import Event
from mediaforge.hooks.delivery import Hooks
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.owed_mark import OwedMark
from mediaforge.jobs.store import JobStore
from mediaforge.notify.delivery import Notifier
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.pipeline import SHUTDOWN
from mediaforge.storage.s3.download import remove_leftover_downloads
from mediaforge.storage.s3.uploader import Uploader

log = logging.getLogger(__name__)

CATCH_UP_LIMIT = 200  # ended jobs looked at per recovery sweep
FIRST_LOOKBACK = 3600.0  # seconds back the first sweep of a database looks


class Aftercare:
    """The uploads, notifications and hooks of one worker process's jobs.

    ``counted`` marks work as running (a burst worker waits for it);
    ``hand_back`` set means the worker is stopping now.
    """

    def __init__(
        self,
        config: Config,
        store: JobStore,
        queue: JobQueue,
        name: str,
        counted: Callable[[], AbstractContextManager[None]],
        hand_back: threading.Event,
    ) -> None:
        self.config, self.store, self.queue, self.name = config, store, queue, name
        self.counted, self.hand_back = counted, hand_back
        self.notifier = Notifier(config, store)
        self.uploader = Uploader(config, store)
        self.hooks = Hooks(config, store)
        self.mark = OwedMark(store)
        queue.notify_handler = self.deliver_notifications
        queue.upload_handler = self.upload
        queue.hook_handler = self.run_hooks

    def after(self, job: Job) -> None:
        """A job ended: queue its uploads, then record its notifications and hooks."""
        if not self.uploader.table.settled(job.id):
            self.queue.enqueue_upload(job.id)
        self.job_ended(job)

    def recover(self, requeued: list[int], failed: list[int]) -> None:
        """What recovery owes: the ends of jobs it failed, what jobs whose worker
        died right after their end owe, and rows a dead worker held."""
        self.notify_recovery(requeued, failed)
        self.recover_ended()
        self.recover_hooks(failed)

    # -- the catch-up: jobs whose worker died before recording what they owe -----

    def recover_ended(self) -> None:
        """Record the notifications and hooks of jobs that ended lately (see
        ``catch_up``); a failure is logged and the next sweep tries again."""
        try:
            if self.catch_up():
                log.info("recovery: recorded the hooks of jobs whose worker stopped before it did")
                self.queue.enqueue_hooks()
        except Exception:  # the rest of the sweep goes on; the next sweep tries again
            log.exception("could not record what the jobs that ended lately owe")

    def catch_up(self, limit: int = CATCH_UP_LIMIT) -> bool:
        """Record the notifications and hooks of jobs that ended since the last
        sweep (``OwedMark``) and at least ``worker.stale_after`` seconds ago: a
        worker killed between a job's end and their recording left them
        unrecorded, and a job that ended later is still its worker's to record.
        Recording is idempotent, so a job seen twice costs nothing. At most
        ``limit`` jobs per call: a long backlog is taken over several sweeps.
        True when a hook run was new (a task must run it)."""
        until = self.mark.now() - self.config.worker.stale_after
        since = self.mark.get()
        if since is None:  # the first sweep of this database
            since = until - FIRST_LOOKBACK
        if until <= since:
            return False
        # Even with nothing to record the mark moves on, so notifications or
        # hooks configured later are not sent for every job that ended before.
        wanted = self.notifier.enabled or self.hooks.enabled
        ended = self.store.ended_between(since, until, limit) if wanted else []
        new_hooks = False
        for job in ended:
            if self.notifier.enabled:
                self.record_notifications(job)
            new_hooks = self.hooks.job_ended(job) or new_hooks
        if len(ended) == limit and ended[-1].finished_at is not None:
            until = ended[-1].finished_at  # the rest next time
        self.mark.advance(until)
        return new_hooks

    # -- uploads to S3 -----------------------------------------------------------
    # Their own queued step (see storage/s3/uploader.py): a failed upload is retried with
    # backoff and never touches its job.

    def upload(self, job_id: int) -> None:
        worker = f"{self.name}/{threading.current_thread().name}"
        # Counted as running until the retry or the notification is enqueued,
        # like a job: a burst worker must not stop in between.
        with self.counted():
            try:
                result = self.uploader.upload_job(
                    job_id, worker, stop=lambda: SHUTDOWN if self.hand_back.is_set() else None
                )
            except Interrupted:
                self.queue.enqueue_upload(job_id)
                return
            if result.retry_in is not None:
                self.queue.enqueue_upload(job_id, delay=result.retry_in)
            if result.settled:
                # The job's notification waited for its uploads (it carries their links).
                self.job_ended(self.store.get(job_id))


    def recover_uploads(self) -> None:
        """Give back uploads of dead workers; re-enqueue due ones the queue lost."""
        table = self.uploader.table
        released = table.release_stale(self.store.now() - self.config.worker.stale_after)
        waiting = self.queue.pending_upload_job_ids()
        # Only uploads this host can send: another host's sweep re-enqueues its own.
        due = table.due_job_ids(time.time(), host=socket.gethostname())
        lost = [j for j in due if j not in waiting]
        for job_id in sorted({*released, *lost}):
            self.queue.enqueue_upload(job_id)
        running = lambda: set(self.store.ids_with_status(JobStatus.RUNNING))  # noqa: E731
        for folder in remove_leftover_downloads(self.config, running):
            log.info("removed %s, left by a worker that stopped mid-download", folder)
        if released or lost:
            log.info(
                "recovery: uploads of %d job(s) given back or re-enqueued", len({*released, *lost})
            )


    # -- notifications ---------------------------------------------------------

    def record_notifications(self, job: Job) -> None:
        self._record(lambda: self.notifier.job_ended(job))

    def job_ended(self, job: Job) -> None:
        self.record_notifications(job)
        self.record_hooks(job)


    def _record(self, record: Callable[[], float | None]) -> None:
        """Record notifications, then enqueue the task that sends them when due."""
        try:
            delay = record()
            if delay is not None:
                self.queue.enqueue_notify(delay=delay)
        except Exception:  # whatever goes wrong, the job and this thread carry on
            log.exception("could not record a notification (the job is not affected)")


    def deliver_notifications(self) -> None:
        # Counted as running, like a job: a burst worker must not stop while a
        # delivery is under way and its retry not yet enqueued.
        with self.counted():
            retry_in = self.notifier.deliver_due(self.name)
            if retry_in is not None:
                self.queue.enqueue_notify(delay=retry_in)


    def notify_recovery(self, requeued: list[int], failed: list[int]) -> None:
        if not self.notifier.enabled:
            return
        for job_id in failed:
            self.job_ended(self.store.get(job_id))
        if requeued or failed:
            ids = ", ".join(str(i) for i in [*requeued, *failed])
            text = (
                f"worker {self.name} found job(s) {ids} held by a worker that stopped "
                f"heartbeating: {len(requeued)} queued again, {len(failed)} failed"
            )
            self._record(lambda: self.notifier.worker_event(Event.WORKER_STALLED, self.name, text))
        # Rows overdue with no task to send them: the worker that owed them died.
        due = self.notifier.rows.next_due()
        if due is not None and due < time.time() and not self.queue.notify_pending():
            self.queue.enqueue_notify()


    # -- hooks -------------------------------------------------------------------

    def record_hooks(self, job: Job) -> None:
        if not self.hooks.enabled:
            return
        try:
            if self.hooks.job_ended(job):
                self.queue.enqueue_hooks()
        except Exception:  # whatever goes wrong, the job and this thread carry on
            log.exception("could not record the hooks of job %s (the job is not affected)", job.id)


    def run_hooks(self) -> None:
        # Counted as running, like a job: a burst worker must not stop while a
        # hook runs and its retry is not yet enqueued.
        with self.counted():
            retry_in = self.hooks.run_due(self.name)
            if retry_in is not None:
                self.queue.enqueue_hooks(delay=retry_in)


    def recover_hooks(self, failed: list[int]) -> None:
        """Record the hooks of jobs recovery failed (recording twice records
        once), give back rows a dead worker held while running their hook, and
        wake a worker for rows overdue with no task to run them."""
        if not self.hooks.enabled:
            return
        for job_id in failed:
            self.record_hooks(self.store.get(job_id))
        released = self.hooks.rows.release_stale(self.store.now() - self.config.worker.stale_after)
        if released:
            log.info("recovery: %d hook run(s) of dead workers given back", released)
        due = self.hooks.rows.next_due()
        if due is not None and due < time.time() and not self.queue.hooks_pending():
            self.queue.enqueue_hooks()


    def announce_stop(self, signum: int) -> None:
        """On a signal: report worker_stopped and send what is pending, once, now."""
        if not self.notifier.enabled:
            return
        text = f"worker {self.name} stopped on {signal.Signals(signum).name}"
        self._record(lambda: self.notifier.worker_event(Event.WORKER_STOPPED, self.name, text))
        try:
            self.notifier.deliver_due(self.name, everything=True)
        except Exception:  # stopping must finish whatever goes wrong
            log.exception("could not send the pending notifications while stopping")
