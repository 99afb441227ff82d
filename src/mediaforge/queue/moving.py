"""Moving up from one machine: the SQLite job database into PostgreSQL, and the
queued jobs onto a queue every host can reach (``mediaforge db migrate``)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from mediaforge.config.schema import Config, QueueConfig
from mediaforge.errors import ConfigError
from mediaforge.jobs.transfer import copy_jobs, sqlite_path
from mediaforge.queue.backend import JobQueue
from mediaforge.redact import redact_url

_POSTGRES = ("postgres://", "postgresql://")
_REDIS = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Migration:
    """What ``db migrate`` did: rows copied per table, jobs put on ``queue``."""

    database_url: str
    counts: dict[str, int]
    queue: QueueConfig
    requeued: list[int]


def queue_for(config: Config, target_url: str, queue_url: str | None) -> QueueConfig:
    """The queue the migrated jobs go on: ``queue_url`` when given; else the
    configured queue, unless that is the embedded SQLite one (a file on one
    host), in which case the new PostgreSQL database carries the queue too."""
    if queue_url is not None:
        if queue_url.startswith(_POSTGRES):
            return QueueConfig(backend="postgres", url=queue_url)
        if queue_url.startswith(_REDIS):
            return QueueConfig(backend="redis", url=queue_url)
        raise ConfigError(
            f"--queue: {redact_url(queue_url)!r} is not a queue URL; "
            "use postgresql://USER@HOST/DB or redis://HOST:6379/0"
        )
    if config.queue.backend != "sqlite":
        return config.queue
    return QueueConfig(backend="postgres", url=target_url)


def migrate_to_postgres(config: Config, target_url: str, queue_url: str | None) -> Migration:
    """Copy the configured SQLite job database into the empty PostgreSQL
    database at ``target_url`` and enqueue its queued jobs on the new queue.
    The SQLite files are left as they were."""
    if not target_url.startswith(_POSTGRES):
        raise ConfigError(
            f"--to: {redact_url(target_url)!r} is not a PostgreSQL URL; "
            "use postgresql://USER:PASSWORD@HOST/DB"
        )
    source = sqlite_path(config.database.url, config.data_dir)
    queue_config = queue_for(config, target_url, queue_url)
    copied = copy_jobs(source, target_url)
    moved = dataclasses.replace(
        config,
        database=dataclasses.replace(config.database, url=target_url),
        queue=queue_config,
    )
    queue = JobQueue(moved)
    now = time.time()
    for job in copied.queued:
        delay = job.retry_at - now if job.retry_at and job.retry_at > now else None
        queue.enqueue(job.id, priority=job.priority, delay=delay)
    return Migration(target_url, copied.counts, queue_config, [j.id for j in copied.queued])
