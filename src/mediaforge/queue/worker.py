"""The worker: a Huey consumer, started from code, with mediaforge's rules.

Huey has no acknowledgements, so the job database makes up for it: jobs are
claimed with a compare-and-set, running jobs send heartbeats, and a recovery
sweep (at start-up and every ``recovery_interval``) gives back jobs whose
worker died and re-enqueues queued jobs the queue has lost.

Signals: the handlers only set flags; the main loop acts. The first
SIGTERM/SIGINT stops taking work and gives running jobs ``shutdown_grace``
seconds to finish, then hands them back (ffmpeg killed, temp files removed,
job queued again). A second signal hands them back at once.

Pause, drain and run windows (queue/intake.py): a worker told to take no new
jobs leaves the messages it receives, their jobs queued in the job database,
and enqueues them again when it may take jobs (no queue churn meanwhile); a
drain ends the main loop like a signal, but waits for running jobs.
"""

from __future__ import annotations

import importlib.metadata
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import peewee

from mediaforge.config.schema import Config
from mediaforge.errors import EnvironmentProblem
from mediaforge.jobs.control import ControlStore
from mediaforge.jobs.identity import this_worker_prefix
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.outage import CONNECTION_ERRORS
from mediaforge.jobs.pulse import Pulse
from mediaforge.jobs.retention import prune_older_than
from mediaforge.jobs.store import JobStore
from mediaforge.media.process import ensure_programs
from mediaforge.queue.aftercare import Aftercare
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.consumer import HUEY_WRITTEN_AGAINST, HueyConsumer, ensure_supported_huey
from mediaforge.queue.intake import Door, IntakeGate
from mediaforge.queue.pipeline import SHUTDOWN, run_job
from mediaforge.queue.slots import Slots
from mediaforge.storage.s3.uploader import ensure_available

log = logging.getLogger(__name__)

# How often the main loop looks at its flags, and how often it checks that
# huey's threads are alive (a dead one is replaced).
MAIN_LOOP_INTERVAL = 0.1
HEALTH_CHECK_INTERVAL = 5.0
OUTAGE_RETRY = 5.0  # seconds before a job whose claim met an unreachable database is tried again

# A worker leaves a job it handed back to other hosts for this many hand-back delays.
REFUSAL_MEMORY = 10
ADOPT_INTERVAL = 1.0  # seconds between looks for jobs other hosts handed back


# -- the worker ------------------------------------------------------------------


class MediaforgeConsumer:
    """Runs huey's consumer with job-database recovery, --burst and two-step shutdown."""

    def __init__(
        self, config: Config, store: JobStore, queue: JobQueue, *, workers: int, burst: bool
    ) -> None:
        self.config, self.store, self.queue, self.burst = config, store, queue, burst
        self.workers = workers
        self.hand_back = threading.Event()  # set: running jobs stop now and go back
        self._signals = 0
        self._stop_signal: int | None = None  # the last SIGTERM/SIGINT received
        self._running = 0  # jobs inside run_job right now
        self._running_lock = threading.Lock()
        self.slots = Slots(config, store, queue, workers)
        self._last_adoption = 0.0
        self._last_recovery = 0.0
        self._next_prune = 0.0  # monotonic time of the next retention prune (0: at start-up)
        self._idle_before = False  # what _idle saw on the previous loop
        # Jobs handed back because this host cannot see their files: job id ->
        # until when (monotonic) this worker leaves them to other hosts.
        self._refused: dict[int, float] = {}
        self._handback_delay = config.worker.handback_delay
        # Jobs whose run the database cut short: job id -> the worker id they
        # may still be held under; given back (no attempt used) once it is back,
        # before their heartbeat goes stale and recovery counts an attempt.
        self._interrupted: dict[int, str] = {}
        # Held while an interrupted job is given back (see _give_back_interrupted).
        self._interrupted_lock = threading.Lock()
        self.name = this_worker_prefix()
        # The worker's own heartbeat (`mediaforge workers`), beside its jobs'.
        self._presence = Pulse(
            lambda: self.store.workers.beat(self.name), config.worker.heartbeat_interval
        )
        # Pause, drain and run windows; started_at is set when the worker registers.
        self.gate = IntakeGate(config, ControlStore(store.db), self.name, float("inf"))
        queue.handler = self._run_one
        self.aftercare = Aftercare(config, store, queue, self.name, self._counted, self.hand_back)
        self.consumer = HueyConsumer(
            queue.huey,
            self._on_signal,
            workers=workers,
            periodic=False,
            initial_delay=0.05,
            max_delay=1.0,
            backoff=1.5,
        )

    # -- running jobs ----------------------------------------------------------

    @contextmanager
    def _counted(self) -> Iterator[None]:
        """Count the block as running work: a burst worker stops only when
        nothing runs and the queue is empty, so work that enqueues its own
        retry or follow-up counts until it has."""
        with self._running_lock:
            self._running += 1
        try:
            yield
        finally:
            with self._running_lock:
                self._running -= 1

    def _run_one(self, job_id: int) -> None:
        with self.slots.place():
            self._run_in_slot(job_id)

    def _run_in_slot(self, job_id: int) -> None:
        # Counted as running from here, a job over its limit too: a burst
        # worker must not stop while the job is out of the queue.
        with self._counted():
            if self.gate.current.closed is not None:
                # Paused, draining or outside its run window: the job stays
                # queued in the job database (see _run_job), not bounced.
                self._run_job(job_id)
                return
            with self.slots.within_limits(job_id) as full:
                if full is None:
                    self._run_job(job_id)
                else:
                    self.slots.wait_for_limit(job_id, full)

    def _run_job(self, job_id: int) -> None:
        worker = f"{self.name}/{threading.current_thread().name}"
        try:
            # First, an earlier claim the outage cut short is given back,
            # so that this run's claim is never given back from under it.
            self._give_back_interrupted(job_id)
            if self.gate.current.closed is not None:
                # Paused, draining or outside its run window: the job stays
                # queued in the job database, and is enqueued again when
                # this worker takes jobs again (or by another's recovery).
                log.debug("job %s left queued: %s", job_id, self.gate.current.closed)
                return
            # Inside the guard: a refused job is looked up in the job
            # database, which may be away as well.
            if self._still_refused(job_id):
                return
            outcome = run_job(
                self.store,
                self.config,
                job_id,
                worker,
                stop=lambda: SHUTDOWN if self.hand_back.is_set() else self.gate.current.hand_back,
            )
        except CONNECTION_ERRORS:
            # The claim may have been made even if its answer was lost:
            # the job is then running in this worker's name, on nothing.
            self._interrupted[job_id] = worker
            self._requeue_after_outage(job_id)
            return
        if outcome.refused:
            self._refused[job_id] = time.monotonic() + REFUSAL_MEMORY * self._handback_delay
        # Still counted as running while the retry is enqueued, so a burst
        # worker never sees an empty queue and no running job in between.
        if outcome.job is not None and outcome.retry_in is not None:
            priority, delay = outcome.job.priority, outcome.retry_in or None
            self.queue.enqueue(job_id, priority=priority, delay=delay)
        if outcome.job is not None and outcome.job.status.finished:
            self.aftercare.after(outcome.job)

    def _adopt(self) -> None:
        self._last_adoption = time.monotonic()
        if self.gate.current.closed is None:  # paused, draining or outside its window: none
            self.slots.adopt(self._run_in_slot)

    def _requeue_after_outage(self, job_id: int) -> None:
        """The job database went away while taking ``job_id`` (huey has already
        removed its message): put the message back for later. A job claimed
        meanwhile is not run twice (the claim is a compare-and-set); a message
        that cannot be put back either is made good by recovery."""
        try:
            self.queue.enqueue(job_id, delay=OUTAGE_RETRY)
        except EnvironmentProblem as exc:  # the queue may be on the same unreachable server
            log.error("job %s: left to recovery: %s", job_id, exc)
            return
        log.warning("job %s: job database unreachable; queued again in %g s", job_id, OUTAGE_RETRY)

    def _release_interrupted(self) -> None:
        for job_id in list(self._interrupted):
            try:
                self._give_back_interrupted(job_id)
            except CONNECTION_ERRORS:
                return  # still away: the next loop tries again

    def _give_back_interrupted(self, job_id: int) -> None:
        """Give back ``job_id`` if an outage cut its claim short (no attempt used).

        Under the lock, so that a give-back by the main loop and a new claim
        by a worker thread never interleave: both are judged by the same
        (job, worker name), as a thread's name stays the same between claims.
        """
        with self._interrupted_lock:
            worker = self._interrupted.get(job_id)
            if worker is None:
                return
            released = self.store.release(job_id, worker, count_attempt=False)
            del self._interrupted[job_id]
        if released:
            log.info("job %s: given back after the database outage (no attempt used)", job_id)

    def _still_refused(self, job_id: int) -> bool:
        """A job this worker handed back lately (it cannot see its files) goes
        back to the queue for a while, untouched, so that another host takes it.

        It comes back when this worker's refusal ends, not sooner: a worker
        that just handled a message polls the queue fastest, so bouncing the
        job every few seconds would keep it from an idle host that can see it."""
        until = self._refused.get(job_id)
        now = time.monotonic()
        if until is None or now >= until:
            self._refused.pop(job_id, None)
            return False
        job = self.store.get(job_id)
        if job.status is JobStatus.QUEUED:
            delay = max(until - now, self._handback_delay)
            self.queue.enqueue(job_id, priority=job.priority, delay=delay)
        return True

    def recover(self) -> None:
        """Give back jobs of dead workers; re-enqueue queued jobs the queue lost."""
        self._last_recovery = time.monotonic()
        self.store.workers.prune()
        requeued, failed = self.store.recover(self.config.worker.stale_after)
        for job_id in failed:
            log.error("job %s failed: its worker died on every attempt", job_id)
        self.aftercare.recover(requeued, failed)
        pending = self.queue.pending_job_ids()
        lost = [i for i in self.store.ids_with_status(JobStatus.QUEUED) if i not in pending]
        if self.gate.current.closed is not None:
            lost = []  # this worker would leave them queued; enqueued when it takes jobs again
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
        self.aftercare.recover_uploads()

    def prune(self, days: float) -> None:
        """Remove finished jobs older than ``days`` that are owed nothing (jobs/retention.py)."""
        self._next_prune = time.monotonic() + self.config.jobs.prune_interval
        try:
            # A first prune of a long history takes a while: a stop request ends it early.
            pruned = prune_older_than(
                self.store.db, days, stopping=lambda: self._stop_signal is not None
            )
        except peewee.PeeweeException as exc:  # a locked or unreachable database: next time
            log.warning("retention: could not prune finished jobs: %s; trying again later", exc)
            return
        if pruned.jobs:
            log.info(
                "retention: removed %d finished job(s) older than %g days "
                "(%d notification, %d upload and %d hook row(s))",
                pruned.jobs, days, pruned.notifications, pruned.uploads, pruned.hooks,
            )  # fmt: skip
        if pruned.held:
            log.debug("retention: kept %d older job(s), still owed something", pruned.held)

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        # Before anything is registered or taken: jobs stay queued for hosts that can run them.
        ensure_programs(self.config.ffmpeg, self.config.ffprobe)
        self.gate.started_at = self.store.now()  # a drain ordered later stops this worker
        self.store.workers.register(self.name)
        self.gate.refresh()
        self._presence.__enter__()
        self.recover()
        self.consumer.start()
        if not self.consumer.handles_signals():
            self.stop(0.0)
            raise EnvironmentProblem(
                f"huey {importlib.metadata.version('huey')} put its own signal handlers over "
                f"the worker's, which would break its shutdown; the worker was written against "
                f"huey {HUEY_WRITTEN_AGAINST}: pip install 'huey=={HUEY_WRITTEN_AGAINST}'"
            )
        log.info(
            "worker %s started: %d job(s) at a time%s",
            self.name,
            self.workers,
            ", until the queue is empty" if self.burst else "",
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._stop_signal = signum
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

    def run(self) -> None:
        """Take work until a signal stops the worker (or, with ``burst``, the queue is empty)."""
        self.start()
        next_health_check = time.monotonic() + HEALTH_CHECK_INTERVAL
        while self._stop_signal is None:
            door = self._follow_orders()
            if door.drain:
                log.info("drain ordered: finishing running jobs, then stopping")
                self.stop(None)
                return
            if time.monotonic() - self._last_recovery >= self.config.worker.recovery_interval:
                try:
                    self.recover()
                except Exception:  # a locked or unreachable DB must not kill the worker
                    log.exception("recovery sweep failed; will try again")
            if self.config.jobs.retention_days is not None and time.monotonic() >= self._next_prune:
                self.prune(self.config.jobs.retention_days)
            if self._interrupted:
                self._release_interrupted()
            if time.monotonic() - self._last_adoption >= ADOPT_INTERVAL:
                try:
                    self._adopt()
                except CONNECTION_ERRORS:
                    pass  # the database is away: the jobs' own heartbeats report it
                except Exception:  # a locked database must not kill the worker
                    log.exception("looking for handed-back jobs failed; will try again")
            if self.burst and self._idle():
                log.info("queue is empty; burst worker stopping")
                self.stop(None)
                return
            time.sleep(MAIN_LOOP_INTERVAL)
            if self._stop_signal is None and time.monotonic() >= next_health_check:
                next_health_check = time.monotonic() + HEALTH_CHECK_INTERVAL
                self.consumer.check_worker_health()
        log.debug("received %s", signal.Signals(self._stop_signal).name)
        self.stop(self.config.worker.shutdown_grace)
        self.aftercare.announce_stop(self._stop_signal)

    def _follow_orders(self) -> Door:
        """Look at pause, drain and the run windows; when this worker takes jobs
        again, enqueue the queued jobs it left in the job database."""
        was_closed = self.gate.current.closed is not None
        try:
            door = self.gate.refresh()
        except peewee.DatabaseError:  # unreachable for now: keep to the last orders seen
            return self.gate.current
        if was_closed and door.closed is None:
            try:
                self.recover()
            except Exception:  # a locked or unreachable DB must not kill the worker
                log.exception("recovery sweep failed; will try again")
        return door

    def stop(self, grace: float | None) -> None:
        """Stop taking work; let running jobs finish for ``grace`` seconds (None:
        as long as they need), then hand them back."""
        self.consumer.stop_taking_work()
        deadline = None if grace is None else time.monotonic() + grace
        if self._running:
            log.info(
                "stopping: waiting up to %ss for running jobs, then handing them back",
                "unlimited " if grace is None else grace,
            )
        while self.consumer.working() or self.slots.adopting():
            if self.hand_back.is_set() or (deadline is not None and time.monotonic() > deadline):
                self.hand_back.set()
                break
            time.sleep(0.1)
        self.consumer.join_threads()
        self.slots.join()
        self._presence.__exit__(None, None, None)
        try:
            self.store.workers.deregister(self.name)
        except peewee.DatabaseError:  # an unreachable database: the row goes stale instead
            log.warning("could not deregister worker %s; its row will go stale", self.name)
        log.info("worker %s stopped", self.name)


def run_worker(config: Config, *, workers: int | None = None, burst: bool = False) -> None:
    """Run a worker in this process until it is stopped (or, with ``burst``,
    until the queue is empty)."""
    ensure_supported_huey()  # the worker leans on huey's consumer internals (see above)
    ensure_available(config)  # S3 configured without boto3: say so now, not after a transcode
    store = JobStore.open(config)
    queue = JobQueue(config)
    consumer = MediaforgeConsumer(
        config, store, queue, workers=workers or config.worker.workers, burst=burst
    )
    consumer.run()
