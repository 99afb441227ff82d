"""Which encoder a job runs: the preset's ``encoder:`` request, met on this
host (docs/presets.md#hardware-encoders).

- ``software`` (the default): the preset as written.
- ``auto``: the first family of ``encoders.auto`` whose encoders all pass
  their test encode and are not disabled in this worker; else software.
- ``nvenc``, ``qsv``, ``vaapi``: that family, else software with the reason
  in the job's decision; with ``encoder_strict: true`` the job fails instead.

A hardware encode that fails in a real job is run again in software within
the same attempt (:func:`after_failure`), so a broken GPU costs the job no
attempt; the failure counts towards disabling the encoder in this worker.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mediaforge.config.schema import Config
from mediaforge.errors import PresetError
from mediaforge.media.encoder_probe import HEALTH, EncoderCache, EncoderHealth
from mediaforge.media.encoders import HardwareKind, hardware_encoder, hardware_outputs, translate
from mediaforge.presets.model import OutputSpec, Preset


@dataclass(frozen=True)
class EncoderChoice:
    """The preset a job runs (hardware encoders swapped in, or as written),
    and the one line the job records about it (empty: nothing to say)."""

    preset: Preset
    software: Preset
    encoders: tuple[str, ...]  # the hardware encoders in use; () for software
    note: str

    @property
    def hardware(self) -> bool:
        return bool(self.encoders)


def _software_names(preset: Preset) -> str:
    return ", ".join(sorted({spec.codec for spec in hardware_outputs(preset)})) or "software"


def _swapped(preset: Preset, kind: HardwareKind) -> tuple[Preset, list[str]]:
    outputs: list[OutputSpec] = []
    dropped: list[str] = []
    for out in preset.outputs:
        if out.video is not None and out.video in hardware_outputs(preset):
            translated = translate(out.video, kind)
            dropped += translated.dropped
            out = replace(out, video=translated.spec)
        outputs.append(out)
    return replace(preset, outputs=tuple(outputs)), dropped


def _candidates(preset: Preset, config: Config) -> list[HardwareKind]:
    if preset.encoder == "auto":
        return [HardwareKind(k) for k in config.encoders.auto]
    return [HardwareKind(preset.encoder)]


def choose_encoder(
    config: Config, preset: Preset, *, health: EncoderHealth = HEALTH
) -> EncoderChoice:
    """Meet ``preset.encoder`` on this host. Raises PresetError for a strict
    request no family can meet."""
    if preset.encoder == "software":
        return EncoderChoice(preset, preset, (), "")
    fallback = _software_names(preset)
    if not hardware_outputs(preset):
        note = f"{preset.encoder}: no H.264, HEVC or AV1 output to encode in hardware; software"
        return EncoderChoice(preset, preset, (), note)
    cache = EncoderCache(config)
    refused: list[str] = []
    for kind in _candidates(preset, config):
        needed = sorted(
            {hardware_encoder(s.codec, kind) or "" for s in hardware_outputs(preset)} - {""}
        )
        problems = []
        for encoder in needed:
            if health.disabled(encoder, config.encoders.max_failures):
                count = health.failures(encoder)
                problems.append(f"{encoder} disabled in this worker after {count} failed jobs")
                continue
            status = cache.status(encoder)
            if not status.ok:
                problems.append(status.describe())
        if not problems:
            swapped, dropped = _swapped(preset, kind)
            note = f"{preset.encoder}: {', '.join(needed)} (test encode passed)"
            if dropped:
                note += f"; not carried over: {', '.join(dropped)}"
            return EncoderChoice(swapped, preset, tuple(needed), note)
        refused += problems
    if preset.encoder_strict:
        raise PresetError(
            f"preset '{preset.name}' needs encoder {preset.encoder} (encoder_strict) and this "
            f"host cannot give it: {'; '.join(refused)}"
        )
    return EncoderChoice(preset, preset, (), f"{'; '.join(refused)}; {fallback}")


def after_failure(
    config: Config, choice: EncoderChoice, reason: str, *, health: EncoderHealth = HEALTH
) -> EncoderChoice:
    """A hardware encode failed in a real job: count it, and the choice to run
    again in software (the caller re-raises for a strict preset instead)."""
    limit = config.encoders.max_failures
    parts = []
    for encoder in choice.encoders:
        count = health.record_failure(encoder)
        if count >= limit:
            parts.append(f"{encoder} failed ({reason}); disabled in this worker until restart")
        else:
            parts.append(f"{encoder} failed ({reason}); failure {count} of {limit} in this worker")
    note = f"{'; '.join(parts)}; {_software_names(choice.software)}"
    return EncoderChoice(choice.software, choice.software, (), note)
