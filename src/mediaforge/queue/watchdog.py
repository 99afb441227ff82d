"""The watchdog of a running ffmpeg: throttled heartbeats and progress
writes, and the decision to stop it.

ffmpeg reports progress many times a second; the job database hears of it
once per ``worker.heartbeat_interval``. It lives apart from the pipeline
because it is the one place that rides out a short database outage while
ffmpeg keeps running, and that judgement is easier to read on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mediaforge.jobs.model import Job
from mediaforge.jobs.outage import CONNECTION_ERRORS, OutageClock
from mediaforge.jobs.store import JobStore
from mediaforge.media.process import Progress
from mediaforge.queue.stopping import UNREACHABLE, StopCheck, claim_lost_reason

# Sees the running job and its progress (0..1) as ffmpeg reports it.
ProgressCallback = Callable[[Job, float], None]


class Watchdog:
    """Throttled heartbeat + progress writes, and the stop decision for ffmpeg."""

    def __init__(
        self,
        store: JobStore,
        job: Job,
        worker: str,
        interval: float,
        stop: StopCheck,
        on_progress: ProgressCallback | None,
        stale_after: float,
    ) -> None:
        self.store, self.job, self.worker = store, job, worker
        self.interval, self.stop, self.on_progress = interval, stop, on_progress
        self.outage = OutageClock(stale_after)
        self.duration = job.input_duration or 0.0
        self.progress = 0.0
        self.last_beat = time.monotonic()

    def progress_seen(self, p: Progress) -> None:
        if self.duration > 0:
            self.progress = min(0.999, max(0.0, p.out_time / self.duration))
        if self.on_progress is not None:
            self.on_progress(self.job, self.progress)

    def should_stop(self) -> str | None:
        reason = self.stop()
        if reason is not None:
            return reason
        now = time.monotonic()
        if now - self.last_beat < self.interval:
            return None
        self.last_beat = now
        try:
            alive = self.store.heartbeat(self.job.id, self.worker, self.progress)
        except CONNECTION_ERRORS as exc:
            # ffmpeg goes on through a short outage; after stale_after the job
            # counts as abandoned and others may take it.
            return UNREACHABLE if self.outage.failed(exc) else None
        self.outage.reached()
        if alive:
            return None
        return claim_lost_reason(self.store, self.job.id)
