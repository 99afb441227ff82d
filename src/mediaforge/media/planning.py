"""Deciding what a job will do with one input, before ffmpeg runs.

A plan says whether to transcode, remux (the input already complies) or skip,
and for every output its final and temporary path and what ffprobe must find
in it afterwards (codecs, dimensions). The plan is pure data: the command
builder turns it into ffmpeg arguments and the verifier checks against it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path

from mediaforge.errors import InputError
from mediaforge.media.colour import (
    ColourDecision,
    decide_colour,
    describe_colour,
    needs_tone_mapping,
)
from mediaforge.media.probe import MediaInfo
from mediaforge.media.streams import StreamChoice, choose_streams
from mediaforge.presets.model import (
    ENCODER_CODECS,
    AudioSpec,
    OutputKind,
    OutputSpec,
    Preset,
    VideoSpec,
)
from mediaforge.storage.local import CollisionPolicy, decide_final, temp_path_for


class Action(enum.StrEnum):
    """What a job does with its input."""

    TRANSCODE = "transcode"
    REMUX = "remux"
    SKIP = "skip"


@dataclass(frozen=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True)
class PlannedRendition:
    name: str
    size: Size
    bitrate: str | None
    maxrate: str | None
    bufsize: str | None


@dataclass(frozen=True)
class PlannedOutput:
    """One output: where it goes and what it must contain."""

    spec: OutputSpec
    final: Path
    temp: Path
    size: Size | None  # expected video/image dimensions; None for audio or copy
    video_codec: str | None  # expected codec name as ffprobe reports it
    audio_codec: str | None
    renditions: tuple[PlannedRendition, ...] = ()
    colour: ColourDecision | None = None  # HDR input only: kept or tone-mapped
    streams: StreamChoice | None = None  # the audio and subtitle tracks kept


@dataclass(frozen=True)
class Plan:
    action: Action
    outputs: tuple[PlannedOutput, ...]
    notes: tuple[str, ...]

    @property
    def note(self) -> str | None:
        return "; ".join(self.notes) or None

    @property
    def colour_note(self) -> str | None:
        """What the outputs do with HDR input, one line; None for SDR input."""
        return describe_colour([o.colour for o in self.outputs if o.colour is not None])

    @property
    def streams_summary(self) -> str:
        """What each output keeps of the input's audio and subtitle tracks, one line."""
        parts = [
            f"{o.final.name}: {o.streams.summary}" if len(self.outputs) > 1 else o.streams.summary
            for o in self.outputs
            if o.streams is not None and o.spec.kind is not OutputKind.IMAGE
        ]
        return " | ".join(parts)


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def fit(width: int, height: int, max_width: int | None, max_height: int | None) -> Size:
    """Scale (width, height) to fit the box, keeping aspect, never upscaling,
    with even dimensions (4:2:0 encoders need them).

    The box follows the input's orientation: a portrait phone clip under a
    1920x1080 preset fits 1080x1920, as people expect of "1080p".
    """
    box_w, box_h = max_width, max_height
    if height > width:
        box_w, box_h = box_h, box_w
    scale = 1.0
    if box_w:
        scale = min(scale, box_w / width)
    if box_h:
        scale = min(scale, box_h / height)
    if scale >= 1.0:
        return Size(_even_floor(width), _even_floor(height))
    return Size(_even_floor(width * scale + 0.5), _even_floor(height * scale + 0.5))


def _expected_codec(codec: str, input_codec: str | None) -> str | None:
    if codec == "copy":
        return input_codec
    return ENCODER_CODECS.get(codec)


def _complies(preset: Preset, info: MediaInfo) -> bool:
    rule = preset.compliant
    if rule is None:
        return False
    formats = set(info.format_name.split(","))
    if rule.containers and not formats & set(rule.containers):
        return False
    video, audio = info.video, info.audio
    if rule.audio_only:
        if video is not None or audio is None:
            return False
    elif rule.video_codecs:
        if video is None or video.codec not in rule.video_codecs:
            return False
        if rule.pix_fmts and video.pix_fmt not in rule.pix_fmts:
            return False
        if video.display_width and video.display_height:
            box = fit(video.display_width, video.display_height, rule.max_width, rule.max_height)
            if (box.width, box.height) != (
                _even_floor(video.display_width),
                _even_floor(video.display_height),
            ):
                return False
    # Every audio track an output would keep, not just the first: copying a
    # kept track in another codec would break the preset's promise.
    kept = {s.codec for o in preset.outputs for s in choose_streams(o, info).audio}
    return not (rule.audio_codecs and kept - set(rule.audio_codecs))


def _renditions(spec: OutputSpec, width: int, height: int) -> tuple[PlannedRendition, ...]:
    """The rungs of a ladder that do not upscale (at least one, at native size).

    A rung is kept when its box (in the input's orientation) reaches the input
    in at least one dimension, so fitting into it never enlarges the picture.
    """
    planned = []
    for r in spec.renditions:
        box_w, box_h = (
            (r.max_height, r.max_width) if height > width else (r.max_width, r.max_height)
        )
        if (box_w is not None and box_w <= width) or (box_h is not None and box_h <= height):
            size = fit(width, height, r.max_width, r.max_height)
            planned.append(PlannedRendition(r.name, size, r.bitrate, r.maxrate, r.bufsize))
    if not planned and spec.renditions:
        r = min(spec.renditions, key=lambda r: (r.max_height or 0, r.max_width or 0))
        size = fit(width, height, r.max_width, r.max_height)
        planned.append(PlannedRendition(r.name, size, r.bitrate, r.maxrate, r.bufsize))
    return tuple(planned)


def output_name(spec: OutputSpec, input_path: Path, preset: Preset) -> str:
    stem = input_path.name.rsplit(".", 1)[0] if "." in input_path.name[1:] else input_path.name
    return spec.name.replace("{stem}", stem).replace("{preset}", preset.name)


def check_applies(preset: Preset, info: MediaInfo, input_path: Path | str) -> None:
    """Raise InputError when the input can never satisfy the preset (a video
    preset on audio, an audio preset on a file without sound). Submitting
    checks this too, so such a job is refused before it exists."""
    wants_video = any(o.kind is not OutputKind.AUDIO for o in preset.outputs)
    if wants_video and info.video is None:
        kind = "audio only" if info.audio is not None else "no video stream"
        raise InputError(
            f"{input_path} has no video ({kind}); preset '{preset.name}' needs video. "
            "Use an audio preset such as aac-audio, mp3-audio or opus-audio"
        )
    if not wants_video and info.audio is None:
        raise InputError(
            f"{input_path} has no audio stream; preset '{preset.name}' makes audio only"
        )


def plan_job(
    preset: Preset,
    info: MediaInfo,
    *,
    input_path: Path,
    output_dir: Path,
    job_id: int,
    attempt: int,
    collision: CollisionPolicy,
) -> Plan:
    """Decide what to do with ``info`` under ``preset``; raises InputError when
    the input can never satisfy the preset (see ``check_applies``)."""
    check_applies(preset, info, input_path)
    video, audio = info.video, info.audio
    notes: list[str] = []
    wants_video = any(o.kind is not OutputKind.AUDIO for o in preset.outputs)
    wants_audio = any(o.audio is not None for o in preset.outputs)
    if wants_video and wants_audio and audio is None:
        notes.append("input has no audio; outputs have video only")

    action = Action.TRANSCODE
    specs = list(preset.outputs)
    if _complies(preset, info) and not needs_tone_mapping(preset.outputs, video):
        assert preset.compliant is not None
        if preset.compliant.action == "skip":
            return Plan(Action.SKIP, (), (f"input already complies with '{preset.name}'",))
        action = Action.REMUX
        notes.append(f"input already complies with '{preset.name}': streams copied")
        specs = [
            replace(
                o,
                video=VideoSpec(codec="copy") if o.video else None,
                audio=AudioSpec(codec="copy") if o.audio else None,
            )
            for o in specs
        ]

    inputs = {input_path.resolve()}
    planned: list[PlannedOutput] = []
    for spec in specs:
        wanted = output_dir / output_name(spec, input_path, preset)
        final = decide_final(wanted, collision, inputs)
        if final is None:
            notes.append(f"{wanted.name} exists and output.collision is skip")
            continue
        size: Size | None = None
        renditions: tuple[PlannedRendition, ...] = ()
        vcodec: str | None = None
        hdr: ColourDecision | None = None
        if spec.video is not None and spec.kind is not OutputKind.AUDIO and video is not None:
            vcodec = _expected_codec(spec.video.codec, video.codec)
            hdr = decide_colour(spec, video, input_path)
            dw, dh = video.display_width, video.display_height
            if spec.video.codec != "copy" and dw and dh:
                size = fit(dw, dh, spec.video.max_width, spec.video.max_height)
                if spec.kind is OutputKind.HLS:
                    renditions = _renditions(spec, dw, dh)
        streams = choose_streams(spec, info)
        acodec = None
        if spec.audio is not None and streams.audio:
            acodec = _expected_codec(spec.audio.codec, streams.audio[0].codec)
        planned.append(
            PlannedOutput(
                spec=spec,
                final=final,
                temp=temp_path_for(final, job_id, attempt),
                size=size,
                video_codec=vcodec,
                audio_codec=acodec,
                renditions=renditions,
                colour=hdr,
                streams=streams,
            )
        )
    if not planned:
        return Plan(Action.SKIP, (), tuple(notes))
    return Plan(action, tuple(planned), tuple(notes))
