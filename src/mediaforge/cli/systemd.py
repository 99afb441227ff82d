"""``mediaforge systemd``: units that run the worker and the watcher as
services (docs/systemd.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge.cli.console import err, out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.state import get_state

systemd_app = typer.Typer(
    cls=PlainGroup, help="Run the worker and the watcher as systemd services.", no_args_is_help=True
)


@systemd_app.command("install", cls=PlainCommand)
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

    result = install_units(get_state(ctx).config, user=user, dest=dest, dry_run=dry_run)
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
