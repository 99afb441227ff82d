"""Presets: what to make of an input. The output kinds, the specs a preset is
written in, and the validated ``Preset`` that commands are built from.

See docs/presets.md for the schema; ``loading`` reads and checks the YAML.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal


class OutputKind(enum.StrEnum):
    """What an output is; decides how it is built and verified."""

    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    HLS = "hls"


# ffmpeg encoder -> the codec name ffprobe reports for its output. Verification
# uses it to check that the output really holds what the preset promised.
ENCODER_CODECS: dict[str, str] = {
    "libx264": "h264",
    "libx265": "hevc",
    "libvpx-vp9": "vp9",
    "libvpx": "vp8",
    "libsvtav1": "av1",
    "libaom-av1": "av1",
    "librav1e": "av1",
    "aac": "aac",
    "libfdk_aac": "aac",
    "libopus": "opus",
    "libvorbis": "vorbis",
    "libmp3lame": "mp3",
    "flac": "flac",
    "ac3": "ac3",
    "mjpeg": "mjpeg",
    "png": "png",
    "libwebp": "webp",
}
# Software encoder -> the codec family whose hardware encoders (``h264_nvenc``,
# ``hevc_qsv``, ``av1_vaapi``, ...) a preset's ``encoder:`` may swap in for it
# (media/encoders.py translates the options).
HARDWARE_FAMILIES: dict[str, str] = {
    "libx264": "h264",
    "libx265": "hevc",
    "libsvtav1": "av1",
    "libaom-av1": "av1",
    "librav1e": "av1",
}
ENCODER_CODECS.update(
    {
        f"{family}_{kind}": family
        for family in set(HARDWARE_FAMILIES.values())
        for kind in ("nvenc", "qsv", "vaapi")
    }
)

# ``encoder:`` in a preset: which encoder runs its video (docs/presets.md).
EncoderRequest = Literal["software", "auto", "nvenc", "qsv", "vaapi"]


# Encoders that can carry HDR (PQ or HLG, BT.2020, 10-bit), and the pixel
# format an HDR output of theirs is written in. Any other encoder tone-maps
# HDR input to SDR, since 8-bit BT.709 players show raw HDR washed out.
HDR_PIX_FMTS: dict[str, str] = {
    "libx265": "yuv420p10le",
    "libsvtav1": "yuv420p10le",
    "libaom-av1": "yuv420p10le",
    "librav1e": "yuv420p10le",
    "libvpx-vp9": "yuv420p10le",  # VP9 profile 2
}

HdrPolicy = Literal["auto", "keep", "tonemap"]


@dataclass(frozen=True)
class VideoSpec:
    """The video stream of an output. ``codec: copy`` copies the input's stream."""

    codec: str = "libx264"
    max_width: int | None = None
    max_height: int | None = None
    crf: int | None = None
    bitrate: str | None = None
    maxrate: str | None = None
    bufsize: str | None = None
    pix_fmt: str | None = None
    max_fps: float | None = None
    options: dict[str, str] = field(default_factory=dict)
    # HDR input: keep it HDR, tone-map it to SDR, or auto (keep when the encoder can).
    hdr: HdrPolicy = "auto"


@dataclass(frozen=True)
class AudioSpec:
    """The audio stream of an output. ``codec: copy`` copies the input's stream."""

    codec: str = "aac"
    bitrate: str | None = None
    channels: int | None = None
    sample_rate: int | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendition:
    """One rung of an HLS ladder."""

    name: str = ""
    max_width: int | None = None
    max_height: int | None = None
    bitrate: str | None = None
    maxrate: str | None = None
    bufsize: str | None = None


@dataclass(frozen=True)
class StreamPolicy:
    """Which audio and subtitle tracks of the input an output keeps
    (docs/presets.md#audio-and-subtitle-tracks). The defaults keep one audio
    track, the input's main one, and no subtitles."""

    # Ordered ISO 639 codes; "*" stands for every track not named. Empty: the
    # input's main track only (its default track, else its first; never a
    # commentary when there is another).
    audio_languages: list[str] = field(default_factory=list)
    # Tracks tagged "und" or untagged, when languages are named: kept after them, or dropped.
    undetermined: Literal["keep", "drop"] = "keep"
    commentary: Literal["keep", "drop"] = "drop"
    # The language of the track players start with; None: the first named
    # language's, or after "*" alone the input's own default track.
    default_audio: str | None = None
    subtitles: Literal["keep", "drop"] = "drop"
    # Ordered ISO 639 codes ("*" for the rest); empty: every subtitle track.
    subtitle_languages: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for ``presets show``."""
        if self.audio_languages:
            audio = "audio " + ", ".join(self.audio_languages)
            audio += f", untagged {'kept' if self.undetermined == 'keep' else 'dropped'}"
        else:
            audio = "audio: the main track only"
        audio += f", commentary {'kept' if self.commentary == 'keep' else 'dropped'}"
        if self.default_audio:
            audio += f", default {self.default_audio}"
        if self.subtitles == "drop":
            return f"{audio}; subtitles dropped"
        which = ", ".join(self.subtitle_languages) if self.subtitle_languages else "all"
        return f"{audio}; subtitles kept ({which}), converted to what the container holds"


@dataclass(frozen=True)
class OutputSpec:
    """One output file (or, for HLS, one output folder) of a preset."""

    name: str = "{stem}.{preset}"
    kind: OutputKind = OutputKind.VIDEO
    container: str = "mp4"
    video: VideoSpec | None = None
    audio: AudioSpec | None = None
    faststart: bool = False
    extra_args: list[str] = field(default_factory=list)
    segment_seconds: float = 4.0
    renditions: list[Rendition] = field(default_factory=list)
    streams: StreamPolicy = field(default_factory=StreamPolicy)


@dataclass(frozen=True)
class Compliance:
    """When an input already satisfies the preset: copy its streams or skip the job."""

    containers: list[str] = field(default_factory=list)
    video_codecs: list[str] = field(default_factory=list)
    audio_codecs: list[str] = field(default_factory=list)
    pix_fmts: list[str] = field(default_factory=list)
    max_width: int | None = None
    max_height: int | None = None
    audio_only: bool = False
    action: Literal["remux", "skip"] = "remux"


@dataclass(frozen=True)
class SizeGuard:
    """Keep a job's outputs only when they are small enough: their total size
    at most ``max_ratio`` of the input's (0.9 = at least 10% smaller)."""

    max_ratio: float = 1.0


@dataclass(frozen=True)
class PresetFile:
    """A preset as written in YAML, before cross-field checks."""

    name: str = ""
    description: str = ""
    outputs: list[OutputSpec] = field(default_factory=list)
    compliant: Compliance | None = None
    tags: list[str] = field(default_factory=list)
    size_guard: SizeGuard | None = None
    encoder: EncoderRequest = "software"
    encoder_strict: bool = False


@dataclass(frozen=True)
class Preset:
    """A validated preset, ready to build commands from."""

    name: str
    description: str
    outputs: tuple[OutputSpec, ...]
    compliant: Compliance | None
    source: str  # "built-in" or the YAML file it came from
    # Names for groups of presets, e.g. "slow": `worker.limits` can cap how
    # many jobs of a tag run at once.
    tags: tuple[str, ...] = ()
    size_guard: SizeGuard | None = None
    encoder: EncoderRequest = "software"
    encoder_strict: bool = False  # fail rather than fall back to software

    @property
    def builtin(self) -> bool:
        return self.source == "built-in"

    def describe(self) -> str:
        """A human summary: what each output holds."""
        lines = [f"{self.name}: {self.description}", f"source: {self.source}"]
        if self.tags:
            lines.append("tags: " + ", ".join(self.tags))
        for out in self.outputs:
            parts = [out.kind.value, out.container]
            if out.video is not None:
                box = "x".join(str(v) for v in (out.video.max_width, out.video.max_height) if v)
                parts.append(f"video {out.video.codec}" + (f" up to {box}" if box else ""))
            if out.audio is not None:
                rate = f" {out.audio.bitrate}" if out.audio.bitrate else ""
                parts.append(f"audio {out.audio.codec}{rate}")
            if out.renditions:
                parts.append("renditions " + ", ".join(r.name for r in out.renditions))
            if out.video is not None and out.video.codec != "copy":
                parts.append(_hdr_summary(out))
            lines.append(f"  {out.name}: " + ", ".join(parts))
            if out.kind is not OutputKind.IMAGE:
                lines.append(f"    streams: {out.streams.describe()}")
        if self.compliant is not None:
            lines.append(f"  already-compliant inputs: {self.compliant.action}")
        if self.size_guard is not None:
            lines.append(
                f"  size guard: outputs kept only at most {self.size_guard.max_ratio:.0%} "
                "of the input's size"
            )
        if self.encoder != "software":
            fallback = "fail" if self.encoder_strict else "software"
            lines.append(f"  encoder: {self.encoder} (else {fallback})")
        return "\n".join(lines)


def keeps_hdr(out: OutputSpec) -> bool:
    """Whether HDR input stays HDR in this output (else it is tone-mapped to SDR)."""
    video = out.video
    if video is None or out.kind is OutputKind.IMAGE or video.hdr == "tonemap":
        return False
    return video.codec in HDR_PIX_FMTS


def _hdr_summary(out: OutputSpec) -> str:
    assert out.video is not None
    if keeps_hdr(out):
        pix_fmt = HDR_PIX_FMTS[out.video.codec]
        return f"HDR input {out.video.hdr}: kept HDR ({pix_fmt}, BT.2020)"
    return f"HDR input {out.video.hdr}: tone-mapped to SDR BT.709"
