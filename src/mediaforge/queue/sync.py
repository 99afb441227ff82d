"""Catching up with S3 now (``mediaforge s3 sync``): upload whatever is owed,
then send the messages that waited for those uploads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediaforge.config.schema import Config
from mediaforge.jobs.identity import this_worker_prefix
from mediaforge.jobs.store import JobStore
from mediaforge.notify.delivery import notify_job_now
from mediaforge.storage.s3.report import SyncReport
from mediaforge.storage.s3.rows import Upload
from mediaforge.storage.s3.uploader import Uploader, ensure_available, sync_plan


def plan_sync(
    config: Config, store: JobStore, *, retry_failed: bool = False
) -> list[dict[str, Any]]:
    """What :func:`sync_owed` would upload, without touching anything or
    needing boto3 (``--dry-run``): ``job``, ``path`` and ``object`` of each file."""
    return sync_plan(Uploader(config, store), retry_failed=retry_failed)


def sync_owed(
    config: Config,
    store: JobStore,
    *,
    retry_failed: bool = False,
    on_file: Callable[[Upload], None] | None = None,
) -> SyncReport:
    """Upload now whatever is owed to S3: files of jobs made before S3 was
    configured, uploads waiting for a retry, and (``retry_failed``) failed ones.

    ``on_file`` hears of each file as its upload starts. Jobs whose uploads
    settled here get the notifications they waited for, sent at once. Raises
    ConfigError when S3 is configured but boto3 is missing; upload failures are
    in the report (``in_sync`` is False), never raised.
    """
    uploader = Uploader(config, store)
    ensure_available(config)
    claimer = f"{this_worker_prefix()}/sync"
    report = uploader.sync(claimer, retry_failed=retry_failed, on_file=on_file)
    # Jobs whose uploads settled here get the message they waited for.
    for job_id in report.settled_jobs:
        notify_job_now(config, store, store.get(job_id), claimer)
    return report
