"""``mediaforge db``: the job database (docs/cli.md#job-database)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mediaforge.cli.console import out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state

db_app = typer.Typer(cls=PlainGroup, help="Move the job database.", no_args_is_help=True)


@db_app.command("migrate", cls=PlainCommand)
def db_migrate(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="The empty PostgreSQL database: postgresql://USER@HOST/DB.")
    ],
    queue: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--queue",
            help="Queue for the queued jobs: postgresql://... or redis://... "
            "(default: the configured queue; the new database if that is SQLite).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy the SQLite job database into PostgreSQL; queued jobs go on the new queue."""
    # Before the imports below: they load peewee and huey, which pick their drivers then.
    get_state(ctx).want("postgres", "redis")
    from mediaforge.cli.render import print_json
    from mediaforge.queue.moving import migrate_to_postgres
    from mediaforge.redact import redact_url

    done = migrate_to_postgres(get_state(ctx).config, to, queue)
    if json_out:
        print_json(
            {
                "database_url": redact_url(done.database_url),
                "copied": done.counts,
                "queue": {"backend": done.queue.backend, "url": redact_url(done.queue.url or "")},
                "requeued": done.requeued,
            }
        )
        return
    for table, count in done.counts.items():
        out.print(f"copied {count} {table} row(s)", markup=False)
    out.print(f"queued again: {len(done.requeued)} job(s) on the {done.queue.backend} queue")
    out.print(
        "Now set in the config on every host (the SQLite files are left as they were):",
        markup=False,
    )
    database_url, queue_url = redact_url(done.database_url), redact_url(done.queue.url or "")
    out.print(f"  database:\n    url: {database_url}", markup=False, soft_wrap=True)
    out.print(
        f"  queue:\n    backend: {done.queue.backend}\n    url: {queue_url}",
        markup=False,
        soft_wrap=True,
    )
