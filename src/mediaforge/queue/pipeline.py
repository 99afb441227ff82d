"""One attempt at one job: claim, probe, plan, run ffmpeg, verify, publish.

The worker and ``mediaforge run`` both call :func:`run_job`; the difference
between them is only who schedules the retry. The invariants of DESIGN.md
live here: inputs are never touched, outputs appear under their final name
only after verification, and a job is finished only by the worker that holds
it (compare-and-set in the job database).
"""

# The attempt reads as one story, top to bottom; the pieces it calls on live
# apart: the s3:// download (queue/fetching.py), ffmpeg's watchdog
# (queue/watchdog.py), one encode and its verification (queue/encoding.py),
# publishing (queue/publishing.py), superseding (queue/superseding.py), the
# endings that record more than one line (queue/outcomes.py), and the
# preview of a command (queue/preview.py).

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import (
    ConfigError,
    EnvironmentProblem,
    FFmpegError,
    InputError,
    Interrupted,
    PresetError,
    StorageError,
)
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.outage import ride_out
from mediaforge.jobs.store import JobStore
from mediaforge.media.encoder_choice import after_failure
from mediaforge.media.encoder_planning import plan_with_encoder
from mediaforge.media.planning import Action, Plan, plan_job
from mediaforge.media.probe import MediaInfo, check_readable
from mediaforge.notify.delivery import notify_job_now
from mediaforge.presets.loading import get_preset
from mediaforge.presets.model import Preset
from mediaforge.queue.early_probes import EarlyProbes
from mediaforge.queue.encoding import encode, prober
from mediaforge.queue.fetching import fetch_remote_input
from mediaforge.queue.guard import keep_outputs, output_needs, wait_for_space
from mediaforge.queue.handover import hand_over, others_may_see, unseen_folder
from mediaforge.queue.outcomes import Outcome, after_outage, succeed, supersede
from mediaforge.queue.publishing import (
    adopt_published,
    crash_point,
    plan_placements,
    publish_planned,
)
from mediaforge.queue.stopping import CANCELLED, LOST, UNREACHABLE, StopCheck
from mediaforge.queue.stopping import SHUTDOWN as SHUTDOWN  # the worker and `run` import it here
from mediaforge.queue.superseding import (
    input_at_start,
    input_before_publishing,
    stored_probe,
)
from mediaforge.queue.watchdog import ProgressCallback, Watchdog
from mediaforge.storage.local import ensure_folder, remove_quietly, remove_stale_temps
from mediaforge.storage.paths import PathMap
from mediaforge.storage.s3.client import is_s3_url
from mediaforge.storage.s3.download import download_folder, remote_outputs_dir
from mediaforge.units import backoff

log = logging.getLogger(__name__)


def _output_dir(job: Job, config: Config, input_path: Path) -> Path:
    if job.output_dir:
        return Path(PathMap.of(config).to_local(job.output_dir))
    if config.output.dir is not None:
        return config.output.dir
    if is_s3_url(job.input_path):
        return remote_outputs_dir(config)  # not beside the downloaded copy: it goes away
    return input_path.parent


def run_job(
    store: JobStore,
    config: Config,
    job_id: int,
    worker: str,
    *,
    stop: StopCheck = lambda: None,
    on_progress: ProgressCallback | None = None,
) -> Outcome:
    """Run one attempt of ``job_id`` as ``worker``.

    ``stop`` is polled while ffmpeg runs; returning a reason (e.g. SHUTDOWN)
    kills ffmpeg, removes temporary files and hands the job back.
    """
    job = store.claim(job_id, worker)
    if job is None:
        log.info("job %s is not queued any more; nothing to do", job_id)
        return Outcome(None)
    remote = is_s3_url(job.input_path)
    paths = PathMap.of(config)
    input_path = Path(paths.to_local(job.input_path))
    download: Path | None = None
    log.info(
        "job %s: %s with preset %s (attempt %s/%s)",
        job.id,
        job.input_path,
        job.preset,
        job.attempts,
        job.max_attempts,
    )
    plan: Plan | None = None
    command_log = ""
    try:
        # First: a host that cannot see the files must not touch an earlier
        # attempt's publish plan either (it would find nothing and drop it).
        unseen = None if remote else unseen_folder(config, job, input_path)
        if unseen is not None and others_may_see(store, config, worker, unseen):
            wait = hand_over(store, config, job, worker, unseen)
            if wait is None:
                return Outcome(store.get(job.id))  # failed: no host could see it
            return Outcome(store.get(job.id), retry_in=wait, refused=True)
        # A crash in an earlier attempt's publish window: finish that instead.
        adopted = adopt_published(store, job.id, worker, config.output.collision, paths.to_local)
        if adopted is not None:
            return succeed(store, config, job, worker, adopted, "")
        preset = get_preset(job.preset, config.presets_dir)
        if remote:
            download = download_folder(config, job.id, job.attempts)
            wait = wait_for_space(store, config, job, worker, {download: job.input_size or 0})
            if wait is not None:
                return Outcome(store.get(job.id), retry_in=wait)
            input_path = fetch_remote_input(store, config, job, worker, download, stop)
        if remote:
            info = prober(config)(input_path)
        else:
            check_readable(input_path)  # first: it says best what is wrong with an input
            started_as, superseded = input_at_start(store, job, worker, input_path)
            if superseded:
                return supersede(store, job, worker, superseded)
            # The probe taken at submit, while the input is unchanged: one ffprobe
            # fewer per job. The outputs are still verified by a fresh probe.
            stored = stored_probe(job, started_as)
            reused = MediaInfo.from_json(stored, input_path) if stored is not None else None
            info = reused if reused is not None else prober(config)(input_path)
        out_dir = _output_dir(job, config, input_path)
        ensure_folder(out_dir)
        remove_stale_temps(out_dir, job.id)
        attempt = job.attempts

        def plan_for(chosen: Preset) -> Plan:
            return plan_job(
                chosen,
                info,
                input_path=input_path,
                output_dir=out_dir,
                job_id=job_id,
                attempt=attempt,
                collision=config.output.collision,
            )

        # Planned in software first: a remux or skip needs no encoder at all.
        choice, plan = plan_with_encoder(config, preset, plan_for)
        store.set_input_facts(
            job.id,
            worker,
            input_duration=info.duration,
            action=plan.action.value,
            note=plan.note,
        )
        job = store.get(job.id)
        if plan.action is Action.SKIP:
            store.finish(job.id, worker, JobStatus.SKIPPED, note=plan.note)
            log.info("job %s skipped: %s", job.id, plan.note)
            return Outcome(store.get(job.id))
        _record_plan(store, job, worker, plan)

        needs = output_needs(plan, out_dir, info.duration, input_path)
        wait = wait_for_space(store, config, job, worker, needs)
        if wait is not None:
            _cleanup(plan)
            return Outcome(store.get(job.id), retry_in=wait)
        if choice.note:
            store.decide(job.id, worker, "encoder", choice.note)
        watchdog = Watchdog(
            store,
            job,
            worker,
            config.worker.heartbeat_interval,
            stop,
            on_progress,
            config.worker.stale_after,
        )
        try:
            command_log, verified = encode(config, plan, info, input_path, out_dir, watchdog)
        except FFmpegError as exc:
            # A full disk (a StorageError) is not the hardware's fault: it
            # passes by here, and the job is retried as any other.
            if not choice.hardware or preset.encoder_strict:
                raise
            # The hardware failed on a real job: software, in this same attempt.
            _cleanup(plan)
            choice = after_failure(config, choice, str(exc))
            store.decide(job.id, worker, "encoder", choice.note)
            log.warning("job %s: %s", job.id, choice.note)
            plan = plan_for(choice.preset)
            _record_plan(store, job, worker, plan)  # the software plan's colours and tracks
            command_log, verified = encode(config, plan, info, input_path, out_dir, watchdog)

        if not remote:
            superseded = input_before_publishing(store, job, input_path, started_as)
            if superseded:
                _cleanup(plan)
                return supersede(store, job, worker, superseded)
        if not keep_outputs(store, job, worker, preset, input_path, [t for t, _ in verified]):
            _cleanup(plan)
            return Outcome(store.get(job.id))
        # Record the plan, and with it the last ownership check before anything
        # becomes visible: a cancelled or recovered job must not publish.
        placements = plan_placements(verified)
        # Canonical, like the job's paths: a later attempt may run on another host.
        recorded = [p.moved(paths.to_canonical).to_dict() for p in placements]
        if not ride_out(
            lambda: store.plan_publishing(job.id, worker, recorded),
            config.worker.stale_after,
            "the publish plan",
        ):
            raise Interrupted("job was taken away before publishing", LOST)
        crash_point("planned")
        outputs = publish_planned(placements, config.output.collision)
        return succeed(store, config, job, worker, outputs, command_log)
    except Interrupted as exc:
        _cleanup(plan)
        if exc.reason == CANCELLED:
            log.info("job %s cancelled; ffmpeg stopped, temporary files removed", job.id)
        elif exc.reason == LOST:
            log.warning("job %s was recovered by another worker; dropped this attempt", job.id)
        elif exc.reason == UNREACHABLE:
            return after_outage(store, job, worker)
        else:
            store.release(job.id, worker, count_attempt=False)
            log.info("job %s handed back to the queue (%s)", job.id, exc.reason)
            return Outcome(store.get(job.id), retry_in=0.0, handed_back=True)
        return Outcome(store.get(job.id))
    except (InputError, PresetError, ConfigError, EnvironmentProblem) as exc:
        # Input that can never work (or S3 settings this worker cannot use, or
        # an ffmpeg it cannot run): fail now, no retries, original untouched.
        _cleanup(plan)
        tail = getattr(exc, "log_tail", "") or command_log or None
        store.finish(job.id, worker, JobStatus.FAILED, error=str(exc), log_tail=tail)
        log.error("job %s failed: %s", job.id, exc)
        return Outcome(store.get(job.id))
    except (FFmpegError, StorageError) as exc:
        _cleanup(plan)
        tail = getattr(exc, "log_tail", "") or None
        if job.attempts < job.max_attempts:
            delay = backoff(config.worker.retry_backoff, job.attempts)
            store.release(
                job.id, worker, retry_at=time.time() + delay, error=str(exc), log_tail=tail
            )
            log.warning(
                "job %s attempt %s failed (%s); retrying in %.0fs", job.id, job.attempts, exc, delay
            )
            return Outcome(store.get(job.id), retry_in=delay)
        store.finish(job.id, worker, JobStatus.FAILED, error=str(exc), log_tail=tail)
        log.error("job %s failed after %s attempts: %s", job.id, job.attempts, exc)
        return Outcome(store.get(job.id))
    except BaseException:
        # A bug or a hard stop: leave no temp files, and let recovery requeue
        # the job (it stays 'running' with this worker until its heartbeat
        # goes stale or this process is gone).
        _cleanup(plan)
        raise
    finally:
        if download is not None:
            remove_quietly(download)  # the downloaded copy of an s3:// input, always


def _record_plan(store: JobStore, job: Job, worker: str, plan: Plan) -> None:
    """The plan's decisions shown by ``status``: what it does with HDR input
    and which tracks it keeps (again after a re-plan: the text is replaced)."""
    if plan.colour_note is not None:
        store.decide(job.id, worker, "colour", plan.colour_note)
    if plan.streams_summary:
        store.decide(job.id, worker, "streams", plan.streams_summary)


def _cleanup(plan: Plan | None) -> None:
    if plan is not None:
        for out in plan.outputs:
            remove_quietly(out.temp)


def run_foreground(
    config: Config,
    store: JobStore,
    input_path: Path | str,
    preset: str,
    *,
    output_dir: Path | None = None,
    stop: StopCheck = lambda: None,
    on_progress: ProgressCallback | None = None,
    on_wait: Callable[[Job, float], None] | None = None,
    early: EarlyProbes | None = None,
) -> Job:
    """``mediaforge run``: one job through the same pipeline, in this process.

    Transient failures are retried here after their backoff; an interrupt
    (``stop`` returning a reason) cancels the job. The job's files are
    uploaded to S3 (when configured) and notifications sent before
    returning; an upload that fails stays owed, for a worker or ``mediaforge
    s3 sync``. ``on_progress`` sees the running job and its progress (0..1)
    as ffmpeg reports it; ``on_wait`` the job and the seconds before its next
    try, when it waits (a retry's backoff, free space). A probe of the input
    started in ``early`` (keyed by its absolute path) is used for it. Returns
    the finished job.
    """
    from mediaforge.jobs.identity import this_worker_prefix
    from mediaforge.queue.submission import prepare_jobs

    source = input_path if isinstance(input_path, str) else input_path.absolute()
    [new_job] = prepare_jobs(config, [source], preset, output_dir=output_dir, early=early)
    [job_id] = store.create([new_job])
    worker = f"{this_worker_prefix()}/run"
    while True:
        outcome = run_job(store, config, job_id, worker, stop=stop, on_progress=on_progress)
        if outcome.handed_back:
            store.cancel(job_id)
            break
        if outcome.retry_in is None:
            break
        if on_wait is not None and outcome.job is not None:
            on_wait(outcome.job, outcome.retry_in)
        deadline = time.monotonic() + outcome.retry_in
        while time.monotonic() < deadline and stop() is None:
            time.sleep(0.2)
        if stop() is not None:
            store.cancel(job_id)
            break
    job = store.get(job_id)
    if job.status is JobStatus.SUCCEEDED:
        upload_now(config, store, job_id, worker, stop)
    # Sent here and now (bounded by notify.timeout): no worker may be running.
    notify_job_now(config, store, job, worker)
    if config.hooks:
        from mediaforge.hooks.delivery import run_hooks_now

        run_hooks_now(config, store, job, worker)
    return job


def upload_now(config: Config, store: JobStore, job_id: int, worker: str, stop: StopCheck) -> None:
    """Upload a job's files in this process (``mediaforge run``). A failure is
    logged and left owed; it never changes the job."""
    from mediaforge.storage.s3.rows import UploadStore
    from mediaforge.storage.s3.uploader import Uploader

    if UploadStore(store).settled(job_id):
        return
    try:
        Uploader(config, store).upload_job(job_id, worker, everything=True, stop=stop)
    except Interrupted:
        log.warning("job %s: upload interrupted; 'mediaforge s3 sync' finishes it", job_id)
