"""The worker: a Huey consumer, started from code, with mediaforge's rules.

Huey has no acknowledgements, so the job database makes up for it: jobs are
claimed with a compare-and-set, running jobs send heartbeats, and a recovery
sweep (at start-up and every ``recovery_interval``) gives back jobs whose
worker died and re-enqueues queued jobs the queue has lost.

Signals: the handlers only set flags; the main loop acts. The first
SIGTERM/SIGINT stops taking work and gives running jobs ``shutdown_grace``
seconds to finish, then hands them back (ffmpeg killed, temp files removed,
job queued again). A second signal hands them back at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from huey.consumer import Consumer, ConsumerStopped

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted
from mediaforge.events import Event
from mediaforge.jobs.store import Job, JobStatus, JobStore, this_worker_prefix
from mediaforge.notify.delivery import Notifier
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.pipeline import SHUTDOWN, run_job
from mediaforge.storage.s3.download import remove_leftover_downloads
from mediaforge.storage.s3.uploads import Uploader, ensure_available

log = logging.getLogger(__name__)


class MediaforgeConsumer(Consumer):  # type: ignore[misc]
    """Huey's consumer with job-database recovery, --burst and two-step shutdown."""

    def __init__(
        self, config: Config, store: JobStore, queue: JobQueue, *, workers: int, burst: bool
    ) -> None:
        self.config, self.store, self.queue, self.burst = config, store, queue, burst
        self.hand_back = threading.Event()  # set: running jobs stop now and go back
        self._signals = 0
        self._running = 0  # jobs inside run_job right now
        self._running_lock = threading.Lock()
        self._last_recovery = 0.0
        self._idle_before = False  # what _idle saw on the previous loop
        self.name = this_worker_prefix()
        self.notifier = Notifier(config, store)
        self.uploader = Uploader(config, store)
        queue.handler = self._run_one
        queue.notify_handler = self._deliver_notifications
        queue.upload_handler = self._upload
        super().__init__(
            queue.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            max_delay=1.0,
            backoff=1.5,
            check_worker_health=True,
            health_check_interval=5,
        )

    # -- running jobs ----------------------------------------------------------

    def _run_one(self, job_id: int) -> None:
        worker = f"{self.name}/{threading.current_thread().name}"
        with self._running_lock:
            self._running += 1
        try:
            outcome = run_job(
                self.store,
                self.config,
                job_id,
                worker,
                stop=lambda: SHUTDOWN if self.hand_back.is_set() else None,
            )
            # Still counted as running while the retry is enqueued, so a burst
            # worker never sees an empty queue and no running job in between.
            if outcome.job is not None and outcome.retry_in is not None:
                self.queue.enqueue(
                    job_id, priority=outcome.job.priority, delay=outcome.retry_in or None
                )
            if outcome.job is not None and outcome.job.status.finished:
                if not self.uploader.table.settled(job_id):
                    self.queue.enqueue_upload(job_id)
                self._job_ended(outcome.job)
        finally:
            with self._running_lock:
                self._running -= 1

    # -- uploads to S3 -----------------------------------------------------------
    # Their own queued step (see uploads.py): a failed upload is retried with
    # backoff and never touches its job.

    def _upload(self, job_id: int) -> None:
        worker = f"{self.name}/{threading.current_thread().name}"
        # Counted as running until the retry or the notification is enqueued,
        # like a job: a burst worker must not stop in between.
        with self._running_lock:
            self._running += 1
        try:
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
                self._job_ended(self.store.get(job_id))
        finally:
            with self._running_lock:
                self._running -= 1

    def _recover_uploads(self) -> None:
        """Give back uploads of dead workers; re-enqueue due ones the queue lost."""
        table = self.uploader.table
        released = table.release_stale(time.time() - self.config.worker.stale_after)
        waiting = self.queue.pending_upload_job_ids()
        lost = [j for j in table.due_job_ids(time.time()) if j not in waiting]
        for job_id in sorted({*released, *lost}):
            self.queue.enqueue_upload(job_id)
        running = lambda: set(self.store.ids_with_status(JobStatus.RUNNING))  # noqa: E731
        for folder in remove_leftover_downloads(self.config, running):
            log.info("removed %s, left by a worker that stopped mid-download", folder)
        if released or lost:
            log.info(
                "recovery: uploads of %d job(s) given back or re-enqueued", len({*released, *lost})
            )

    def recover(self) -> None:
        """Give back jobs of dead workers; re-enqueue queued jobs the queue lost."""
        self._last_recovery = time.monotonic()
        requeued, failed = self.store.recover(self.config.worker.stale_after)
        for job_id in failed:
            log.error("job %s failed: its worker died on every attempt", job_id)
        self._notify_recovery(requeued, failed)
        pending = self.queue.pending_job_ids()
        lost = [i for i in self.store.ids_with_status(JobStatus.QUEUED) if i not in pending]
        for job_id in lost:
            job = self.store.get(job_id)
            delay = max(0.0, job.retry_at - time.time()) if job.retry_at else None
            self.queue.enqueue(job_id, priority=job.priority, delay=delay or None)
        if requeued or lost:
            log.info(
                "recovery: %d job(s) of dead workers requeued, %d queued job(s) re-enqueued",
                len(requeued),
                len(lost),
            )
        self._recover_uploads()

    # -- notifications ---------------------------------------------------------
    # Recorded in the job database, sent by the `mediaforge.notify` task: a
    # notification problem is logged and never fails a job (see notify.py).

    def _job_ended(self, job: Job) -> None:
        self._record(lambda: self.notifier.job_ended(job))

    def _record(self, record: Callable[[], float | None]) -> None:
        """Record notifications, then enqueue the task that sends them when due."""
        try:
            delay = record()
            if delay is not None:
                self.queue.enqueue_notify(delay=delay)
        except Exception:  # whatever goes wrong, the job and this thread carry on
            log.exception("could not record a notification (the job is not affected)")

    def _deliver_notifications(self) -> None:
        # Counted as running, like a job: a burst worker must not stop while a
        # delivery is under way and its retry not yet enqueued.
        with self._running_lock:
            self._running += 1
        try:
            retry_in = self.notifier.deliver_due(self.name)
            if retry_in is not None:
                self.queue.enqueue_notify(delay=retry_in)
        finally:
            with self._running_lock:
                self._running -= 1

    def _notify_recovery(self, requeued: list[int], failed: list[int]) -> None:
        if not self.notifier.enabled:
            return
        for job_id in failed:
            self._job_ended(self.store.get(job_id))
        if requeued or failed:
            ids = ", ".join(str(i) for i in [*requeued, *failed])
            text = (
                f"worker {self.name} found job(s) {ids} held by a worker that stopped "
                f"heartbeating: {len(requeued)} queued again, {len(failed)} failed"
            )
            self._record(lambda: self.notifier.worker_event(Event.WORKER_STALLED, self.name, text))
        # Rows overdue with no task to send them: the worker that owed them died.
        due = self.store.next_notification_due()
        if due is not None and due < time.time() and not self.queue.notify_pending():
            self.queue.enqueue_notify()

    def _announce_stop(self) -> None:
        """On a signal: report worker_stopped and send what is pending, once, now."""
        if not self.notifier.enabled:
            return
        why = f"on {signal.Signals(self._signum).name}" if self._signum else "on request"
        text = f"worker {self.name} stopped {why}"
        self._record(lambda: self.notifier.worker_event(Event.WORKER_STOPPED, self.name, text))
        try:
            self.notifier.deliver_due(self.name, everything=True)
        except Exception:  # stopping must finish whatever goes wrong
            log.exception("could not send the pending notifications while stopping")

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self.recover()
        super().start()
        log.info(
            "worker %s started: %d job(s) at a time%s",
            self.name,
            self.workers,
            ", until the queue is empty" if self.burst else "",
        )

    def _set_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._signum = signum
        if self._signals > 1:
            self.hand_back.set()

    def _idle(self) -> bool:
        # For a moment a message is in a thread's hands, neither in the queue
        # nor running: dequeued but not yet in run_job (or not yet moved to
        # the schedule), or taken from the schedule by Huey's scheduler and
        # not yet enqueued. Those moments last milliseconds and the main loop
        # looks every 0.1 s, so only idleness seen twice in a row counts.
        idle = self._running == 0 and self.queue.is_empty()
        confirmed = idle and self._idle_before
        self._idle_before = idle
        return confirmed

    def loop(self, health_check_ts: float | None = None) -> float | None:
        if self._signum is None and not self.stop_flag.is_set():
            now = time.monotonic()
            if now - self._last_recovery >= self.config.worker.recovery_interval:
                try:
                    self.recover()
                except Exception:  # a locked or unreachable DB must not kill the worker
                    log.exception("recovery sweep failed; will try again")
            if self.burst and self._idle():
                log.info("queue is empty; burst worker stopping")
                self.stop(graceful=True, grace=None)
                raise _Stopped
        return super().loop(health_check_ts)  # type: ignore[no-any-return]

    def stop(self, graceful: bool = False, grace: float | None = -1.0) -> None:
        """Stop taking work; let running jobs finish for ``grace`` seconds (None:
        as long as they need), then hand them back."""
        if grace == -1.0:
            grace = self.config.worker.shutdown_grace if graceful else 0.0
        self.stop_flag.set()
        deadline = None if grace is None else time.monotonic() + grace
        if self._running:
            log.info(
                "stopping: waiting up to %ss for running jobs, then handing them back",
                "unlimited " if grace is None else grace,
            )
        while self._threads_alive():
            if self.hand_back.is_set() or (deadline is not None and time.monotonic() > deadline):
                self.hand_back.set()
                break
            time.sleep(0.1)
        for _, thread in self.worker_threads:
            thread.join(timeout=30)
        self.scheduler.join(timeout=5)
        log.info("worker %s stopped", self.name)

    def _threads_alive(self) -> bool:
        return any(t.is_alive() for _, t in self.worker_threads)

    def run(self) -> None:
        self.start()
        health_check_ts = time.monotonic()
        while True:
            try:
                health_check_ts = self.loop(health_check_ts)  # type: ignore[assignment]
            except _Stopped:
                break
            except ConsumerStopped:
                self._announce_stop()
                break


class _Stopped(Exception):
    """The burst worker found the queue empty."""


def run_worker(config: Config, *, workers: int | None = None, burst: bool = False) -> None:
    """Run a worker in this process until it is stopped (or, with ``burst``,
    until the queue is empty)."""
    ensure_available(config)  # S3 configured without boto3: say so now, not after a transcode
    store = JobStore.open(config)
    queue = JobQueue(config)
    consumer = MediaforgeConsumer(
        config, store, queue, workers=workers or config.worker.workers, burst=burst
    )
    consumer.run()
