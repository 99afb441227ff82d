"""Why an attempt stops on purpose, and the check that asks.

The reasons are the ``Interrupted.reason`` of an attempt stopped while ffmpeg
or a download runs. They live apart from the pipeline because the watchdog
that polls them during ffmpeg, the s3:// download and the worker that asks for
a hand-back all name them, and none of those should have to import the
pipeline to do so.
"""

from __future__ import annotations

from collections.abc import Callable

from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.store import JobStore

# Polled while a long step runs: a reason to stop, or None to go on.
StopCheck = Callable[[], str | None]

CANCELLED = "cancelled"
LOST = "lost"  # another worker recovered the job (this one looked dead)
SHUTDOWN = "shutdown"
# The job database was unreachable for longer than stale_after: other workers
# may already have recovered the job, so this attempt stops.
UNREACHABLE = "database unreachable"


def claim_lost_reason(store: JobStore, job_id: int) -> str:
    """Why a heartbeat found the job no longer this worker's: it was
    cancelled, or another worker recovered it."""
    current = store.get(job_id)
    return CANCELLED if current.status is JobStatus.CANCELLED else LOST
