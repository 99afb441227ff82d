"""Options several commands share, with the same flags and help everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mediaforge.cli.completion import complete_job, complete_preset

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PresetOpt = Annotated[
    str,
    typer.Option(
        "--preset", "-p", help="Preset name (mediaforge presets list).",
        autocompletion=complete_preset,
    ),
]  # fmt: skip
OutputDirOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output-dir", "-o", help="Where outputs go (default: beside the input)."),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress: only errors and the result."),
]
JobArg = Annotated[
    int, typer.Argument(metavar="JOB", help="Job id.", autocompletion=complete_job)
]
