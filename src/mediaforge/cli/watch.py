"""``mediaforge watch``: the watch-folder daemon, or one scan with ``--once``
(docs/watch.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge.cli.completion import complete_preset
from mediaforge.cli.console import out
from mediaforge.cli.state import get_state


def watch(
    ctx: typer.Context,
    path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(help="A folder to watch (default: the 'watch:' rules of the config)."),
    ] = None,
    presets: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--preset", "-p", help="Preset for files in PATH (repeat for several).",
            autocompletion=complete_preset,
        ),
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
    check: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--check", metavar="KIND",
            help="Health check new files must pass: none, quick or thorough.",
        ),
    ] = None,
) -> None:
    """Watch folders: submit each new file once it is complete (see docs/watch.md)."""
    from mediaforge.ops.logs import setup_logging
    from mediaforge.watch.rules import watch_rules
    from mediaforge.watch.watcher import run_watch

    config = get_state(ctx).config
    setup_logging(config.log, verbose=verbose)
    if check is not None and check not in ("none", "quick", "thorough"):
        raise typer.BadParameter(
            f"{check!r} is not a check; use none, quick or thorough", param_hint="--check"
        )
    rules = watch_rules(config, path, presets or (), output_dir=output_dir, poll=poll,
                        settle=settle, check=check)
    report = run_watch(config, rules, once=once)
    if once:
        out.print(f"submitted {len(report.submitted)} job(s)", markup=False, soft_wrap=True)
        if report.waiting:
            out.print(f"{report.waiting} file(s) still changing; left for the next run",
                      soft_wrap=True)
        for folder in report.missing:
            out.print(f"{folder} is missing; skipped", markup=False, soft_wrap=True)
