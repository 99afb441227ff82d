"""``presets show --input``: the ffmpeg command a job would run on a file,
planned exactly as the worker plans it, without writing anything.

Two forms. The default is for a person to read and paste: the outputs under
the names the preset gives them, ffmpeg's own progress and overwrite prompt.
The exact form (``--exact``) is the command line the pipeline runs, with its
hidden temporary names, ``-progress pipe:1`` and the name the collision
policy picks; benchmarks run that one.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.media.command import Command, build_command, command_line
from mediaforge.media.encoder_planning import plan_with_encoder
from mediaforge.media.planning import Action, Plan, output_name, plan_job
from mediaforge.media.probe import probe
from mediaforge.presets.loading import get_preset
from mediaforge.presets.model import Preset


def preview_command(
    config: Config,
    preset_name: str,
    input_path: Path,
    output_dir: Path | None,
    *,
    exact: bool = False,
) -> str:
    """What a job would run on ``input_path``: ``# action: outputs`` and notes,
    then one command line (nothing is written, but for the host's answers
    about hardware encoders: see media/encoder_probe.py)."""
    preset = get_preset(preset_name, config.presets_dir)
    info = probe(input_path, ffprobe=config.ffprobe, timeout=config.probe_timeout)
    source = input_path.absolute()
    out_dir = output_dir or config.output.dir or source.parent
    # The encoder and plan a job on this host would have (hardware is tested,
    # cached), chosen as the pipeline chooses them.

    def plan_for(chosen: Preset) -> Plan:
        return plan_job(
            chosen,
            info,
            input_path=source,
            output_dir=out_dir,
            job_id=0,
            attempt=1,
            collision=config.output.collision,
        )

    choice, plan = plan_with_encoder(config, preset, plan_for)
    if plan.action is Action.SKIP:
        return f"# nothing to run: {plan.note}"
    notes = list(plan.notes)
    if choice.note:
        notes.append(f"encoder: {choice.note}")
    if not exact:
        plan, renamed = _under_final_names(plan, source, out_dir, preset, config)
        notes += renamed
    lines = [f"# {plan.action.value}: " + ", ".join(str(o.final) for o in plan.outputs)]
    lines += [f"# {note}" for note in notes]
    if plan.colour_note is not None:
        lines.append(f"# colour: {plan.colour_note}")
    if plan.streams_summary:
        lines.append(f"# streams: {plan.streams_summary}")
    command = build_command(plan, info, source, vaapi_device=config.encoders.vaapi_device)
    if exact:
        lines.append(command_line(command, config.ffmpeg))
    else:
        lines.append(_pasteable(command, config.ffmpeg))
    return "\n".join(lines)


def _under_final_names(
    plan: Plan, source: Path, out_dir: Path, preset: Preset, config: Config
) -> tuple[Plan, list[str]]:
    """The plan with every output written straight to the name the preset
    gives it, and a note for each one the collision policy would rename."""
    outputs = []
    notes = []
    for out in plan.outputs:
        wanted = out_dir / output_name(out.spec, source, preset)
        if wanted.resolve() == source.resolve():
            wanted = out.final  # never a command that writes over its own input
        if wanted != out.final:
            notes.append(
                f"{wanted.name} exists: a job would write {out.final.name} "
                f"(output.collision: {config.output.collision}); this command asks first"
            )
        outputs.append(replace(out, final=wanted, temp=wanted))
    return replace(plan, outputs=tuple(outputs)), notes


def _pasteable(command: Command, ffmpeg_bin: str) -> str:
    # ffmpeg's own progress line, and its question before overwriting a file.
    line = shlex.join([ffmpeg_bin, "-hide_banner", *command.args])
    if command.cwd is not None:
        folder = shlex.quote(str(command.cwd))
        return f"mkdir -p {folder} && cd {folder} && {line}"
    return line
