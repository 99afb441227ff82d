"""Errors become exit codes here, and only here.

A ``MediaforgeError`` is one ``Error: ...`` line on stderr (then one indented
line per problem) and the exit code its class names; Ctrl-C exits 130. With
``--debug`` (or ``MEDIAFORGE_DEBUG=1``) an error goes on with its traceback.

A job database that goes away in the middle of a command (a PostgreSQL
restart during ``status --follow``) is an environment problem like one that
is away when the command starts: one line, exit 7.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.markup import escape

from mediaforge.cli.console import err
from mediaforge.cli.helptext import PlainGroup, UsageError, error_line
from mediaforge.errors import EnvironmentProblem, ExitCode, MediaforgeError


def report_error(exc: MediaforgeError) -> None:
    """Print ``Error: ...`` and the error's problems, one line each, on stderr."""
    # The message is plain text: "[s3]" in an install hint is not markup.
    err.print(f"[red]Error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
    for problem in getattr(exc, "problems", []):
        err.print(f"  {problem}", markup=False, soft_wrap=True)


def debug_requested(ctx: typer.Context) -> bool:
    """Whether the root's ``--debug`` option (or ``MEDIAFORGE_DEBUG=1``) asks for tracebacks."""
    return bool(ctx.find_root().params.get("debug")) or os.environ.get("MEDIAFORGE_DEBUG") == "1"


def report_usage_error(exc: Exception) -> typer.Exit:
    """A usage error (bad argument, unknown option) as one ``Error:`` line;
    the Exit to raise. Help asked for by giving no arguments stays help."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        raise exc
    err.print(f"Error: {error_line(exc)}", markup=False, soft_wrap=True)
    return typer.Exit(int(ExitCode.USAGE))


class ErrorReportingGroup(PlainGroup):
    """The root command group: runs the command, then maps what it raised to an
    exit code. The parsed global options are at hand here, unlike outside click."""

    # ctx is click's Context: Any, since typer may vendor click under a private name.
    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # The global options are parsed here, before invoke.
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            raise report_usage_error(exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise report_usage_error(exc) from None
        except MediaforgeError as exc:
            if debug_requested(ctx):
                raise
            report_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except Exception as exc:
            if not database_went_away(exc) or debug_requested(ctx):
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__  # psycopg's span lines
            report_error(
                EnvironmentProblem(
                    f"lost the job database: {reason}; check that it is running and "
                    "reachable, then run the command again"
                )
            )
            raise typer.Exit(int(ExitCode.ENVIRONMENT)) from None
        except KeyboardInterrupt:
            # The user pressed Ctrl-C and knows it: no message, no traceback.
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def database_went_away(exc: BaseException) -> bool:
    """Whether ``exc`` says the job database became unreachable (see jobs/outage.py)."""
    if "peewee" not in sys.modules:
        return False  # nothing has touched a database: keep peewee out of start-up
    from mediaforge.jobs.outage import CONNECTION_ERRORS

    return isinstance(exc, CONNECTION_ERRORS)
