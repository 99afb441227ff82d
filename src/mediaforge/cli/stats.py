"""``mediaforge stats``: totals, space saved, throughput, realtime factor, by
preset, failures by reason; the numbers the dashboard and /metrics show."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mediaforge.cli.console import out
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state


def stats(
    ctx: typer.Context,
    since: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--since", help="Only jobs that ended since: 12h, 7d, 2026-01-31."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Totals, space saved, throughput and realtime factor, by preset; failures by reason."""
    from mediaforge.cli.render import print_json, stats_report
    from mediaforge.jobs.stats import job_stats
    from mediaforge.units import parse_duration_or_time

    start = None
    if since is not None:
        try:
            start = parse_duration_or_time(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    found = job_stats(get_state(ctx).store, start)
    if json_out:
        print_json(found.to_dict())
    else:
        stats_report(out, found)
