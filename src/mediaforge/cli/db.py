"""``mediaforge db``: the job database (docs/cli.md#job-database)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge.cli.console import err, out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode, InputError

db_app = typer.Typer(
    cls=PlainGroup, help="Back up, check and move the job database.", no_args_is_help=True
)


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


@db_app.command("backup", cls=PlainCommand)
def db_backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Copy the SQLite job database to PATH while workers run (PostgreSQL: use pg_dump)."""
    from mediaforge.cli.render import print_json
    from mediaforge.jobs.backup import backup, sqlite_file
    from mediaforge.units import human_size

    config = get_state(ctx).config
    done = backup(sqlite_file(config.database.url, config.data_dir, "backup"), path, force=force)
    if json_out:
        print_json({"path": str(done.path), "size": done.size, "jobs": done.jobs})
        return
    out.print(
        f"backed up {done.jobs} job(s) to {done.path} ({human_size(done.size)})", markup=False
    )


@db_app.command("check", cls=PlainCommand)
def db_check(
    ctx: typer.Context,
    path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(
            help="A job database file to check, such as a backup (default: the live one)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the SQLite job database: integrity, schema version, rows without their job."""
    from mediaforge.cli.render import print_json
    from mediaforge.jobs.backup import sqlite_file
    from mediaforge.jobs.checkup import check
    from mediaforge.jobs.database import SCHEMA_VERSION

    if path is None:
        config = get_state(ctx).config
        path = sqlite_file(config.database.url, config.data_dir, "check")
    elif not path.is_file():
        raise InputError(f"{path}: no such file; give a job database file")
    found = check(path)
    if json_out:
        print_json(
            {
                "path": str(found.path),
                "schema_version": found.schema_version,
                "jobs": found.jobs,
                "problems": found.problems,
            }
        )
    elif found.sound:
        upgrade = (
            ""
            if found.schema_version == SCHEMA_VERSION
            else (f", migrated to {SCHEMA_VERSION} when next opened")
        )
        out.print(
            f"ok: {found.path}: {found.jobs} job(s), schema version {found.schema_version}"
            f"{upgrade}",
            markup=False,
        )
    else:
        for problem in found.problems:
            err.print(f"problem: {problem}", markup=False, soft_wrap=True)
    if not found.sound:
        raise typer.Exit(ExitCode.FAILURE)
