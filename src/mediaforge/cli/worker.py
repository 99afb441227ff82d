"""``mediaforge worker``: run jobs from the queue until stopped."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mediaforge.cli.state import get_state


def worker(
    ctx: typer.Context,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", "-w", min=1, help="Jobs at a time (default: config)."),
    ] = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queue is empty.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run a worker: take jobs from the queue until stopped (SIGTERM/SIGINT)."""
    from mediaforge.jobs.identity import this_worker_prefix
    from mediaforge.ops.logs import setup_logging
    from mediaforge.queue.worker import run_worker

    state = get_state(ctx)
    setup_logging(state.config.log, verbose=verbose, worker=this_worker_prefix())
    run_worker(state.config, workers=workers, burst=burst)
