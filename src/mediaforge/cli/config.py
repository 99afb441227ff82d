"""Configuration and health: show, check and create the config file, and
``doctor`` (docs/cli.md#configuration-and-health)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mediaforge.cli.console import out
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

config_app = typer.Typer(
    cls=PlainGroup, help="Show, check and create the configuration.", no_args_is_help=True
)


@config_app.command("show", cls=PlainCommand)
def config_show(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the configuration in effect (secrets redacted)."""
    from mediaforge.cli.render import print_json
    from mediaforge.config.display import config_to_dict, config_yaml

    config = get_state(ctx).config
    data = config_to_dict(config)
    if json_out:
        print_json(data)
        return
    where = config.source or "built-in defaults (no config file found)"
    # soft_wrap: long lines must not be broken, or the YAML would not read back.
    out.print(f"# from: {where}", markup=False, soft_wrap=True)
    out.print(config_yaml(data).rstrip(), markup=False, soft_wrap=True)


@config_app.command("check", cls=PlainCommand)
def config_check(ctx: typer.Context) -> None:
    """Validate the configuration file; every bad field is listed with its line."""
    from mediaforge.storage.s3.uploader import ensure_available

    config = get_state(ctx).config
    ensure_available(config)  # an s3 section is only usable with boto3 installed
    where = config.source or "no config file; built-in defaults"
    out.print(f"{where}: ok", markup=False, soft_wrap=True)


@config_app.command("init", cls=PlainCommand)
def config_init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("mediaforge.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config file with every setting at its default."""
    from mediaforge.config.display import example_config_text
    from mediaforge.errors import ConfigError

    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(example_config_text(), encoding="utf-8")
    out.print(f"wrote {path}", markup=False, soft_wrap=True)


def doctor(ctx: typer.Context) -> None:
    """Check ffmpeg, encoders, the data folder, the job database and the queue."""
    from mediaforge.ops.doctor import run_checks

    checks = run_checks(get_state(ctx).config)
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        out.print(f"{mark} {check.name}: ", end="")
        out.print(check.detail, markup=False, soft_wrap=True)
    if not all(c.ok for c in checks):
        raise typer.Exit(int(ExitCode.FAILURE))
