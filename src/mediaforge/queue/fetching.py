"""An s3:// input fetched for one attempt, with the job's claim kept alive.

The bytes themselves come through ``storage/s3/download.py``; what lives here
is the attempt's side of it: a heartbeat from a thread of its own (the
requests before the first byte can block for the store's timeouts, with no
progress to beat from), and a stop that also notices the job was cancelled or
recovered meanwhile. It lives apart from the pipeline, which only needs the
local copy's path.
"""

from __future__ import annotations

from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted
from mediaforge.jobs.model import Job
from mediaforge.jobs.pulse import Pulse
from mediaforge.jobs.store import JobStore
from mediaforge.queue.stopping import StopCheck, claim_lost_reason
from mediaforge.storage.s3.download import fetch_input


def fetch_remote_input(
    store: JobStore, config: Config, job: Job, worker: str, folder: Path, stop: StopCheck
) -> Path:
    """Download an s3:// input into ``folder``, heartbeating all along: the
    requests before the first byte can block for the store's timeouts."""

    def heartbeat() -> bool:
        return store.heartbeat(job.id, worker, 0.0)

    with Pulse(heartbeat, config.worker.heartbeat_interval) as pulse:

        def should_stop() -> str | None:
            reason = stop()
            if reason is None and pulse.lost.is_set():
                reason = claim_lost_reason(store, job.id)
            return reason

        path = fetch_input(config, job.input_path, folder, should_stop)
    reason = should_stop()
    if reason is not None:
        raise Interrupted(f"download of {job.input_path} stopped", reason)
    return path
