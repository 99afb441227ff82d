"""``mediaforge notify``: check the notification targets (docs/cli.md#notifications)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mediaforge.cli.console import out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

notify_app = typer.Typer(
    cls=PlainGroup, help="Check the notification targets.", no_args_is_help=True
)


@notify_app.command("test", cls=PlainCommand)
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
    from mediaforge.notify.sending import send_test

    results = send_test(get_state(ctx).config, tag)
    if json_out:
        print_json([{"target": r.target, "ok": r.ok, "reason": r.reason} for r in results])
    else:
        for r in results:
            out.print("[green]ok[/]   " if r.ok else "[red]FAIL[/] ", end="")
            out.print(r.target if r.ok else f"{r.target}: {r.reason}", markup=False, soft_wrap=True)
    if not all(r.ok for r in results):
        raise typer.Exit(int(ExitCode.FAILURE))
