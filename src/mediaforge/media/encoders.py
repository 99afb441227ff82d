"""Hardware encoders: which one stands in for a software encoder, and how a
preset's quality knobs read in its own options.

A preset is written for a software encoder (``libx264``, ``libx265``, an AV1
encoder); ``encoder: nvenc | qsv | vaapi`` (or ``auto``) asks for the
hardware encoder of the same codec family. This module only translates: which
encoder, which options, which upload filter and device. Whether one works on
this host is ``media/encoder_probe.py``'s question.

The translation (docs/presets.md#hardware-encoders):

- ``crf`` is constant quality: ``-rc vbr -cq N`` for NVENC, ``-global_quality
  N`` for QSV, ``-qp N`` for VAAPI (AV1's 0-63 scale is mapped onto 0-51, and
  onto VAAPI's 0-255).
- ``preset`` (x264/x265 names, SVT-AV1 numbers) becomes NVENC's p1-p7 or the
  matching QSV name; VAAPI has no speed presets and drops it.
- ``pix_fmt``: NVENC takes it as it is; QSV wants NV12 (P010 for 10-bit);
  VAAPI encodes GPU surfaces, so the picture goes through ``format=nv12,
  hwupload`` on the device named by ``encoders.vaapi_device``.
- Options every encoder understands (profile, level, GOP) are kept; options of
  the software encoder alone (``tune``, ``x264-params``, ...) are dropped, and
  the job's decision note lists them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from mediaforge.presets.model import HARDWARE_FAMILIES, OutputKind, Preset, VideoSpec


class HardwareKind(enum.StrEnum):
    """A family of hardware encoders, as a preset names it."""

    NVENC = "nvenc"
    QSV = "qsv"
    VAAPI = "vaapi"


# The software encoder a preset names -> its codec family.
FAMILIES = HARDWARE_FAMILIES

# Options any encoder of the family takes (AVCodecContext options, or private
# options the hardware encoders share): carried over as they are.
_PORTABLE_OPTIONS = frozenset({"profile", "level", "g", "keyint_min", "bf", "refs", "tag"})

_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p3",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
    "placebo": "p7",
}
_QSV_PRESETS = {
    "ultrafast": "veryfast",
    "superfast": "veryfast",
    "placebo": "veryslow",
    **{n: n for n in ("veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")},
}
_TEN_BIT = frozenset({"yuv420p10le", "p010le"})


def hardware_encoder(codec: str, kind: HardwareKind) -> str | None:
    """``libx264`` + nvenc -> ``h264_nvenc``; None when the codec has no family."""
    family = FAMILIES.get(codec)
    return f"{family}_{kind.value}" if family else None


def hardware_outputs(preset: Preset) -> list[VideoSpec]:
    """The video specs of ``preset`` a hardware encoder would take over: real
    encodes of a known family (not copies, not poster images)."""
    return [
        out.video
        for out in preset.outputs
        if out.video is not None
        and out.kind in (OutputKind.VIDEO, OutputKind.HLS)
        and out.video.codec in FAMILIES
    ]


def _quality(spec: VideoSpec, kind: HardwareKind) -> dict[str, str]:
    if spec.crf is None:
        return {}
    crf = spec.crf
    if FAMILIES[spec.codec] == "av1":
        crf = round(crf * 51 / 63)  # SVT-AV1 and libaom count 0-63
    if kind is HardwareKind.NVENC:
        return {"rc": "vbr", "cq": str(crf)}
    if kind is HardwareKind.QSV:
        return {"global_quality": str(max(1, crf))}
    if FAMILIES[spec.codec] == "av1":
        return {"qp": str(round(crf * 255 / 51))}
    return {"qp": str(max(1, crf))}


def _speed(value: str, kind: HardwareKind) -> str | None:
    if value.isdigit():  # SVT-AV1: 0 (slowest) .. 13 (fastest), spread over p7 .. p1
        step = round(min(13, int(value)) * 6 / 13)
        return f"p{7 - step}" if kind is HardwareKind.NVENC else None
    table = _NVENC_PRESETS if kind is HardwareKind.NVENC else _QSV_PRESETS
    return table.get(value)


@dataclass(frozen=True)
class Translated:
    """A video spec rewritten for a hardware encoder, and what did not carry over."""

    spec: VideoSpec
    dropped: tuple[str, ...]


def translate(spec: VideoSpec, kind: HardwareKind) -> Translated:
    """``spec`` (written for a software encoder) for the hardware encoder of ``kind``."""
    encoder = hardware_encoder(spec.codec, kind)
    if encoder is None:
        return Translated(spec, ())
    options: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in spec.options.items():
        name = key.split(":")[0]  # "profile:v" is "profile" for the video stream
        if name in _PORTABLE_OPTIONS:
            options[key] = str(value)
        elif name == "preset" and kind is not HardwareKind.VAAPI:
            speed = _speed(str(value), kind)
            if speed is None:
                dropped.append(f"preset={value}")
            else:
                options["preset"] = speed
        else:
            dropped.append(f"{key}={value}")
    options.update(_quality(spec, kind))
    pix_fmt = spec.pix_fmt
    if kind is HardwareKind.QSV:
        pix_fmt = "p010le" if pix_fmt in _TEN_BIT else "nv12"
    elif kind is HardwareKind.VAAPI:
        # Not an output option: the surface format the picture is uploaded in
        # (media/command.py adds format + hwupload for VAAPI encoders).
        pix_fmt = "p010" if pix_fmt in _TEN_BIT else "nv12"
    rewritten = replace(spec, codec=encoder, crf=None, pix_fmt=pix_fmt, options=options)
    return Translated(rewritten, tuple(dropped))


def is_vaapi(codec: str) -> bool:
    return codec.endswith("_vaapi")


def device_args(vaapi_device: str) -> list[str]:
    """The global options that open the VAAPI device (before the input)."""
    return ["-vaapi_device", vaapi_device]
