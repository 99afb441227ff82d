"""``mediaforge s3``: upload what is owed to S3 now, and make new download
links (docs/cli.md#s3)."""

from __future__ import annotations

import logging
from typing import Annotated, Optional

import typer

from mediaforge.cli.console import err, out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JobArg, JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

s3_app = typer.Typer(
    cls=PlainGroup, help="Sync outputs to S3 (see docs/s3.md).", no_args_is_help=True
)


@s3_app.command("sync", cls=PlainCommand)
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
    from mediaforge.queue.sync import plan_sync, sync_owed

    state = get_state(ctx)
    config = state.config
    if not config.s3.enabled:
        err.print(
            "Note: s3.bucket is not set; only results of s3:// inputs are synced",
            markup=False,
            soft_wrap=True,
        )
    if dry_run:
        plan = plan_sync(config, state.store, retry_failed=retry_failed)
        if json_out:
            print_json(plan)
        else:
            for item in plan:
                out.print(f"{item['path']} -> {item['object']}", markup=False, soft_wrap=True)
            out.print(f"{len(plan)} file(s) would be uploaded", soft_wrap=True)
        return
    # Every outcome is in the report below; without this, Python's last-resort
    # handler would print the uploader's warnings as well.
    logging.getLogger("mediaforge").addHandler(logging.NullHandler())
    show = None if json_out or not err.is_terminal else err
    report = sync_owed(
        config,
        state.store,
        retry_failed=retry_failed,
        on_file=(lambda u: show.print(f"uploading {u.path}", markup=False)) if show else None,
    )
    if json_out:
        print_json(report.to_dict())
    else:
        sync_report(out, report)
    if not report.in_sync:
        raise typer.Exit(int(ExitCode.FAILURE))


@s3_app.command("links", cls=PlainCommand)
def s3_links(
    ctx: typer.Context,
    job_id: JobArg,
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
    from mediaforge.storage.s3.uploader import Uploader

    state = get_state(ctx)
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
