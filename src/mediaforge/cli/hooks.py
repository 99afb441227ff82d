"""``mediaforge hooks``: try the hooks run after a job ends (docs/cli.md#hooks)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mediaforge.cli.completion import complete_job
from mediaforge.cli.console import out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

hooks_app = typer.Typer(
    cls=PlainGroup, help="Try the hooks run after a job ends.", no_args_is_help=True
)


@hooks_app.command("test", cls=PlainCommand)
def hooks_test(
    ctx: typer.Context,
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(metavar="NAME", help="Only the hook of this name (default: every hook)."),
    ] = None,
    job: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--job", "-j", help="Run them for this job (default: the newest succeeded job).",
            autocompletion=complete_job,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run each hook once for a finished job, now, and report which worked."""
    from mediaforge.cli.render import print_json
    from mediaforge.hooks.trial import try_hooks

    state = get_state(ctx)
    results = try_hooks(state.config, state.store, name, job)
    if json_out:
        print_json(
            [
                {
                    "hook": r.hook, "job": r.job_id, "ok": r.outcome.ok,
                    "result": r.outcome.result, "output": r.outcome.output,
                }
                for r in results
            ]
        )  # fmt: skip
    else:
        for r in results:
            out.print("[green]ok[/]   " if r.outcome.ok else "[red]FAIL[/] ", end="")
            line = f"{r.hook} (job {r.job_id}): {r.outcome.result}"
            out.print(line, markup=False, soft_wrap=True)
            if r.outcome.output:
                out.print(r.outcome.output, markup=False, soft_wrap=True, style="dim")
    if not all(r.outcome.ok for r in results):
        raise typer.Exit(int(ExitCode.FAILURE))
