"""Handing a job back for another host: this one cannot see its files.

Hosts may mount shared storage differently, or not at all (see
storage/paths.py). A worker whose host cannot see a job's input folder or
mapped output folder gives the job back, with a note saying so and no attempt
used. The job records which hosts refused it, each once however often it
comes round. While a live host that has not refused it is up (perhaps busy
with a long job), the job waits for it, uncounted. Once every live host has
refused it (or no other is up), the share may yet come back: the job waits
``worker.handback_delay`` seconds, doubled each round up to an hour, and
fails after ``worker.handback_limit`` such rounds, naming the folder and the
hosts that could not see it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.jobs.identity import namespace_key, process_id
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.workers import host_key
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


MAX_WAIT = 3600.0  # seconds: the longest wait for a share to come back


@dataclass
class Refusals:
    """Which hosts (``host_key``) refused a job, and how many rounds it has
    waited with every live host among them."""

    hosts: list[str] = field(default_factory=list)
    rounds: int = 0

    @classmethod
    def of(cls, job: Job) -> Refusals:
        if not job.refusals:
            return cls()
        try:
            data = json.loads(job.refusals)
            return cls(list(data.get("hosts", [])), int(data.get("rounds", 0)))
        except (ValueError, TypeError, AttributeError):
            return cls()  # unreadable: start counting afresh rather than fail the job

    def to_json(self) -> str:
        return json.dumps({"hosts": self.hosts, "rounds": self.rounds})

    def names(self) -> str:
        """The refusing hosts' names, for people."""
        return ", ".join(sorted({key.split("|", 1)[0] for key in self.hosts}))


def to_adopt(store: JobStore, can_take: Callable[[Job], bool]) -> Job | None:
    """A job handed back by other hosts that this host has not refused and
    may run now, or None.

    A worker that has free room takes such a job itself, without waiting for
    the queue to deliver its message: the queue goes to whichever worker asks
    first, and the host that refused a job, having just handled its message,
    asks fastest, so a host that can see the files could wait a long time.
    ``can_take`` says whether this worker has room for the job (its limits).
    """
    me = host_key(socket.gethostname(), namespace_key())
    for job in store.handed_back(time.time()):
        if me not in Refusals.of(job).hosts and can_take(job):
            return job
    return None


def hand_over(store: JobStore, config: Config, job: Job, worker: str, unseen: str) -> float | None:
    """Give the job back for another host; returns the seconds until it may
    run again, or None when it failed: every live host refused it for
    ``handback_limit`` rounds."""
    settings = config.worker
    me = host_key(socket.gethostname(), namespace_key())
    refusals = Refusals.of(job)
    if me not in refusals.hosts:
        refusals.hosts.append(me)
    waiting_for = store.workers.live_hosts(settings.stale_after) - set(refusals.hosts)
    if waiting_for:
        # A live host that may see the files has not had its turn yet.
        delay = settings.handback_delay
        note = (
            f"host {socket.gethostname()} cannot see {unseen}; handed back for another host "
            f"(refused by {refusals.names()})"
        )
    else:
        refusals.rounds += 1
        if refusals.rounds > settings.handback_limit:
            error = (
                f"no live worker host can see {unseen} (refused by {refusals.names()}; waited "
                f"{settings.handback_limit} round(s)); mount it on a worker's host (see 'paths' "
                "in the config and 'mediaforge doctor'), then 'mediaforge retry'"
            )
            store.finish(job.id, worker, JobStatus.FAILED, error=error)
            log.error("job %s failed: %s", job.id, error)
            return None
        delay = min(settings.handback_delay * 2 ** (refusals.rounds - 1), MAX_WAIT)
        note = (
            f"host {socket.gethostname()} cannot see {unseen}; nor can any live worker host "
            f"(refused by {refusals.names()}): waiting for it to be mounted, round "
            f"{refusals.rounds}/{settings.handback_limit}, next try in {delay:g} s"
        )
    handed = store.hand_over(
        job.id, worker, note=note, retry_at=time.time() + delay, refusals=refusals.to_json()
    )
    if handed:
        log.warning("job %s: %s", job.id, note)
    return delay
