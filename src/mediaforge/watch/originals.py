"""What becomes of an original once every job of it finished: kept, moved to
its rule's done or failed folder, or deleted when its outputs are safely in
place (DESIGN.md's invariant 1)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from mediaforge.errors import InputError, StorageError
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.queue.guard import kept_by_guard
from mediaforge.storage.inputs import Fingerprint, fingerprint
from mediaforge.storage.local import ensure_folder, publish, remove_quietly, temp_path_for
from mediaforge.storage.paths import PathMap
from mediaforge.storage.s3.rows import UploadStore
from mediaforge.watch.rules import FolderRule

log = logging.getLogger(__name__)


def move_original(src: Path, dest_dir: Path) -> Path:
    """Move ``src`` into ``dest_dir`` without replacing anything there; returns the new path.

    A name already taken gets a number (``clip (1).mp4``). Across filesystems
    the copy is complete, under a temporary name, before ``src`` is removed.
    """
    ensure_folder(dest_dir)
    wanted = dest_dir / src.name
    if os.stat(src).st_dev == os.stat(dest_dir).st_dev:
        return publish(src, wanted, "rename")
    temp = temp_path_for(wanted, 0, 0)
    try:
        shutil.copy2(src, temp)
    except OSError as exc:
        remove_quietly(temp)
        raise StorageError(f"cannot copy {src} to {dest_dir}: {exc.strerror}") from None
    final = publish(temp, wanted, "rename")
    src.unlink()
    return final


def act_on_original(
    folder: FolderRule, path: Path, read_as: Fingerprint, jobs: Sequence[Job],
    uploads: UploadStore,
) -> bool:
    """Keep, move or delete the original ``path`` whose ``jobs`` all finished
    (invariant 1); ``read_as`` is its fingerprint when they took it. True when
    it was moved or deleted."""
    ids = ", ".join(str(job.id) for job in jobs)
    guarded = [str(job.id) for job in jobs if kept_by_guard(job)]
    if guarded:
        # Its outputs were not worth keeping: the original is still the file to have.
        log.info("kept %s: the size guard of job %s kept the original", path, ", ".join(guarded))
        return False
    succeeded = all(job.status in (JobStatus.SUCCEEDED, JobStatus.SKIPPED) for job in jobs)
    action = folder.rule.on_success if succeeded else folder.rule.on_failure
    if action == "keep":
        return False
    if uploads.original_failed(tuple(job.id for job in jobs)):
        log.warning(
            "kept %s: its upload to S3 failed; 'mediaforge s3 sync --retry-failed', "
            "then move or delete it yourself",
            path,
        )
        return False
    try:
        current = fingerprint(path)
    except InputError:
        log.info("%s is gone already; nothing to %s", path, action)
        return False
    if current.partial_hash != read_as.partial_hash:
        log.warning("%s changed since job %s read it; left in place", path, ids)
        return False
    if action == "delete":
        reason = _why_not_delete(jobs, uploads, folder.paths)
        if reason:
            log.info("kept %s: %s", path, reason)
            return False
        path.unlink()
        log.info("deleted %s: job %s succeeded and its outputs are in place", path, ids)
    else:
        base = folder.done_dir if succeeded else folder.failed_dir
        relative = path.parent.relative_to(folder.root) if path.is_relative_to(
            folder.root) else Path()
        final = move_original(path, base / relative)
        outcome = "succeeded" if succeeded else "did not succeed"
        log.info("moved %s to %s: job %s %s", path, final, ids, outcome)
    return True


def _why_not_delete(jobs: Sequence[Job], uploads: UploadStore, paths: PathMap) -> str | None:
    """Why deleting the original of ``jobs`` could lose data; None when it is safe.
    Outputs verified in S3 count as in place (``s3.delete_local`` removes them here)."""
    for job in jobs:
        if job.status is not JobStatus.SUCCEEDED or not job.outputs:
            return f"job {job.id} made no output ({job.note or job.status.value})"
        if uploads.outputs_in_store(job.id):
            continue
        for output in job.outputs:
            if not Path(paths.to_local(output.path)).exists():
                return f"output {output.path} of job {job.id} is gone"
    return None
