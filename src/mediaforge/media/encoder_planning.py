"""The plan of a job whose preset may ask for a hardware encoder: the plan
is made with the preset as written (software) first, and hardware is chosen
only when that plan really encodes (docs/presets.md#hardware-encoders).

- A remux or a skip needs no encoder: no hardware is tested, nothing is
  recorded about one, and ``encoder_strict`` does not apply.
- HDR input that the software plan keeps HDR (10-bit, BT.2020) in an output a
  hardware encoder would take over stays in software: the hardware path here
  uploads 8-bit pictures and carries no HDR tags, so it would tone-map.
- Otherwise the encoder is chosen (media/encoder_choice.py) and, when it is a
  hardware one, the plan is made again with the hardware preset.

The worker and ``presets show --input`` both call :func:`plan_with_encoder`,
so the command shown is the one a job runs.
"""

from __future__ import annotations

from collections.abc import Callable

from mediaforge.config.schema import Config
from mediaforge.media.colour import Treatment
from mediaforge.media.encoder_choice import EncoderChoice, choose_encoder
from mediaforge.media.encoder_probe import HEALTH, EncoderHealth
from mediaforge.media.encoders import hardware_outputs
from mediaforge.media.planning import Action, Plan
from mediaforge.presets.model import Preset

PlanFor = Callable[[Preset], Plan]


def hdr_kept_in_software(preset: Preset, plan: Plan) -> str | None:
    """The encoder note when ``plan`` (the software plan) keeps HDR in an
    output a hardware encoder would take over; None otherwise."""
    if preset.encoder == "software":
        return None
    taken_over = hardware_outputs(preset)
    kept = sorted(
        {
            out.colour.encoder
            for out in plan.outputs
            if out.colour is not None
            and out.colour.treatment is Treatment.KEEP
            and out.spec.video in taken_over
        }
    )
    if not kept:
        return None
    return (
        f"HDR input: kept in software ({', '.join(kept)}, 10-bit BT.2020); "
        "hardware encoders here are used for SDR"
    )


def plan_with_encoder(
    config: Config, preset: Preset, plan_for: PlanFor, *, health: EncoderHealth = HEALTH
) -> tuple[EncoderChoice, Plan]:
    """The encoder a job of ``preset`` runs on this host, and its plan.
    Raises PresetError for a strict request no family can meet, but only
    when the job encodes."""
    software = plan_for(preset)
    if software.action is not Action.TRANSCODE:
        return EncoderChoice(preset, preset, (), ""), software
    kept = hdr_kept_in_software(preset, software)
    if kept is not None:
        return EncoderChoice(preset, preset, (), kept), software
    choice = choose_encoder(config, preset, health=health)
    if not choice.hardware:
        return choice, software
    return choice, plan_for(choice.preset)
