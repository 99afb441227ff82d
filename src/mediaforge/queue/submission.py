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
from mediaforge.media.probe import probe
from mediaforge.presets.loading import get_preset
from mediaforge.presets.model import Preset
from mediaforge.queue.backend import JobQueue
from mediaforge.storage.inputs import Fingerprint, fingerprint
from mediaforge.storage.paths import PathMap

if TYPE_CHECKING:
    from mediaforge.storage.s3.client import S3Client


@dataclass(frozen=True)
class Submitted:
    """What ``submit_inputs`` did: a job id per submitted input, in order,
    which of them were already queued or running (nothing new made for
    those), and why each input left out was refused (one line each, naming
    the file; only when not ``all_or_nothing``)."""

    ids: list[int]
    existing: frozenset[int]
    refused: tuple[str, ...] = ()


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
    all_or_nothing: bool = True,
) -> Submitted:
    """Create one queued job per input and enqueue them.

    Everything is checked before anything is created (unknown preset,
    unreadable input, an input the preset cannot apply to). With
    ``all_or_nothing`` one bad input creates no job at all (InputsRejected
    names every bad one); without it the good inputs are submitted and the
    bad ones come back in ``Submitted.refused`` (when every input is bad,
    nothing is submitted and it raises all the same). The jobs of one call
    share a batch id (used for digests). An input that already has a queued
    or running job with the same content, preset and output folder gets that
    job's id instead of a second job doing the same work, unless ``force``.
    """
    new_jobs, bad = check_inputs(
        config, inputs, preset, output_dir=output_dir, priority=priority, source=source
    )
    if bad and (all_or_nothing or not new_jobs):
        raise _rejection(bad, len(inputs))
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
    return Submitted(
        all_ids, frozenset(all_ids) - frozenset(created), tuple(str(e) for e in bad)
    )


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
    every bad one (InputsRejected); a single bad input raises its own error.
    See ``check_inputs`` for what is checked.
    """
    new_jobs, bad = check_inputs(
        config, inputs, preset, output_dir=output_dir, priority=priority, source=source
    )
    if bad:
        raise _rejection(bad, len(inputs))
    return new_jobs


def _rejection(bad: list[InputError], total: int) -> InputError:
    return bad[0] if total == 1 else InputsRejected([str(e) for e in bad], total)


def check_inputs(
    config: Config,
    inputs: Sequence[Path | str],
    preset: str,
    *,
    output_dir: Path | None = None,
    priority: int = 0,
    source: JobSource = JobSource.CLI,
) -> tuple[list[NewJob], list[InputError]]:
    """Check the preset (PresetError) and every input; the jobs to create for
    the good inputs, and the error of each bad one, in input order.

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
    rejected: list[InputError] = []
    # One ffprobe per file is most of the time a big batch takes: run a few at once.
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(inputs)))) as pool:
        fits = None if source is JobSource.WATCH else chosen
        checked = list(pool.map(lambda path: _check(config, fits, path, client), inputs))
    # Jobs store canonical paths: any host that shares the storage can run them.
    paths = PathMap.of(config)
    for path, fp in zip(inputs, checked, strict=True):
        if isinstance(fp, InputError):
            rejected.append(fp)
            continue
        new_jobs.append(
            NewJob(
                input_path=path if isinstance(path, str) else paths.to_canonical(str(path)),
                preset=preset,
                input_size=fp.size,
                input_mtime=fp.mtime,
                input_hash=fp.partial_hash,
                output_dir=paths.to_canonical(str(output_dir.absolute())) if output_dir else None,
                priority=priority,
                source=source,
                batch=batch,
            )
        )
    return new_jobs, rejected


def _check(
    config: Config, preset: Preset | None, path: Path | str, client: S3Client | None
) -> Fingerprint | InputError:
    if isinstance(path, str):
        from mediaforge.storage.s3.download import remote_fingerprint

        try:
            return remote_fingerprint(config, path, client)
        except InputError as exc:
            return exc
    try:
        return check_input(config, preset, path)
    except InputError as exc:
        return exc


def check_input(config: Config, preset: Preset | None, path: Path) -> Fingerprint:
    """Probe a local input and check that ``preset`` (unless None) can ever
    apply to it; its fingerprint. Raises InputError with the reason a worker
    would fail the job for, so such a job is refused before it exists (or is
    retried)."""
    # A probe, not just a stat: a file that is not media (a text file, a
    # truncated download) is refused now, before any job exists.
    info = probe(path, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    if preset is not None:
        check_applies(preset, info, path)
    return fingerprint(path)


class InputsRejected(InputError):
    """Some inputs of a batch cannot be processed; ``problems`` names each one."""

    def __init__(self, problems: list[str], total: int) -> None:
        hint = "" if len(problems) == total else " (--all-or-nothing)"
        super().__init__(
            f"{len(problems)} of {total} inputs cannot be processed; nothing was submitted{hint}"
        )
        self.problems = problems
