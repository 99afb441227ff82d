"""Submitting inputs: the one door the CLI, the watch daemon and tests share."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediaforge.config.schema import Config
from mediaforge.errors import InputError
from mediaforge.jobs.model import JobSource, NewJob
from mediaforge.jobs.store import JobStore
from mediaforge.media.planning import check_applies
from mediaforge.media.probe import MediaInfo, check_readable, probe
from mediaforge.presets.loading import get_preset
from mediaforge.presets.model import Preset
from mediaforge.queue.backend import JobQueue
from mediaforge.storage.inputs import Fingerprint, fingerprint

if TYPE_CHECKING:
    from mediaforge.storage.s3.client import S3Client


@dataclass(frozen=True)
class Submitted:
    """What ``submit_inputs`` did: a job id per input, in order, and which of
    them were already queued or running (nothing new made for those)."""

    ids: list[int]
    existing: frozenset[int]


def submit_inputs(
    config: Config,
    store: JobStore,
    queue: JobQueue,
    inputs: Sequence[Path | str],
    preset: str,
    *,
    output_dir: Path | None = None,
    priority: int = 0,
    source: JobSource = JobSource.CLI,
    force: bool = False,
) -> Submitted:
    """Create one queued job per input and enqueue them.

    Everything is checked before anything is created (unknown preset,
    unreadable input, an input the preset cannot apply to), so a bad argument
    creates no job at all. The jobs of one call share a batch id (used for
    digests). An input that already has a queued or running job with the same
    content, preset and output folder gets that job's id instead of a second
    job doing the same work, unless ``force``.
    """
    new_jobs = prepare_jobs(
        config, inputs, preset, output_dir=output_dir, priority=priority, source=source
    )
    found = [None if force else store.active_job_like(nj) for nj in new_jobs]
    ids = iter(store.create([nj for nj, job in zip(new_jobs, found, strict=True) if job is None]))
    created = []
    all_ids = []
    for job in found:
        if job is None:
            created.append(next(ids))
            all_ids.append(created[-1])
        else:
            all_ids.append(job.id)
    # The jobs are committed before they are enqueued: if this process dies in
    # between, the worker's recovery sweep enqueues them.
    for job_id in created:
        queue.enqueue(job_id, priority=priority)
    return Submitted(all_ids, frozenset(all_ids) - frozenset(created))


def prepare_jobs(
    config: Config,
    inputs: Sequence[Path | str],
    preset: str,
    *,
    output_dir: Path | None = None,
    priority: int = 0,
    source: JobSource = JobSource.CLI,
) -> list[NewJob]:
    """Check the preset and every input (each must probe as media), and describe
    the jobs to create. A bad input in a batch rejects the whole batch, naming
    every bad one (InputsRejected).

    An ``s3://bucket/key`` input (a str) is checked with a HEAD request: the
    worker downloads it when the job runs.

    An input the preset cannot apply to (a video preset on audio) is refused
    too, except from a watched folder: there the job is made and fails, so
    that the folder's ``on_failure`` policy moves the original and the
    failure is notified, where a refusal would only be a line in a log.
    """
    chosen = get_preset(preset, config.presets_dir)
    client = None
    if any(isinstance(i, str) for i in inputs):
        from mediaforge.storage.s3.client import S3Client

        client = S3Client(config.s3)  # ConfigError now when boto3 is missing
    new_jobs = []
    batch = uuid.uuid4().hex[:12] if len(inputs) > 1 else None
    rejected: list[str] = []
    # One ffprobe per file is most of the time a big batch takes: run a few at once.
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(inputs)))) as pool:
        fits = None if source is JobSource.WATCH else chosen
        checked = list(pool.map(lambda path: _check(config, fits, path, client), inputs))
    for path, check in zip(inputs, checked, strict=True):
        if isinstance(check, InputError):
            if len(inputs) == 1:
                raise check
            rejected.append(str(check))
            continue
        fp, info = check
        new_jobs.append(
            NewJob(
                input_path=str(path),
                preset=preset,
                input_size=fp.size,
                input_mtime=fp.mtime,
                input_hash=fp.partial_hash,
                input_probe=info.to_json() if info is not None else None,
                output_dir=str(output_dir.absolute()) if output_dir else None,
                priority=priority,
                source=source,
                batch=batch,
            )
        )
    if rejected:
        raise InputsRejected(rejected, len(inputs))
    return new_jobs


def _check(
    config: Config, preset: Preset | None, path: Path | str, client: S3Client | None
) -> tuple[Fingerprint, MediaInfo | None] | InputError:
    if isinstance(path, str):
        from mediaforge.storage.s3.download import remote_fingerprint

        try:
            return remote_fingerprint(config, path, client), None
        except InputError as exc:
            return exc
    try:
        return check_input(config, preset, path)
    except InputError as exc:
        return exc


def check_input(config: Config, preset: Preset | None, path: Path) -> tuple[Fingerprint, MediaInfo]:
    """Probe a local input and check that ``preset`` (unless None) can ever
    apply to it; its fingerprint and the probe. Raises InputError with the
    reason a worker would fail the job for, so such a job is refused before
    it exists (or is retried)."""
    check_readable(path)  # its messages say best what is wrong with a path
    # The fingerprint before the probe: if the file changes while it is probed,
    # the worker sees a fingerprint that no longer matches and probes again.
    fp = fingerprint(path)
    # A probe, not just a stat: a file that is not media (a text file, a
    # truncated download) is refused now, before any job exists.
    info = probe(path, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    if preset is not None:
        check_applies(preset, info, path)
    return fp, info


class InputsRejected(InputError):
    """Some inputs of a batch cannot be processed; ``problems`` names each one."""

    def __init__(self, problems: list[str], total: int) -> None:
        super().__init__(
            f"{len(problems)} of {total} inputs cannot be processed; nothing was submitted"
        )
        self.problems = problems
