"""What became of an attempt, and the endings that are more than one line.

:class:`Outcome` is what ``run_job`` returns to the worker or to
``mediaforge run``. The endings here each record something and then say so:
success (outputs in canonical form, the uploads they owe, written through a
short database outage), giving way to a newer job of a changed input, and
handing the job back after the database was away too long. They live apart
from the pipeline so that the attempt reads as the path to its ending, and
each ending reads whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from mediaforge.config.schema import Config
from mediaforge.jobs.model import Job, JobStatus, Output
from mediaforge.jobs.outage import CONNECTION_ERRORS, ride_out
from mediaforge.jobs.store import JobStore
from mediaforge.queue.publishing import crash_point
from mediaforge.storage.paths import PathMap
from mediaforge.storage.s3.plan import planned_uploads

# The pipeline's logger: these lines tell the story of its attempts.
log = logging.getLogger("mediaforge.queue.pipeline")


@dataclass(frozen=True)
class Outcome:
    """What became of an attempt. ``retry_in`` is set when the job went back to
    the queue and should run again after that many seconds."""

    job: Job | None
    retry_in: float | None = None
    handed_back: bool = False
    refused: bool = False  # this host cannot see the job's files: leave it to others a while


def succeed(
    store: JobStore, config: Config, job: Job, worker: str, outputs: list[Output], log_tail: str
) -> Outcome:
    """Mark the job succeeded with its published outputs and the uploads they owe."""
    crash_point("finishing")
    # Recorded in canonical form, as the job's input is: every host reads them.
    paths = PathMap.of(config)
    outputs = [replace(o, path=paths.to_canonical(o.path)) for o in outputs]
    uploads = planned_uploads(config, job.input_path, outputs)
    # A retry after a lost reply finds the job succeeded already: False, and so
    # a warning, but the outputs are recorded either way.
    if not ride_out(
        lambda: store.finish(
            job.id,
            worker,
            JobStatus.SUCCEEDED,
            outputs=outputs,
            log_tail=log_tail or None,
            uploads=uploads,
        ),
        config.worker.stale_after,
        "the finished job",
    ):
        log.warning("job %s finished but was taken away meanwhile", job.id)
    crash_point("finished")
    log.info("job %s succeeded: %s", job.id, ", ".join(o.path for o in outputs))
    return Outcome(store.get(job.id))


def after_outage(store: JobStore, job: Job, worker: str) -> Outcome:
    """ffmpeg was stopped because the job database was away too long: hand the
    job back if the database is back, else leave it to recovery (its
    heartbeat is stale, so any worker's sweep gives it back)."""
    try:
        if not store.release(job.id, worker, count_attempt=False):
            log.warning("job %s was recovered by another worker during the outage", job.id)
            return Outcome(store.get(job.id))
    except CONNECTION_ERRORS:
        log.warning("job %s: job database still unreachable; left to recovery", job.id)
        return Outcome(None)
    log.warning("job %s handed back: the job database was unreachable too long", job.id)
    return Outcome(store.get(job.id), retry_in=0.0, handed_back=True)


def supersede(store: JobStore, job: Job, worker: str, reason: str) -> Outcome:
    """End the job skipped: its input changed and a newer job of it wins."""
    store.finish(job.id, worker, JobStatus.SKIPPED, note=reason)
    log.info("job %s skipped: %s", job.id, reason)
    return Outcome(store.get(job.id))
