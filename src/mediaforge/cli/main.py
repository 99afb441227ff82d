"""The ``mediaforge`` command: the typer app, its global options, and the
command tree, in the order ``mediaforge --help`` lists it.

Each command (one module per group of them) parses its arguments, calls one
core function and renders the result. Errors are mapped to exit codes in
exactly one place (:mod:`mediaforge.cli.errors`): a ``MediaforgeError``
becomes ``Error: ...`` on stderr with its exit code, without a traceback
unless ``--debug``. Command modules import what they need inside each
command, so ``mediaforge --version`` loads little more than typer and rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge import __version__
from mediaforge.cli.check import check
from mediaforge.cli.coercion import use_plain_coercion
from mediaforge.cli.config import config_app, doctor
from mediaforge.cli.console import out
from mediaforge.cli.db import db_app
from mediaforge.cli.errors import ErrorReportingGroup
from mediaforge.cli.helptext import PlainCommand
from mediaforge.cli.hooks import hooks_app
from mediaforge.cli.jobs import cancel, jobs_app, retry, run, status, submit
from mediaforge.cli.notify import notify_app
from mediaforge.cli.pausing import drain, pause, resume
from mediaforge.cli.presets import presets_app, probe
from mediaforge.cli.s3 import s3_app
from mediaforge.cli.serve import serve
from mediaforge.cli.state import State
from mediaforge.cli.stats import stats
from mediaforge.cli.systemd import systemd_app
from mediaforge.cli.watch import watch
from mediaforge.cli.worker import worker
from mediaforge.cli.workers import workers

use_plain_coercion()  # no pydantic for plain values: ~60-140 ms of each command's start-up

app = typer.Typer(
    cls=ErrorReportingGroup,
    name="mediaforge",
    help="Self-hosted media transcoding: FFmpeg presets through a persistent queue.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


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
    # Read by ErrorReportingGroup from the parsed parameters, when a command fails.
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """mediaforge: point it at files or folders, get verified outputs."""
    ctx.obj = State(config)


# The commands, then the groups, in the order ``mediaforge --help`` lists them.
for command in (
    run, submit, worker, workers, status, cancel, retry, probe, check, doctor, watch, serve,
    stats,
):
    app.command(cls=PlainCommand)(command)
for command in (pause, resume, drain):
    app.command(cls=PlainCommand)(command)
app.add_typer(jobs_app, name="jobs")  # `jobs` lists; `jobs prune` removes old ones
app.add_typer(presets_app, name="presets")
app.add_typer(config_app, name="config")
app.add_typer(notify_app, name="notify")
app.add_typer(s3_app, name="s3")
app.add_typer(systemd_app, name="systemd")
app.add_typer(db_app, name="db")
app.add_typer(hooks_app, name="hooks")
