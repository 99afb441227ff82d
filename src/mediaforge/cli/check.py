"""``mediaforge check``: is a media file whole? A probe, or every frame decoded."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from mediaforge.cli.console import out
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

if TYPE_CHECKING:
    from mediaforge.media.health import HealthReport


def check(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Files, folders (recursive) or globs.")
    ],
    thorough: Annotated[
        bool,
        typer.Option(
            "--thorough", help="Decode every frame and count errors (slow: about a decode)."
        ),
    ] = False,
    parallel: Annotated[
        Optional[int],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option(
            "--parallel", min=1, metavar="N", help="Files checked at once (default: CPU cores)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check media files: a probe, or with --thorough every frame decoded.

    Exits 0 when every file passed and 9 when any failed.
    """
    from mediaforge.cli.render import print_json
    from mediaforge.media.health import CheckKind, check_files
    from mediaforge.storage.inputs import expand_inputs

    config = get_state(ctx).config
    files = expand_inputs(paths)  # a path that names nothing: one line, exit 4
    kind = CheckKind.THOROUGH if thorough else CheckKind.QUICK
    reports = []
    checking = check_files(
        files, kind, ffprobe=config.ffprobe, timeout=config.probe_timeout, parallel=parallel
    )
    with contextlib.closing(checking):  # Ctrl-C ends the decodes still running
        for report in checking:
            reports.append(report)
            if not json_out:
                out.print(escape(describe(report)), soft_wrap=True)
    if json_out:
        print_json([r.to_dict() for r in reports])
    if not all(r.ok for r in reports):
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def describe(report: HealthReport) -> str:
    """One line for people: ``ok``, or how many errors and where the first one is."""
    if report.ok:
        length = f", {report.duration:.1f} s" if report.duration is not None else ""
        return f"ok      {report.path}  {report.kind.value}{length}"
    return f"FAILED  {report.path}  {report.kind.value}: {report.problem}"
