"""Which jobs a worker runs now: its places, its limits and the jobs it adopts.

A worker runs at most ``workers`` jobs at once: one place per job, taken by
each of huey's threads for the message it handles and by each job it adopts.

Limits (``worker.limits``): at most so many jobs of a preset or tag at once
in this worker, so that a slow encoder cannot take every place. A job over
its limit goes back to the queue for a few seconds, untouched (no attempt
used), and the place takes other work meanwhile.

Adoption: with a free place, the worker runs a job that other hosts handed
back and this host has not refused (``handover.to_adopt``), without waiting
for the queue to deliver its message. The queue goes to whichever worker
asks first, and the host that refused a job, having just handled its
message, asks fastest, so a host that can see the files could wait long.
The job's message stays in the queue; when it comes, the claim finds the
job taken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import peewee

from mediaforge.config.schema import Config
from mediaforge.errors import MediaforgeError
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.outage import CONNECTION_ERRORS
from mediaforge.jobs.store import JobStore
from mediaforge.presets.loading import get_preset
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.handover import to_adopt
from mediaforge.queue.limits import Limits

log = logging.getLogger(__name__)

LIMIT_WAIT = 5.0  # seconds a job over its limit stays out of the queue before it is tried again


class Slots:
    """The places of one worker process, its limits and its adopted jobs."""

    def __init__(self, config: Config, store: JobStore, queue: JobQueue, workers: int) -> None:
        self.config, self.store, self.queue = config, store, queue
        self._free = threading.BoundedSemaphore(workers)
        self.limits = Limits(config.worker.limits)
        self._adopters: list[threading.Thread] = []

    @contextmanager
    def place(self) -> Iterator[None]:
        """Hold one of the worker's places (waiting for one) while the block runs."""
        with self._free:
            yield

    @contextmanager
    def within_limits(self, job_id: int) -> Iterator[str | None]:
        """A place for the job under ``worker.limits`` while the block runs:
        yields None when it may run, or the preset or tag whose limit is reached."""
        preset = None
        if self.limits.limits:
            try:
                job = self.store.get(job_id)
                if job.status is JobStatus.QUEUED:
                    preset = get_preset(job.preset, self.config.presets_dir)
            except MediaforgeError:
                preset = None  # an unknown preset or job: running it reports that
            except CONNECTION_ERRORS:
                preset = None  # running it rides out the outage
        if preset is None:
            yield None
            return
        with self.limits.slot(preset) as full:
            yield full

    def wait_for_limit(self, job_id: int, full: str) -> None:
        """Put a job over its limit back in the queue, untouched, for a few seconds."""
        try:
            priority = self.store.get(job_id).priority
            self.queue.enqueue(job_id, priority=priority, delay=LIMIT_WAIT)
        except (MediaforgeError, peewee.DatabaseError) as exc:  # recovery re-enqueues it
            log.warning("job %s: left to recovery: %s", job_id, exc)
            return
        log.debug(
            "job %s: %d job(s) of '%s' already running here (worker.limits); tried again in %g s",
            job_id, self.limits.limits[full], full, LIMIT_WAIT,
        )  # fmt: skip

    def adopt(self, run: Callable[[int], None]) -> None:
        """With a free place, start ``run`` on a job other hosts handed back, in
        a thread of its own that holds the place until it returns."""
        self._adopters = [t for t in self._adopters if t.is_alive()]
        if not self._free.acquire(blocking=False):
            return
        try:
            job = to_adopt(self.store, self._has_room)
        except BaseException:
            self._free.release()
            raise
        if job is None:
            self._free.release()
            return

        def adopted() -> None:
            try:
                run(job.id)
            except Exception:  # like a huey thread: one job's failure never ends the worker
                log.exception("job %s: adopted run failed", job.id)
            finally:
                self._free.release()

        log.info("job %s: handed back by another host; taken here", job.id)
        thread = threading.Thread(target=adopted, name=f"adopted-{job.id}", daemon=True)
        self._adopters.append(thread)
        thread.start()

    def _has_room(self, job: Job) -> bool:
        """Whether the job's limits leave room for it now (an adopted job over
        its limit would only go back to the queue)."""
        if not self.limits.limits:
            return True
        try:
            preset = get_preset(job.preset, self.config.presets_dir)
        except MediaforgeError:
            return True  # running it reports the unknown preset
        return self.limits.has_room(preset)

    def adopting(self) -> bool:
        """Whether an adopted job is still running."""
        return any(t.is_alive() for t in self._adopters)

    def join(self) -> None:
        """Wait up to 30 s for each adopted job's thread to end."""
        for thread in self._adopters:
            thread.join(timeout=30)
