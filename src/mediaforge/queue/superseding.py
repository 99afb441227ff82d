"""An input that changes under its job: the newer job of that input wins.

A copy that pauses longer than the settle time can get a job while half
written, and another once it is complete. The input's fingerprint is checked
when an attempt starts and again before it publishes; a job whose input
changed gives way to a newer job of the same input path and preset (it ends
``skipped``, saying by which job), so one input path and preset yields one
current output. With no newer job, the job works on the current content.
"""

from __future__ import annotations

from pathlib import Path

from mediaforge.errors import StorageError
from mediaforge.jobs.model import Job
from mediaforge.jobs.store import JobStore
from mediaforge.storage.inputs import Fingerprint, fingerprint


def _same(fp: Fingerprint, size: int | None, mtime: float | None, digest: str | None) -> bool:
    return (fp.size, fp.mtime, fp.partial_hash) == (size, mtime, digest)


def input_at_start(store: JobStore, job: Job, worker: str, path: Path) -> tuple[Fingerprint, str]:
    """The input's fingerprint as the attempt starts, and the reason to
    supersede the job ("" to go on).

    An input that changed since the job was created is left to a newer job
    of it; with none, the job takes on the current content (recorded).
    """
    fp = fingerprint(path)
    if job.input_hash is None or _same(fp, job.input_size, job.input_mtime, job.input_hash):
        return fp, ""
    newer = store.newer_job(job)
    if newer is not None:
        return fp, f"superseded by job {newer}: {path} changed after this job was created"
    store.set_input_facts(
        job.id,
        worker,
        input_size=fp.size,
        input_mtime=fp.mtime,
        input_hash=fp.partial_hash,
        input_probe=None,  # taken of the old content
    )
    return fp, ""


def stored_probe(job: Job, seen: Fingerprint) -> str | None:
    """The job's submit-time probe when the input is still what it was taken
    of (``seen`` is its fingerprint now), else None: probe it again."""
    if job.input_probe is None or not _same(seen, job.input_size, job.input_mtime, job.input_hash):
        return None
    return job.input_probe


def input_before_publishing(store: JobStore, job: Job, path: Path, seen: Fingerprint) -> str:
    """The reason to supersede the job when its input changed during this
    attempt ("" when it did not). With no newer job of that input, a
    StorageError: the attempt is retried, on the current content."""
    if _same(fingerprint(path), seen.size, seen.mtime, seen.partial_hash):
        return ""
    newer = store.newer_job(job)
    if newer is not None:
        return f"superseded by job {newer}: {path} changed while this job transcoded it"
    raise StorageError(f"{path} changed while it was transcoded; its job runs again")
