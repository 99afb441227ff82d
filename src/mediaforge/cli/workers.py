"""``mediaforge workers``: the worker processes on every host, and what they run."""

from __future__ import annotations

import typer

from mediaforge.cli.console import out
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state


def workers(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List workers on every host: state, current jobs and last heartbeat."""
    from mediaforge.cli.render import print_json, workers_table

    state = get_state(ctx)
    found = state.store.workers.list_workers(state.config.worker.stale_after)
    if json_out:
        print_json([w.to_dict() for w in found])
    else:
        workers_table(out, found)
