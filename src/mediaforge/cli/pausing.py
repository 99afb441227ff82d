"""``mediaforge pause``, ``resume`` and ``drain``: orders to every worker that
shares the job database (see jobs/control.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from mediaforge.cli.console import out
from mediaforge.cli.state import get_state


def pause(
    ctx: typer.Context,
    now: Annotated[
        bool,
        typer.Option("--now", help="Also hand running jobs back to the queue (ffmpeg stopped)."),
    ] = False,
) -> None:
    """Pause every worker: take no new jobs; running jobs finish (--now: go back to the queue)."""
    from mediaforge.jobs.control import ControlStore, PauseMode

    state = get_state(ctx)
    ControlStore(state.store.db).pause(PauseMode.NOW if now else PauseMode.SOFT)
    if now:
        out.print("paused: workers take no new jobs and hand running jobs back to the queue")
    else:
        out.print("paused: workers take no new jobs; running jobs finish")
    out.print("'mediaforge resume' lifts the pause")


def resume(ctx: typer.Context) -> None:
    """Lift a pause (and a drain not yet finished): workers take new jobs again."""
    from mediaforge.jobs.control import ControlStore

    state = get_state(ctx)
    before = ControlStore(state.store.db).resume()
    if before.pause is None and before.drain_before is None:
        out.print("nothing to resume: workers were neither paused nor draining")
    else:
        out.print("resumed: workers take new jobs")


def drain(ctx: typer.Context) -> None:
    """Every running worker finishes its running jobs, then exits (status 0)."""
    from mediaforge.jobs.control import ControlStore

    state = get_state(ctx)
    ControlStore(state.store.db).drain()
    found = state.store.workers.list_workers(state.config.worker.stale_after)
    live = sum(1 for w in found if w.state.value != "stale")
    out.print(
        f"drain ordered: {live} running worker(s) finish their running jobs, then exit; "
        "workers started from now on run as usual"
    )
