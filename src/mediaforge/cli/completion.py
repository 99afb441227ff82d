"""Shell completion of values: preset names and job ids.

They run on every Tab press, before any command: quick, and silent whatever
goes wrong (no config, a broken preset file, no job database yet) — a Tab
press that prints a traceback into the prompt is worse than no candidates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mediaforge.errors import MediaforgeError

if TYPE_CHECKING:
    from mediaforge.config.schema import Config


def _config(ctx: typer.Context) -> Config | None:
    """The config the command line names (``--config``), or the usual one."""
    from mediaforge.config.discovery import load_config

    try:
        return load_config(ctx.find_root().params.get("config"))
    except (MediaforgeError, OSError):
        return None


def complete_preset(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Preset names that start with what was typed, with their descriptions."""
    from mediaforge.presets.loading import load_presets

    config = _config(ctx)
    if config is None:
        return []
    try:
        presets = load_presets(config.presets_dir)
    except (MediaforgeError, OSError):
        return []
    return [(p.name, p.description) for p in presets.values() if p.name.startswith(incomplete)]


def complete_job(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Ids of the newest jobs that start with what was typed, each with its
    status, preset and input file name."""
    from pathlib import PurePath

    from mediaforge.jobs.peek import newest_jobs

    config = _config(ctx)
    if config is None:
        return []
    return [
        (str(j.id), f"{j.status} {j.preset} {PurePath(j.input_path).name}")
        for j in newest_jobs(config)
        if str(j.id).startswith(incomplete)
    ]
