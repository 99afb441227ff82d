"""Turning a plan into one ffmpeg command line.

This is the only module that imports ffmpeg-python (it composes the filter
graph: split, scale, thumbnail, outputs); running the command is
``mediaforge.process``'s job. All outputs of a preset come from ONE ffmpeg
process that decodes the input once and splits the picture to each output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from mediaforge.media.colour import Treatment, output_options, tonemap_filters
from mediaforge.media.encoders import device_args, is_vaapi
from mediaforge.media.planning import Plan, PlannedOutput
from mediaforge.media.probe import MediaInfo, StreamInfo
from mediaforge.media.process import media_path
from mediaforge.presets.model import AudioSpec, OutputKind, VideoSpec

POSTER_WINDOW_FRAMES = 50


@dataclass(frozen=True)
class Command:
    """ffmpeg arguments (without the program) and the folder to run them in."""

    args: list[str]
    cwd: Path | None


def parse_extra_args(extra: list[str]) -> dict[str, Any]:
    """["-tune", "film", "-shortest"] -> {"tune": "film", "shortest": None}."""
    kwargs: dict[str, Any] = {}
    i = 0
    while i < len(extra):
        key = extra[i].lstrip("-")
        if i + 1 < len(extra) and not extra[i + 1].startswith("-"):
            kwargs[key] = extra[i + 1]
            i += 2
        else:
            kwargs[key] = None
            i += 1
    return kwargs


def _video_kwargs(spec: VideoSpec, stream_suffix: str = "") -> dict[str, Any]:
    kw: dict[str, Any] = {f"c:v{stream_suffix}": spec.codec}
    if spec.codec == "copy":
        return kw
    if spec.crf is not None:
        kw["crf"] = spec.crf
    if spec.bitrate is not None:
        kw["b:v"] = spec.bitrate
    if spec.maxrate is not None:
        kw["maxrate"] = spec.maxrate
    if spec.bufsize is not None:
        kw["bufsize"] = spec.bufsize
    if spec.pix_fmt is not None and not is_vaapi(spec.codec):  # VAAPI: see _uploaded
        kw["pix_fmt"] = spec.pix_fmt
    kw.update({k: str(v) for k, v in spec.options.items()})
    return kw


def _audio_kwargs(spec: AudioSpec) -> dict[str, Any]:
    kw: dict[str, Any] = {"c:a": spec.codec}
    if spec.codec == "copy":
        return kw
    if spec.bitrate is not None:
        kw["b:a"] = spec.bitrate
    if spec.channels is not None:
        kw["ac"] = spec.channels
    if spec.sample_rate is not None:
        kw["ar"] = spec.sample_rate
    kw.update({k: str(v) for k, v in spec.options.items()})
    return kw


def _uploaded(pic: Any, spec: VideoSpec) -> Any:
    """A VAAPI encoder takes GPU surfaces: the picture is converted to the
    surface format (``pix_fmt``) and uploaded at the end of its chain."""
    if not is_vaapi(spec.codec):
        return pic
    return pic.filter("format", spec.pix_fmt or "nv12").filter("hwupload")


def _poster_start(info: MediaInfo) -> float:
    """10% into the clip (at most 60 s), where titles and fades are usually over."""
    if not info.duration:
        return 0.0
    return round(min(info.duration * 0.1, 60.0), 3)


def _branch_count(out: PlannedOutput) -> int:
    if out.spec.video is None or out.spec.kind is OutputKind.AUDIO:
        return 0
    if out.spec.video.codec == "copy":
        return 0
    return len(out.renditions) if out.spec.kind is OutputKind.HLS else 1


def _tone_mapped(picture: Any, out: PlannedOutput) -> Any:
    """The picture tone-mapped to SDR when the plan says so (after scaling:
    the float conversion costs less on fewer pixels)."""
    decision = out.colour
    if decision is None or decision.treatment is not Treatment.TONEMAP:
        return picture
    for name, options in tonemap_filters(decision):
        picture = picture.filter(name, **options)
    return picture


def _colour_kwargs(out: PlannedOutput) -> dict[str, Any]:
    """Colour tags (and a kept HDR's pixel format and x265 metadata) for an HDR input."""
    if out.colour is None or out.spec.video is None:
        return {}
    kwargs = output_options(out.colour, out.spec.video.options)
    if is_vaapi(out.spec.video.codec):
        kwargs.pop("pix_fmt", None)  # the upload filter sets the surface format
    return kwargs


def _kept_audio(out: PlannedOutput, main: StreamInfo | None) -> tuple[StreamInfo, ...]:
    """The input audio tracks ``out`` keeps (media/streams.py chose them)."""
    if out.streams is None:
        return (main,) if main is not None else ()
    return out.streams.audio


def _track_kwargs(out: PlannedOutput) -> dict[str, Any]:
    """Dispositions of the kept audio tracks and encoders of the kept subtitles.

    Every audio disposition is set: ffmpeg would otherwise copy the input's,
    and two tracks could claim to be the default.
    """
    choice = out.streams
    if choice is None:
        return {}
    kw: dict[str, Any] = {}
    for i, stream in enumerate(choice.audio):
        flags = ["default"] if i == choice.default_audio else []
        flags += ["comment"] if stream.comment else []
        kw[f"disposition:a:{i}"] = "+".join(flags) or "0"
    for i, sub in enumerate(choice.subtitles):
        kw[f"c:s:{i}"] = sub.encoder
    return kw


def build_command(
    plan: Plan, info: MediaInfo, input_path: Path, *, vaapi_device: str | None = None
) -> Command:
    """The ffmpeg arguments that make every output of ``plan`` into its temp path.
    ``vaapi_device`` is opened when an output uses a VAAPI encoder."""
    video, audio = info.video, info.audio
    image_only = all(o.spec.kind is OutputKind.IMAGE for o in plan.outputs)
    input_kwargs: dict[str, Any] = {}
    if image_only:
        # Seeking before the input is fast (demuxer-level); only possible when
        # no other output needs the start of the clip.
        input_kwargs["ss"] = _poster_start(info)
    source = ffmpeg.input(media_path(input_path), **input_kwargs)

    branches_needed = sum(_branch_count(o) for o in plan.outputs)
    branches: list[Any] = []
    if branches_needed and video is not None:
        picture = source[str(video.index)]
        if branches_needed == 1:
            branches = [picture]
        else:
            split = picture.filter_multi_output("split", branches_needed)
            branches = [split[i] for i in range(branches_needed)]

    cwd: Path | None = None
    outputs: list[Any] = []
    for out in plan.outputs:
        spec = out.spec
        streams: list[Any] = []
        kwargs: dict[str, Any] = {"f": spec.container, "max_muxing_queue_size": 1024}
        if spec.kind is OutputKind.HLS:
            assert spec.video is not None
            cwd = out.temp
            # Rounded up: a GOP one frame shorter than a segment would add a
            # stray keyframe just before every forced one.
            fps = video.fps if video and video.fps else 25.0
            gop = math.ceil(round(fps * spec.segment_seconds, 6))
            kept = _kept_audio(out, audio)
            audio_stream = source[str(kept[0].index)] if kept and spec.audio else None
            # One WebVTT track at most (media/streams.py), copied into every
            # rendition, each in its own group: one DEFAULT=YES per group.
            subtitles = out.streams.subtitles[:1] if out.streams is not None else ()
            subtitle_stream = source[str(subtitles[0].index)] if subtitles else None
            names = []
            for i, r in enumerate(out.renditions):
                pic = branches.pop(0).filter("scale", r.size.width, r.size.height)
                pic = _tone_mapped(pic, out)
                streams.append(_uploaded(pic.filter("setsar", "1"), spec.video))
                for key, value in (
                    ("b", r.bitrate),
                    ("maxrate", r.maxrate),
                    ("bufsize", r.bufsize),
                ):
                    if value is not None:
                        kwargs[f"{key}:v:{i}"] = value
                entry = [f"v:{i}"] + [f"a:{i}"] * (audio_stream is not None)
                if subtitle_stream is not None:
                    entry += [f"s:{i}", f"sgroup:subs-{r.name}"]
                names.append(",".join([*entry, f"name:{r.name}"]))
            if audio_stream is not None and spec.audio is not None:
                streams.extend([audio_stream] * len(out.renditions))
                kwargs.update(_audio_kwargs(spec.audio))
            if subtitle_stream is not None:
                streams.extend([subtitle_stream] * len(out.renditions))
                kwargs["c:s"] = "webvtt"
            kwargs.update(_video_kwargs(spec.video))
            kwargs.update(_colour_kwargs(out))
            kwargs.update(
                {
                    # Same forced keyframes in every rendition: segments line up
                    # and players can switch between them at any boundary.
                    "g": gop,
                    "keyint_min": gop,
                    "force_key_frames": f"expr:gte(t,n_forced*{spec.segment_seconds})",
                    "hls_time": spec.segment_seconds,
                    "hls_playlist_type": "vod",
                    "hls_flags": "independent_segments",
                    "hls_segment_filename": "%v/seg_%05d.ts",
                    "master_pl_name": "master.m3u8",
                    "var_stream_map": " ".join(names),
                }
            )
            # Relative names, run inside the temporary folder: a '%' in the
            # user's path must not reach the hls muxer's pattern expansion.
            target = "%v/index.m3u8"
        else:
            target = media_path(out.temp)
            if spec.video is not None and spec.kind is not OutputKind.AUDIO and video is not None:
                if spec.video.codec == "copy":
                    streams.append(source[str(video.index)])
                else:
                    pic = branches.pop(0)
                    if spec.kind is OutputKind.IMAGE:
                        if not image_only:
                            start = _poster_start(info)
                            pic = pic.filter("trim", start=start).filter("setpts", "PTS-STARTPTS")
                        pic = pic.filter("thumbnail", POSTER_WINDOW_FRAMES)
                        kwargs.update({"frames:v": 1, "update": 1})
                    if spec.video.max_fps and video.fps and video.fps > spec.video.max_fps:
                        pic = pic.filter("fps", spec.video.max_fps)
                    if out.size is not None:
                        pic = pic.filter("scale", out.size.width, out.size.height)
                        pic = pic.filter("setsar", "1")
                    streams.append(_uploaded(_tone_mapped(pic, out), spec.video))
                kwargs.update(_video_kwargs(spec.video))
                kwargs.update(_colour_kwargs(out))
            kept = _kept_audio(out, audio)
            if spec.audio is not None and kept and spec.kind is not OutputKind.IMAGE:
                streams.extend(source[str(s.index)] for s in kept)
                kwargs.update(_audio_kwargs(spec.audio))
            if out.streams is not None:
                streams.extend(source[str(s.index)] for s in out.streams.subtitles)
            kwargs.update(_track_kwargs(out))
            if spec.faststart:
                kwargs["movflags"] = "+faststart"
        kwargs.update(parse_extra_args(spec.extra_args))
        outputs.append(ffmpeg.output(*streams, target, **kwargs))

    merged = outputs[0] if len(outputs) == 1 else ffmpeg.merge_outputs(*outputs)
    args: list[str] = merged.get_args()
    if branches_needed > 1:
        # One thread for the whole filter graph when it feeds several encoders:
        # their own thread pools already fill the cores, and slice threads in
        # every scale on top cost more in handing work around than they save
        # (the hls-ladder benchmark: ~0.85x the CPU of three runs with it,
        # ~0.95x without, on an MPEG-4 source).
        args = ["-filter_complex_threads", "1", *args]
    if vaapi_device is not None and any(
        o.spec.video is not None and is_vaapi(o.spec.video.codec) for o in plan.outputs
    ):
        args = [*device_args(vaapi_device), *args]
    return Command(args=args, cwd=cwd)


def command_line(command: Command, ffmpeg_bin: str) -> str:
    """The command as a shell would need it, for ``presets show``."""
    import shlex

    from mediaforge.media.process import GLOBAL_OPTIONS

    line = shlex.join([ffmpeg_bin, *GLOBAL_OPTIONS, *command.args])
    if command.cwd is not None:
        # The pipeline creates the folder before running ffmpeg; so must a shell.
        folder = shlex.quote(str(command.cwd))
        return f"mkdir -p {folder} && cd {folder} && {line}"
    return line
