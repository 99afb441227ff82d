"""The ``mediaforge`` command: a thin skin over the library.

Each command parses its arguments, calls one core function and renders the
result. Errors are mapped to exit codes in exactly one place
(:class:`_App.__call__`): a ``MediaforgeError`` becomes ``Error: ...`` on
stderr with its exit code, without a traceback unless ``--debug``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from mediaforge import __version__
from mediaforge.errors import ExitCode, MediaforgeError

if TYPE_CHECKING:
    from mediaforge.config.schema import Config
    from mediaforge.jobs.store import JobStore
    from mediaforge.queue.backend import JobQueue

# emoji=False: rich would turn ":v:" in "-b:v:0" (or in a file name) into an emoji.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


class _App(typer.Typer):
    """Typer app whose call maps domain errors to one line and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        debug = "--debug" in sys.argv or os.environ.get("MEDIAFORGE_DEBUG") == "1"
        try:
            return super().__call__(*args, **kwargs)
        except MediaforgeError as exc:
            if debug:
                raise
            _report(exc)
            sys.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            if debug:
                raise
            err.print("Interrupted.")
            sys.exit(int(ExitCode.INTERRUPTED))


def _report(exc: MediaforgeError) -> None:
    # The message is plain text: "[s3]" in an install hint is not markup.
    err.print(f"[red]Error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
    for problem in getattr(exc, "problems", []):
        err.print(f"  {problem}", markup=False, soft_wrap=True)


app = _App(
    name="mediaforge",
    help="Self-hosted media transcoding: FFmpeg presets through a persistent queue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
presets_app = typer.Typer(help="List, show and validate presets.", no_args_is_help=True)
config_app = typer.Typer(help="Show, check and create the configuration.", no_args_is_help=True)
app.add_typer(presets_app, name="presets")
app.add_typer(config_app, name="config")


class _State:
    """What the global options resolved; config and store are opened on demand."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._store: JobStore | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from mediaforge.config.schema import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> JobStore:
        if self._store is None:
            from mediaforge.jobs.store import JobStore

            self._store = JobStore.open(self.config)
        return self._store

    def queue(self) -> JobQueue:
        from mediaforge.queue.backend import JobQueue

        return JobQueue(self.config)


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    assert isinstance(state, _State)
    return state


def _version(value: bool) -> None:
    if value:
        out.print(f"mediaforge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--config", "-c", help="Config file (default: see docs/configuration.md)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """mediaforge: point it at files or folders, get verified outputs."""
    ctx.obj = _State(config)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PresetOpt = Annotated[
    str, typer.Option("--preset", "-p", help="Preset name (mediaforge presets list).")
]
OutputDirOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output-dir", "-o", help="Where outputs go (default: beside the input)."),
]


# -- jobs --------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    input: Annotated[str, typer.Argument(help="The input file, or s3://BUCKET/KEY.")],
    preset: PresetOpt,
    output_dir: OutputDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run one job in the foreground (no queue, no worker needed)."""
    from mediaforge.jobs.store import JobStatus
    from mediaforge.queue.pipeline import SHUTDOWN, run_foreground
    from mediaforge.storage.s3.client import is_s3_url
    from mediaforge.storage.s3.uploads import ensure_available

    state = _state(ctx)
    ensure_available(state.config)
    # The outcome is reported below as one line; without this, Python's
    # last-resort handler would print the pipeline's log records as well.
    logging.getLogger("mediaforge").addHandler(logging.NullHandler())
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
    try:
        job = run_foreground(
            state.config,
            state.store,
            input if is_s3_url(input) else Path(input),
            preset,
            output_dir=output_dir,
            stop=lambda: SHUTDOWN if interrupted else None,
            # A progress bar only for a person watching; redirected output stays clean.
            console=err if not json_out and err.is_terminal else None,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if json_out:
        from mediaforge.cli.render import print_json

        print_json(job.to_dict())
    else:
        from mediaforge.cli.render import job_detail

        job_detail(out, job, state.store.notifications_for(job), _uploads(state, job.id))
    if interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if job.status not in (JobStatus.SUCCEEDED, JobStatus.SKIPPED):
        reason = f": {job.error}" if job.error else ""
        err.print(f"Error: job {job.id} {job.status.value}{reason}", markup=False, soft_wrap=True)
        raise typer.Exit(int(ExitCode.FAILURE))


@app.command()
def submit(
    ctx: typer.Context,
    inputs: Annotated[
        list[str], typer.Argument(help="Files, folders (recursive), globs or s3://BUCKET/KEY.")
    ],
    preset: PresetOpt,
    output_dir: OutputDirOpt = None,
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Follow progress until all end.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Queue one job per input; prints the job ids."""
    from mediaforge.queue.submission import submit as submit_jobs
    from mediaforge.storage.inputs import expand_inputs
    from mediaforge.storage.s3.client import is_s3_url

    state = _state(ctx)
    local = expand_inputs([i for i in inputs if not is_s3_url(i)])
    paths: list[Path | str] = [*local, *(i for i in inputs if is_s3_url(i))]
    ids = submit_jobs(
        state.config,
        state.store,
        state.queue(),
        paths,
        preset,
        output_dir=output_dir,
        priority=priority,
    )
    if not wait:
        if json_out:
            from mediaforge.cli.render import print_json

            print_json([state.store.get(i).to_dict() for i in ids])
        else:
            for i in ids:
                out.print(str(i))  # an int would make rich import its pretty-printer (~10 ms)
        return
    _wait_for(state, ids, json_out)


def _wait_for(state: _State, ids: list[int], json_out: bool) -> None:
    from mediaforge.cli.render import follow, print_json
    from mediaforge.jobs.store import JobStatus

    if json_out:
        while not all(state.store.get(i).status.finished for i in ids):
            time.sleep(0.5)
        jobs = [state.store.get(i) for i in ids]
        print_json(jobs[0].to_dict() if len(jobs) == 1 else [j.to_dict() for j in jobs])
    else:
        jobs = follow(err, ids, state.store.get)
        for job in jobs:
            if job.error:
                err.print(f"job {job.id}: {job.error}", markup=False, soft_wrap=True)
    if any(j.status in (JobStatus.FAILED, JobStatus.CANCELLED) for j in jobs):
        raise typer.Exit(int(ExitCode.FAILURE))


@app.command()
def worker(
    ctx: typer.Context,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", "-w", min=1, help="Jobs at a time (default: config)."),
    ] = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queue is empty.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run a worker: take jobs from the queue until stopped (SIGTERM/SIGINT)."""
    from mediaforge.ops.logs import setup_logging
    from mediaforge.queue.worker import run_worker

    state = _state(ctx)
    setup_logging(state.config.log, verbose=verbose)
    run_worker(state.config, workers=workers, burst=burst)


@app.command()
def status(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="Job id.")],
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Follow until it ends.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show one job."""
    from mediaforge.cli.render import job_detail, print_json

    state = _state(ctx)
    job = state.store.get(job_id)
    if follow_ and not job.status.finished:
        _wait_for(state, [job_id], json_out)
        if not json_out:
            job_detail(out, state.store.get(job_id), (), _uploads(state, job_id))
        return
    notifications = state.store.notifications_for(job)
    uploads = _uploads(state, job_id)
    if json_out:
        print_json(
            {
                **job.to_dict(),
                "notifications": [n.to_dict() for n in notifications],
                "uploads": [u.to_dict() for u in uploads],
            }
        )
    else:
        job_detail(out, job, notifications, uploads)


def _uploads(state: _State, job_id: int) -> list[Any]:
    from mediaforge.storage.s3.uploads import UploadStore

    return UploadStore(state.store).for_job(job_id)


@app.command()
def jobs(
    ctx: typer.Context,
    status_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--status", "-s", help="Only jobs in this state."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    from mediaforge.cli.render import jobs_table, print_json
    from mediaforge.jobs.store import JobStatus

    wanted = None
    if status_ is not None:
        try:
            wanted = JobStatus(status_)
        except ValueError:
            allowed = ", ".join(s.value for s in JobStatus)
            raise typer.BadParameter(
                f"'{status_}' is not a job status; use one of {allowed}", param_hint="--status"
            ) from None
    listed = _state(ctx).store.list_jobs(status=wanted, limit=limit)
    if json_out:
        print_json([j.to_dict() for j in listed])
    else:
        jobs_table(out, listed)


@app.command()
def cancel(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="Job id.")],
) -> None:
    """Cancel a queued or running job (a running ffmpeg is stopped, temp files removed)."""
    from mediaforge.notify.delivery import notify_job_ended

    state = _state(ctx)
    job = state.store.cancel(job_id)
    notify_job_ended(state.config, state.store, job)
    out.print(f"job {job.id} cancelled")


@app.command()
def retry(
    ctx: typer.Context,
    job_id: Annotated[
        Optional[int],  # noqa: UP045
        typer.Argument(metavar="[JOB]", help="Job id."),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed job.")] = False,
) -> None:
    """Queue a failed or cancelled job again."""
    from mediaforge.jobs.store import JobStatus

    state = _state(ctx)
    if (job_id is None) == (not failed):
        raise typer.BadParameter("give a JOB id or --failed (not both)")
    ids = state.store.ids_with_status(JobStatus.FAILED) if failed else [job_id]
    queue = state.queue()
    for i in ids:
        assert i is not None
        job = state.store.retry(i)
        queue.enqueue(job.id, priority=job.priority)
        out.print(f"job {job.id} queued again")
    if failed and not ids:
        out.print("no failed jobs")


@app.command()
def probe(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="A media file.")],
    json_out: JsonOpt = False,
) -> None:
    """Show what ffprobe sees in a file."""
    from mediaforge.cli.render import media_info, print_json
    from mediaforge.media.probe import probe as probe_file

    config = _state(ctx).config
    info = probe_file(input, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    if json_out:
        print_json(info.to_dict())
    else:
        media_info(out, info)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check ffmpeg, encoders, the data folder, the job database and the queue."""
    from mediaforge.ops.doctor import run_checks

    checks = run_checks(_state(ctx).config)
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        out.print(f"{mark} {check.name}: ", end="")
        out.print(check.detail, markup=False, soft_wrap=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(int(ExitCode.FAILURE))


# -- presets -------------------------------------------------------------------


@presets_app.command("list")
def presets_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List built-in and user presets."""
    from mediaforge.cli.render import print_json
    from mediaforge.presets.model import load_presets

    presets = load_presets(_state(ctx).config.presets_dir)
    if json_out:
        print_json(
            [
                {
                    "name": p.name,
                    "description": p.description,
                    "source": p.source,
                    "outputs": [o.name for o in p.outputs],
                }
                for p in presets.values()
            ]
        )
        return
    width = max(len(n) for n in presets)
    for p in presets.values():
        origin = "" if p.builtin else f"  ({p.source})"
        out.print(f"{p.name:<{width}}  {p.description}{origin}", markup=False, soft_wrap=True)


@presets_app.command("show")
def presets_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Preset name.")],
    input: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--input", "-i", help="Print the exact ffmpeg command for this file."),
    ] = None,
    output_dir: OutputDirOpt = None,
) -> None:
    """Show a preset, or the exact ffmpeg command it would run on --input."""
    from mediaforge.presets.model import get_preset

    config = _state(ctx).config
    preset = get_preset(name, config.presets_dir)
    if input is None:
        out.print(preset.describe(), markup=False, soft_wrap=True)
        return
    from mediaforge.queue.pipeline import preview_command

    out.print(preview_command(config, name, input, output_dir), markup=False, soft_wrap=True)


@presets_app.command("validate")
def presets_validate(
    files: Annotated[list[Path], typer.Argument(help="Preset YAML files.")],
) -> None:
    """Check preset files; every problem is listed with its line."""
    from mediaforge.errors import PresetError
    from mediaforge.presets.model import load_preset_file

    bad = 0
    for path in files:
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            bad += 1
            _report(exc)
        else:
            out.print(
                f"{path}: ok (preset '{preset.name}', {len(preset.outputs)} output(s))",
                markup=False,
                soft_wrap=True,
            )
    if bad:
        raise typer.Exit(int(ExitCode.PRESET))


# -- config ----------------------------------------------------------------------


@config_app.command("show")
def config_show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the configuration in effect (secrets redacted)."""
    import yaml

    from mediaforge.cli.render import print_json
    from mediaforge.config.schema import config_to_dict

    config = _state(ctx).config
    data = config_to_dict(config)
    if json_out:
        print_json(data)
        return
    where = config.source or "built-in defaults (no config file found)"
    # soft_wrap: long lines must not be broken, or the YAML would not read back.
    out.print(f"# from: {where}", markup=False, soft_wrap=True)
    out.print(yaml.safe_dump(data, sort_keys=False).rstrip(), markup=False, soft_wrap=True)


@config_app.command("check")
def config_check(ctx: typer.Context) -> None:
    """Validate the configuration file; every bad field is listed with its line."""
    from mediaforge.storage.s3.uploads import ensure_available

    config = _state(ctx).config
    ensure_available(config)  # an s3 section is only usable with boto3 installed
    where = config.source or "no config file; built-in defaults"
    out.print(f"{where}: ok", markup=False, soft_wrap=True)


@config_app.command("init")
def config_init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("mediaforge.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config file with every setting at its default."""
    from mediaforge.config.schema import example_config_text
    from mediaforge.errors import ConfigError

    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(example_config_text(), encoding="utf-8")
    out.print(f"wrote {path}", markup=False, soft_wrap=True)


# -- notify ----------------------------------------------------------------------

notify_app = typer.Typer(help="Check the notification targets.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    tag: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--tag", "-t", help="Only the targets with this tag."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Send a test message to each notification target and report which worked."""
    from mediaforge.cli.render import print_json
    from mediaforge.notify.delivery import send_test

    results = send_test(_state(ctx).config, tag)
    if json_out:
        print_json([{"target": r.target, "ok": r.ok, "reason": r.reason} for r in results])
    else:
        for r in results:
            out.print("[green]ok[/]   " if r.ok else "[red]FAIL[/] ", end="")
            out.print(r.target if r.ok else f"{r.target}: {r.reason}", markup=False, soft_wrap=True)
    if not all(r.ok for r in results):
        raise typer.Exit(int(ExitCode.FAILURE))


# -- S3 ----------------------------------------------------------------------------------

s3_app = typer.Typer(help="Sync outputs to S3 (see docs/s3.md).", no_args_is_help=True)
app.add_typer(s3_app, name="s3")


@s3_app.command("sync")
def s3_sync(
    ctx: typer.Context,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Try failed uploads again too.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be uploaded; upload nothing.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Upload now whatever is owed to S3: files of jobs made before S3 was
    configured, uploads waiting for a retry, and (--retry-failed) failed ones."""
    from mediaforge.cli.render import print_json, sync_report
    from mediaforge.jobs.store import this_worker_prefix
    from mediaforge.notify.delivery import notify_job_now
    from mediaforge.storage.s3.uploads import Uploader, ensure_available, sync_plan

    state = _state(ctx)
    config = state.config
    if not config.s3.enabled:
        err.print(
            "Note: s3.bucket is not set; only results of s3:// inputs are synced",
            markup=False,
            soft_wrap=True,
        )
    uploader = Uploader(config, state.store)
    if dry_run:
        plan = sync_plan(uploader, retry_failed=retry_failed)
        if json_out:
            print_json(plan)
        else:
            for item in plan:
                out.print(f"{item['path']} -> {item['object']}", markup=False, soft_wrap=True)
            out.print(f"{len(plan)} file(s) would be uploaded", soft_wrap=True)
        return
    ensure_available(config)  # ConfigError now when boto3 is missing
    # Every outcome is in the report below; without this, Python's last-resort
    # handler would print the uploader's warnings as well.
    logging.getLogger("mediaforge").addHandler(logging.NullHandler())
    show = None if json_out or not err.is_terminal else err
    claimer = f"{this_worker_prefix()}/sync"
    report = uploader.sync(
        claimer,
        retry_failed=retry_failed,
        on_file=(lambda u: show.print(f"uploading {u.path}", markup=False)) if show else None,
    )
    # Jobs whose uploads settled here get the message they waited for.
    for job_id in report.settled_jobs:
        notify_job_now(config, state.store, state.store.get(job_id), claimer)
    if json_out:
        print_json(report.to_dict())
    else:
        sync_report(out, report)
    if not report.in_sync:
        raise typer.Exit(int(ExitCode.FAILURE))


@s3_app.command("links")
def s3_links(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="Job id.")],
    expiry: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--expiry", min=1, max=604800, help="Seconds the links work (default: s3.link_expiry)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make new download links for a job's uploaded outputs (links expire)."""
    from mediaforge.cli.render import print_json
    from mediaforge.storage.s3.uploads import Uploader

    state = _state(ctx)
    state.store.get(job_id)  # JobNotFound for a wrong id
    seconds = expiry or state.config.s3.link_expiry or 3600
    uploads = [
        u for u in Uploader(state.config, state.store).refresh_links(job_id, seconds) if u.url
    ]
    if json_out:
        print_json([{"object": u.s3_url, "link": u.url} for u in uploads])
    elif not uploads:
        out.print(f"job {job_id} has no uploaded outputs to link to", soft_wrap=True)
    for u in uploads if not json_out else []:
        out.print(f"{u.name}: {u.url}", markup=False, soft_wrap=True)
    if not uploads:
        raise typer.Exit(int(ExitCode.FAILURE))


# -- watch folders and systemd --------------------------------------------------------


@app.command()
def watch(
    ctx: typer.Context,
    path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="A folder to watch (default: the 'watch:' rules of the config)."),
    ] = None,
    presets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--preset", "-p", help="Preset for files in PATH (repeat for several)."),
    ] = None,
    output_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output-dir", "-o", help="Where outputs go (default: PATH/output)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Scan, submit what is ready, and exit.")
    ] = False,
    poll: Annotated[bool, typer.Option("--poll", help="Poll instead of using events.")] = False,
    settle: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--settle", min=0, help="Seconds a file must stay unchanged."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Watch folders: submit each new file once it is complete (see docs/watch.md)."""
    from mediaforge.ops.logs import setup_logging
    from mediaforge.watch.watcher import run_watch, watch_rules

    config = _state(ctx).config
    setup_logging(config.log, verbose=verbose)
    rules = watch_rules(config, path, presets or (), output_dir=output_dir, poll=poll,
                        settle=settle)
    report = run_watch(config, rules, once=once)
    if once:
        out.print(f"submitted {len(report.submitted)} job(s)", markup=False, soft_wrap=True)
        if report.waiting:
            out.print(f"{report.waiting} file(s) still changing; left for the next run",
                      soft_wrap=True)
        for folder in report.missing:
            out.print(f"{folder} is missing; skipped", markup=False, soft_wrap=True)


systemd_app = typer.Typer(help="Run the worker and the watcher as systemd services.",
                          no_args_is_help=True)
app.add_typer(systemd_app, name="systemd")


@systemd_app.command("install")
def systemd_install(
    ctx: typer.Context,
    user: Annotated[
        bool, typer.Option("--user", help="User units (~/.config/systemd/user), not system.")
    ] = False,
    dest: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--dest", help="Write the units here instead."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the units; write nothing.")
    ] = False,
) -> None:
    """Write worker and watch units that run this mediaforge (see docs/systemd.md)."""
    from mediaforge.ops.systemd import install_units

    result = install_units(_state(ctx).config, user=user, dest=dest, dry_run=dry_run)
    for path, unit in result.units.items():
        if dry_run:
            out.print(f"# {path}\n{unit.text}", markup=False, soft_wrap=True)
        else:
            out.print(f"wrote {path}", markup=False, soft_wrap=True)
    for warning in result.warnings:
        err.print(f"Warning: {warning}", markup=False, soft_wrap=True)
    out.print("\nThen:" if not dry_run else "To install them, run without --dry-run, then:",
              soft_wrap=True)
    for step in result.next_steps:
        out.print(f"  {step}", markup=False, soft_wrap=True)
