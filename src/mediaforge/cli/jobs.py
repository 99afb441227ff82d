"""Job commands: run one in the foreground, submit to the queue, follow,
list, cancel and retry (docs/cli.md#jobs)."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from mediaforge.cli.completion import complete_job
from mediaforge.cli.console import err, out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JobArg, JsonOpt, OutputDirOpt, PresetOpt, QuietOpt
from mediaforge.cli.state import State, get_state
from mediaforge.errors import ExitCode

if TYPE_CHECKING:
    from mediaforge.jobs.model import Job
    from mediaforge.queue.early_probes import EarlyProbes


def run(
    ctx: typer.Context,
    input: Annotated[str, typer.Argument(help="The input file, or s3://BUCKET/KEY.")],
    preset: PresetOpt,
    output_dir: OutputDirOpt = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Run one job in the foreground (no queue, no worker needed)."""
    from mediaforge.queue.early_probes import EarlyProbes
    from mediaforge.storage.s3.client import is_s3_url

    state = get_state(ctx)
    source = input if is_s3_url(input) else Path(input)
    local = [] if isinstance(source, str) else [source.absolute()]
    # The input's probe runs while the pipeline is imported and the job database opened.
    with EarlyProbes(state.config, local) as early:
        job, interrupted = _run_in_foreground(
            state, source, preset, output_dir, early, quiet=quiet, json_out=json_out
        )
    if json_out:
        from mediaforge.cli.render import print_json

        print_json(job.to_dict())
    else:
        from mediaforge.cli.render import job_detail

        # The error, if any, is the Error: line below: once.
        job_detail(out, job, _notifications(state, job), _uploads(state, job.id), error=False)
    if interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    from mediaforge.jobs.model import JobStatus

    if job.status not in (JobStatus.SUCCEEDED, JobStatus.SKIPPED):
        reason = f": {job.error}" if job.error else ""
        err.print(f"Error: job {job.id} {job.status.value}{reason}", markup=False, soft_wrap=True)
        raise typer.Exit(int(ExitCode.FAILURE))


def _run_in_foreground(
    state: State,
    source: Path | str,
    preset: str,
    output_dir: Path | None,
    early: EarlyProbes,
    *,
    quiet: bool,
    json_out: bool,
) -> tuple[Job, bool]:
    """``run``'s job, with its progress shown; the job, and whether Ctrl-C stopped it."""
    from mediaforge.cli.progress import display_for
    from mediaforge.queue.pipeline import SHUTDOWN, run_foreground
    from mediaforge.storage.s3.uploader import ensure_available

    ensure_available(state.config)
    # The outcome is reported below as one line; without this, Python's
    # last-resort handler would print the pipeline's log records as well.
    logging.getLogger("mediaforge").addHandler(logging.NullHandler())
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
    # JSON is for scripts: the result alone, as --quiet.
    display = display_for(err, quiet=quiet or json_out, transient=True)
    try:
        job = run_foreground(
            state.config,
            state.store,
            source,
            preset,
            output_dir=output_dir,
            stop=lambda: SHUTDOWN if interrupted else None,
            on_progress=display.update,
            on_wait=None if quiet else _say_why_it_waits,
            early=early,
        )
    finally:
        display.close()
        signal.signal(signal.SIGINT, previous)
    return job, bool(interrupted)


def submit(
    ctx: typer.Context,
    inputs: Annotated[
        list[str], typer.Argument(help="Files, folders (recursive), globs or s3://BUCKET/KEY.")
    ],
    preset: PresetOpt,
    output_dir: OutputDirOpt = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Follow progress until all end.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="A new job even when one for the same input and preset is waiting."
        ),
    ] = False,
    all_or_nothing: Annotated[
        bool,
        typer.Option(
            "--all-or-nothing", help="Submit nothing when any input cannot be processed."
        ),
    ] = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Queue one job per input; prints the job ids."""
    from mediaforge.queue.early_probes import EarlyProbes
    from mediaforge.storage.inputs import expand_inputs
    from mediaforge.storage.s3.client import is_s3_url

    state = get_state(ctx)
    local = expand_inputs([i for i in inputs if not is_s3_url(i)])
    paths: list[Path | str] = [*local, *(i for i in inputs if is_s3_url(i))]
    # The first probes run while the rest of the submission path is imported.
    with EarlyProbes(state.config, local) as early:
        from mediaforge.queue.submission import submit_inputs

        submitted = submit_inputs(
            state.config,
            state.store,
            state.queue(),
            paths,
            preset,
            output_dir=output_dir,
            priority=priority,
            force=force,
            all_or_nothing=all_or_nothing,
            early=early,
        )
    ids = submitted.ids
    for reason in submitted.refused:
        err.print(f"not submitted: {reason}", markup=False, soft_wrap=True)
    if submitted.refused:
        refused, total = len(submitted.refused), len(submitted.refused) + len(ids)
        err.print(
            f"Error: {refused} of {total} inputs cannot be processed (listed above) and were "
            f"not submitted; the other {len(ids)} were",
            markup=False,
            soft_wrap=True,
        )
    for job_id in sorted(submitted.existing):
        job = state.store.get(job_id)
        err.print(
            f"job {job.id} is already {job.status.value} for {job.input_path} with preset "
            f"'{job.preset}'; not submitted again (--force makes a new job)",
            markup=False,
            soft_wrap=True,
        )
    if not wait:
        if json_out:
            from mediaforge.cli.render import print_json

            print_json([state.store.get(i).to_dict() for i in ids])
        else:
            for i in ids:
                out.print(str(i))  # an int would make rich import its pretty-printer (~10 ms)
    else:
        _wait_for(state, ids, json_out, quiet=quiet, outputs=True)
    if submitted.refused:
        raise typer.Exit(int(ExitCode.PARTIAL))


# How long jobs may sit queued, with no worker busy anywhere, before a waiting
# command says that no worker is running (an idle worker takes a job in ~1 s).
NO_WORKER_AFTER = 5.0

NO_WORKER = (
    "no worker is taking jobs: nothing has started for {after:.0f} s and no worker is "
    "running a job. Start one in another terminal with 'mediaforge worker' (or run "
    "'mediaforge worker --burst' to work through the queue and exit), or use "
    "'mediaforge run INPUT --preset NAME' to run a job without a worker; still waiting"
)


def _no_worker_notice(state: State) -> Callable[[list[Job]], None]:
    """Says once on stderr that no worker is taking the jobs being waited for."""
    from mediaforge.jobs.control import ControlStore
    from mediaforge.queue.control import WorkerWatch

    watch = WorkerWatch(
        state.store, state.config.worker.stale_after, NO_WORKER_AFTER, time.monotonic
    )
    told: list[bool] = []

    def look(jobs: list[Job]) -> None:
        if not told and watch.nobody_working(jobs):
            told.append(True)
            # Workers that run but were told to take nothing (pause, run windows) say why.
            reason = ControlStore(state.store.db).why_waiting(state.config.worker.stale_after)
            notice = NO_WORKER.format(after=NO_WORKER_AFTER)
            if reason is not None:
                notice = f"no job is taken: {reason}; still waiting"
            err.print(notice, markup=False, soft_wrap=True)

    return look


def _wait_for(
    state: State, ids: list[int], json_out: bool, *, quiet: bool, outputs: bool
) -> None:
    """Follow the jobs until they end; then their errors on stderr and, with
    ``outputs``, where each job's outputs went (one line per output)."""
    from mediaforge.cli.progress import follow
    from mediaforge.cli.render import print_json
    from mediaforge.jobs.model import JobStatus
    from mediaforge.storage.paths import PathMap

    notice = _no_worker_notice(state)
    jobs = follow(err, ids, state.store.get, quiet=quiet or json_out, on_poll=notice)
    if json_out:
        print_json(jobs[0].to_dict() if len(jobs) == 1 else [j.to_dict() for j in jobs])
    else:
        for job in jobs:
            if job.error:
                err.print(f"job {job.id}: {job.error}", markup=False, soft_wrap=True)
            if outputs:
                # Where this host finds them: jobs hold canonical paths.
                here = PathMap.of(state.config).to_local
                ended = f"job {job.id} {job.status.value}"
                for made in job.outputs:
                    out.print(f"{ended}: {here(made.path)}", markup=False, soft_wrap=True)
                if not job.outputs:
                    out.print(ended, markup=False, soft_wrap=True)
    if any(j.status in (JobStatus.FAILED, JobStatus.CANCELLED) for j in jobs):
        raise typer.Exit(int(ExitCode.FAILURE))


def status(
    ctx: typer.Context,
    job_id: JobArg,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Follow until it ends.")] = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Show one job."""
    from mediaforge.cli.render import job_detail, print_json

    state = get_state(ctx)
    job = state.store.get(job_id)
    if follow_ and not job.status.finished:
        _wait_for(state, [job_id], json_out, quiet=quiet, outputs=False)
        if not json_out:
            # The error, if any, was printed when the job ended: once.
            job_detail(out, state.store.get(job_id), (), _uploads(state, job_id), error=False)
        return
    notifications = _notifications(state, job)
    uploads = _uploads(state, job_id)
    hooks = _hooks(state, job_id)
    if json_out:
        print_json(
            {
                **job.to_dict(),
                "notifications": [n.to_dict() for n in notifications],
                "uploads": [u.to_dict() for u in uploads],
                "waiting": _waiting(state, job),
                "hooks": [h.to_dict() for h in hooks],
            }
        )
    else:
        job_detail(
            out, job, notifications, uploads, waiting=_waiting(state, job), hooks=hooks
        )


def _waiting(state: State, job: Job) -> str | None:
    """Why a queued job is not taken now (paused, outside every run window)."""
    from mediaforge.jobs.control import ControlStore
    from mediaforge.jobs.model import JobStatus

    if job.status is not JobStatus.QUEUED:
        return None
    return ControlStore(state.store.db).why_waiting(state.config.worker.stale_after)


def _say_why_it_waits(job: Job, seconds: float) -> None:
    """`run` waits in the foreground: say for what, each time (on stderr)."""
    # A free-space wait says when the next try is; a failed attempt's error is
    # printed once, at the end, if the last attempt fails too.
    line = job.decided.get("free space") or (
        f"attempt {job.attempts} of {job.max_attempts} failed; next try in {seconds:.0f} s"
    )
    err.print(f"job {job.id}: {line}", markup=False, soft_wrap=True)


def _notifications(state: State, job: Job) -> list[Any]:
    from mediaforge.notify.store import NotificationStore

    return NotificationStore(state.store).for_job(job)


def _hooks(state: State, job_id: int) -> list[Any]:
    from mediaforge.hooks.store import HookStore

    return HookStore(state.store).for_job(job_id)


def _uploads(state: State, job_id: int) -> list[Any]:
    from mediaforge.storage.s3.rows import UploadStore

    return UploadStore(state.store).for_job(job_id)


# `mediaforge jobs` lists jobs; its subcommands (`jobs prune`) look after the history.
jobs_app = typer.Typer(cls=PlainGroup, rich_markup_mode=None, subcommand_metavar="[COMMAND]")


@jobs_app.callback(invoke_without_command=True)
def jobs(
    ctx: typer.Context,
    status_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--status", "-s", help="Only jobs in this state."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List jobs, newest first (`jobs prune`: remove old finished ones)."""
    if ctx.invoked_subcommand is not None:
        # The listing's options mean nothing to a subcommand: say so rather
        # than run `jobs --status failed prune` on every status.
        given = [
            name
            for name, value, default in (
                ("--status", status_, None), ("--limit", limit, 20), ("--json", json_out, False)
            )
            if value != default
        ]
        if given:
            command = f"jobs {ctx.invoked_subcommand}"
            raise typer.BadParameter(
                f"for the listing ('mediaforge jobs'), not for '{command}'; give "
                f"'{command}' its own options after it (see 'mediaforge {command} --help')",
                param_hint=", ".join(given),
            )
        return
    from mediaforge.cli.render import jobs_table, print_json
    from mediaforge.jobs.model import JobStatus

    wanted = None
    if status_ is not None:
        try:
            wanted = JobStatus(status_)
        except ValueError:
            allowed = ", ".join(s.value for s in JobStatus)
            raise typer.BadParameter(
                f"'{status_}' is not a job status; use one of {allowed}", param_hint="--status"
            ) from None
    listed = get_state(ctx).store.list_jobs(status=wanted, limit=limit)
    if json_out:
        print_json([j.to_dict() for j in listed])
    else:
        jobs_table(out, listed)


@jobs_app.command("prune", cls=PlainCommand)
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Finished jobs that ended before this: 30d, 12h, 2w or a date like "
            "2026-01-31 (default: jobs.retention_days).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove old finished jobs with their notification, upload and hook rows."""
    from mediaforge.cli.render import print_json
    from mediaforge.jobs.retention import DAY, prune
    from mediaforge.units import iso_time, parse_duration_or_time

    state = get_state(ctx)
    if older_than is not None:
        try:
            cutoff = parse_duration_or_time(older_than)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    elif state.config.jobs.retention_days is not None:
        cutoff = time.time() - state.config.jobs.retention_days * DAY
    else:
        raise typer.BadParameter(
            "give an age like 30d (jobs.retention_days is not set)", param_hint="--older-than"
        )
    pruned = prune(state.store.db, cutoff, dry_run=dry_run)
    if json_out:
        print_json({**pruned.to_json(), "dry_run": dry_run})
        return
    verb = "would remove" if dry_run else "removed"
    out.print(
        f"{verb} {pruned.jobs} finished job(s) that ended before {iso_time(cutoff)}, "
        f"with {pruned.notifications} notification, {pruned.uploads} upload "
        f"and {pruned.hooks} hook row(s)",
        markup=False,
    )
    if pruned.held:
        out.print(
            f"kept {pruned.held} older job(s): still owed a notification, an upload or a "
            "hook run, waiting for the rest of their batch, or ended after the last "
            "recovery sweep of a worker",
            markup=False,
        )


def cancel(
    ctx: typer.Context,
    job_id: JobArg,
) -> None:
    """Cancel a queued or running job (a running ffmpeg is stopped, temp files removed)."""
    from mediaforge.queue.control import cancel_job

    state = get_state(ctx)
    job = cancel_job(state.config, state.store, job_id)
    out.print(f"job {job.id} cancelled")


def retry(
    ctx: typer.Context,
    job_id: Annotated[
        Optional[int],  # noqa: UP045
        typer.Argument(metavar="JOB", help="Job id.", autocompletion=complete_job),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed job.")] = False,
) -> None:
    """Queue a failed or cancelled job again."""
    from mediaforge.queue.control import retry_jobs

    state = get_state(ctx)
    if (job_id is None) == (not failed):
        raise typer.BadParameter("give a JOB id or --failed (not both)")
    # Each line as its job is queued: an error on a later job comes after them.
    seen = refused = 0
    ids = None if job_id is None else [job_id]
    for retried in retry_jobs(state.config, state.store, state.queue(), ids):
        seen += 1
        if retried.refused is None:
            out.print(f"job {retried.job.id} queued again")
        else:
            refused += 1
            err.print(
                f"job {retried.job.id} not queued again: {retried.refused}",
                markup=False,
                soft_wrap=True,
            )
    if failed and not seen:
        out.print("no failed jobs")
    if refused:
        raise typer.Exit(int(ExitCode.INPUT))
