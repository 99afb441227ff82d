"""Submitting inputs: the one door the CLI, the watch daemon and tests share."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediaforge.config.schema import Config
from mediaforge.errors import FFmpegError, InputError, MediaforgeError
from mediaforge.jobs.model import JobSource, NewJob
from mediaforge.jobs.store import JobStore
from mediaforge.media.planning import check_applies
from mediaforge.media.probe import MediaInfo, Probing, check_readable
from mediaforge.presets.loading import get_preset
from mediaforge.presets.model import Preset
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.early_probes import EarlyProbes, probe_workers
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
    early: EarlyProbes | None = None,
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
    Probes in ``early`` are used for their inputs instead of starting new ones.
    """
    new_jobs, bad = check_inputs(
        config,
        inputs,
        preset,
        output_dir=output_dir,
        priority=priority,
        source=source,
        refuse_slow=not all_or_nothing and len(inputs) > 1,
        early=early,
    )
    if bad and (all_or_nothing or not new_jobs):
        raise _rejection(bad, len(inputs))
    return _create(store, queue, new_jobs, priority=priority, force=force, refused=bad)


def submit_each(
    config: Config,
    store: JobStore,
    queue: JobQueue,
    inputs: Sequence[Path],
    preset: str,
    *,
    output_dir: Path | None = None,
    source: JobSource = JobSource.WATCH,
) -> list[int | InputError | FFmpegError]:
    """Like :func:`submit_inputs`, for the watch folders: each input is probed
    (several at once) and gets its job id, or the reason it was refused
    (``InputError``: not media, or gone) or must wait (``FFmpegError``: ffprobe
    timed out), without holding back the others. The jobs made share a batch id.
    """
    chosen = get_preset(preset, config.presets_dir)
    fits = None if source is JobSource.WATCH else chosen
    checked = _check_all(config, fits, inputs, None)
    batch = uuid.uuid4().hex[:12] if len(inputs) > 1 else None
    paths = PathMap.of(config)
    good = [
        _new_job(paths, path, check, preset, output_dir, 0, source, batch)
        for path, check in zip(inputs, checked, strict=True)
        if not isinstance(check, MediaforgeError)
    ]
    ids = iter(_create(store, queue, good, priority=0, force=False).ids)
    return [
        check if isinstance(check, (InputError, FFmpegError)) else next(ids) for check in checked
    ]


def _create(
    store: JobStore,
    queue: JobQueue,
    new_jobs: list[NewJob],
    *,
    priority: int,
    force: bool,
    refused: Sequence[InputError] = (),
) -> Submitted:
    """Create the jobs not already queued or running, in one transaction, then enqueue them."""
    found = [None] * len(new_jobs) if force else store.active_jobs_like(new_jobs)
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
        all_ids, frozenset(all_ids) - frozenset(created), tuple(str(e) for e in refused)
    )


def prepare_jobs(
    config: Config,
    inputs: Sequence[Path | str],
    preset: str,
    *,
    output_dir: Path | None = None,
    priority: int = 0,
    source: JobSource = JobSource.CLI,
    early: EarlyProbes | None = None,
) -> list[NewJob]:
    """Check the preset and every input (each must probe as media), and describe
    the jobs to create. A bad input in a batch rejects the whole batch, naming
    every bad one (InputsRejected); a single bad input raises its own error.
    See ``check_inputs`` for what is checked (and ``early``).
    """
    new_jobs, bad = check_inputs(
        config,
        inputs,
        preset,
        output_dir=output_dir,
        priority=priority,
        source=source,
        early=early,
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
    refuse_slow: bool = False,
    early: EarlyProbes | None = None,
) -> tuple[list[NewJob], list[InputError]]:
    """Check the preset (PresetError) and every input; the jobs to create for
    the good inputs, and the error of each bad one, in input order.

    An input ffprobe timed out on (a slow or hung share) raises its
    FFmpegError: worth another try, not a bad input. With ``refuse_slow`` it
    is refused like a bad one instead, with that reason, so the others of a
    batch go ahead without it.

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
    fits = None if source is JobSource.WATCH else chosen
    checked = _check_all(config, fits, inputs, client, early)
    # Jobs store canonical paths: any host that shares the storage can run them.
    paths = PathMap.of(config)
    for path, check in zip(inputs, checked, strict=True):
        if isinstance(check, FFmpegError):
            if not refuse_slow:
                raise check  # ffprobe timed out: a slow share, worth another try
            rejected.append(InputError(f"{check}; submit it again once it can be read"))
            continue
        if isinstance(check, InputError):
            rejected.append(check)
            continue
        new_jobs.append(_new_job(paths, path, check, preset, output_dir, priority, source, batch))
    return new_jobs, rejected


def _check_all(
    config: Config,
    preset: Preset | None,
    inputs: Sequence[Path | str],
    client: S3Client | None,
    early: EarlyProbes | None = None,
) -> list[Checked | InputError | FFmpegError]:
    # One ffprobe per file is most of the time a big batch takes: run them in parallel.
    if len(inputs) == 1:
        return [_check(config, preset, inputs[0], client, early)]
    with ThreadPoolExecutor(max_workers=probe_workers(len(inputs))) as pool:
        return list(pool.map(lambda path: _check(config, preset, path, client, early), inputs))


def _new_job(
    paths: PathMap,
    path: Path | str,
    check: Checked,
    preset: str,
    output_dir: Path | None,
    priority: int,
    source: JobSource,
    batch: str | None,
) -> NewJob:
    fp, info = check
    return NewJob(
        input_path=path if isinstance(path, str) else paths.to_canonical(str(path)),
        preset=preset,
        input_size=fp.size,
        input_mtime=fp.mtime,
        input_hash=fp.partial_hash,
        input_probe=info.to_json() if info is not None else None,
        output_dir=paths.to_canonical(str(output_dir.absolute())) if output_dir else None,
        priority=priority,
        source=source,
        batch=batch,
    )


# An input's fingerprint, and its probe (None for s3:// inputs: the worker probes the download).
Checked = tuple[Fingerprint, MediaInfo | None]


def _check(
    config: Config,
    preset: Preset | None,
    path: Path | str,
    client: S3Client | None,
    early: EarlyProbes | None,
) -> Checked | InputError | FFmpegError:
    if isinstance(path, str):
        from mediaforge.storage.s3.download import remote_fingerprint

        try:
            return remote_fingerprint(config, path, client), None
        except InputError as exc:
            return exc
    try:
        return check_input(config, preset, path, early)
    except (InputError, FFmpegError) as exc:
        return exc


def check_input(
    config: Config, preset: Preset | None, path: Path, early: EarlyProbes | None = None
) -> tuple[Fingerprint, MediaInfo]:
    """Probe a local input and check that ``preset`` (unless None) can ever
    apply to it; its fingerprint and the probe (the one in ``early``, if it
    was started there). Raises InputError with the reason a worker would fail
    the job for, so such a job is refused before it exists (or is retried)."""
    check_readable(path)  # its messages say best what is wrong with a path
    shadow = PathMap.of(config).shadowing(str(path.absolute()))
    if shadow is not None:
        canonical, local = shadow
        raise InputError(
            f"{path} is under {canonical}, the shared folder this host mounts at {local} "
            "('paths' in the config), but is not on that share: workers would look for it "
            f"under {local}; copy it onto the share or elsewhere, or change paths[].canonical"
        )
    # The fingerprint before the probe: if the file changes while it is probed,
    # the worker sees a fingerprint that no longer matches and probes again.
    # A probe, not just a stat: a file that is not media (a text file, a
    # truncated download) is refused now, before any job exists.
    started = early.take(path) if early is not None else None
    if started is None:
        fp = fingerprint(path)
        started = fp, Probing(path, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    fp, probing = started
    info = probing.result()
    if preset is not None:
        check_applies(preset, info, path)
    return fp, info


class InputsRejected(InputError):
    """Some inputs of a batch cannot be processed; ``problems`` names each one."""

    def __init__(self, problems: list[str], total: int) -> None:
        hint = "" if len(problems) == total else " (--all-or-nothing)"
        super().__init__(
            f"{len(problems)} of {total} inputs cannot be processed; nothing was submitted{hint}"
        )
        self.problems = problems
