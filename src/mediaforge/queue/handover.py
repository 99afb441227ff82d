"""Handing a job back for another host: this one cannot see its files.

Hosts may mount shared storage differently, or not at all (see
storage/paths.py). A worker whose host cannot see a job's input folder or
mapped output folder gives the job back, with a note saying so and no attempt
used, as long as a live worker elsewhere might see it; after
``worker.handback_limit`` hand-backs the job fails, since no host could.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.jobs.identity import process_id
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.storage.paths import PathMap, share_present

log = logging.getLogger(__name__)


def unseen_folder(config: Config, job: Job, input_path: Path) -> str | None:
    """The canonical folder of the job that this host cannot see (a share not
    mounted here), or None. A mapped share counts as seen only when its local
    folder shows it (``share_present``: an empty mount point is not the share).
    A missing input in a folder that is there is gone, not unmounted: that is
    the probe's to report."""
    paths = PathMap.of(config)
    for canonical in (job.input_path, job.output_dir):
        found = paths.mapping_of(canonical) if canonical else None
        if found is not None and not share_present(found[1]):
            return str(found[0])
    if not input_path.parent.is_dir():
        return str(Path(job.input_path).parent)
    return None


def others_may_see(store: JobStore, config: Config, worker: str, unseen: str) -> bool:
    """Whether a live worker elsewhere (another host or container) might see
    what this cannot, or may come to: a share this host maps but has not
    mounted is waited for even when no other worker is up yet (after a power
    cut, hosts and their mounts come back in any order; the hand-back limit
    bounds the wait)."""
    if PathMap.of(config).mapped(unseen) is not None:
        return True
    return store.workers.others_could_see_differently(process_id(worker), config.worker.stale_after)


def hand_over(store: JobStore, config: Config, job: Job, worker: str, unseen: str) -> bool:
    """Give the job back for another host (True), or fail it once it went
    round ``handback_limit`` times (False): then no host could see its files."""
    host, limit = socket.gethostname(), config.worker.handback_limit
    if job.handbacks >= limit:
        error = (
            f"no worker could see {unseen}: handed back {job.handbacks} time(s), last by "
            f"host {host}; mount it on the workers' hosts (see 'paths' in the config and "
            "'mediaforge doctor'), then 'mediaforge retry'"
        )
        store.finish(job.id, worker, JobStatus.FAILED, error=error)
        log.error("job %s failed: %s", job.id, error)
        return False
    delay = config.worker.handback_delay
    note = (
        f"host {host} cannot see {unseen}; handed back for another host "
        f"({job.handbacks + 1}/{limit})"
    )
    if store.hand_over(job.id, worker, note=note, retry_at=time.time() + delay):
        log.warning("job %s: %s", job.id, note)
    return True
