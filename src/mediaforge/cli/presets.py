"""Files and presets: what ffprobe sees in a file; list, show and validate
presets (docs/cli.md#files-and-presets)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge.cli.completion import complete_preset
from mediaforge.cli.console import out
from mediaforge.cli.errors import report_error
from mediaforge.cli.helptext import PlainCommand, PlainGroup
from mediaforge.cli.options import JsonOpt, OutputDirOpt
from mediaforge.cli.state import get_state
from mediaforge.errors import ExitCode

presets_app = typer.Typer(
    cls=PlainGroup, help="List, show and validate presets.", no_args_is_help=True
)


def probe(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="A media file.")],
    json_out: JsonOpt = False,
) -> None:
    """Show what ffprobe sees in a file."""
    from mediaforge.cli.render import media_info, print_json
    from mediaforge.media.probe import probe as probe_file

    config = get_state(ctx).config
    info = probe_file(input, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    if json_out:
        print_json(info.to_dict())
    else:
        media_info(out, info)


@presets_app.command("list", cls=PlainCommand)
def presets_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List built-in and user presets."""
    from mediaforge.cli.render import print_json
    from mediaforge.presets.loading import load_presets

    presets = load_presets(get_state(ctx).config.presets_dir)
    if json_out:
        print_json(
            [
                {
                    "name": p.name,
                    "description": p.description,
                    "source": p.source,
                    "outputs": [o.name for o in p.outputs],
                }
                for p in presets.values()
            ]
        )
        return
    width = max(len(n) for n in presets)
    for p in presets.values():
        origin = "" if p.builtin else f"  ({p.source})"
        out.print(f"{p.name:<{width}}  {p.description}{origin}", markup=False, soft_wrap=True)


@presets_app.command("show", cls=PlainCommand)
def presets_show(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Preset name.", autocompletion=complete_preset)
    ],
    input: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--input", "-i", metavar="FILE",
            help="Print the ffmpeg command for this file, ready to paste.",
        ),
    ] = None,
    output_dir: OutputDirOpt = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="With --input: the command line a job runs, with its temporary names.",
        ),
    ] = False,
) -> None:
    """Show a preset, or the ffmpeg command it would run on --input."""
    from mediaforge.presets.loading import get_preset

    config = get_state(ctx).config
    preset = get_preset(name, config.presets_dir)
    if input is None:
        out.print(preset.describe(), markup=False, soft_wrap=True)
        return
    from mediaforge.queue.preview import preview_command

    shown = preview_command(config, name, input, output_dir, exact=exact)
    out.print(shown, markup=False, soft_wrap=True)


@presets_app.command("validate", cls=PlainCommand)
def presets_validate(
    files: Annotated[list[Path], typer.Argument(help="Preset YAML files.")],
) -> None:
    """Check preset files; every problem is listed with its line."""
    from mediaforge.errors import PresetError
    from mediaforge.presets.loading import load_preset_file

    bad = 0
    for path in files:
        try:
            preset = load_preset_file(path)
        except PresetError as exc:
            bad += 1
            report_error(exc)
        else:
            out.print(
                f"{path}: ok (preset '{preset.name}', {len(preset.outputs)} output(s))",
                markup=False,
                soft_wrap=True,
            )
    if bad:
        raise typer.Exit(int(ExitCode.PRESET))
