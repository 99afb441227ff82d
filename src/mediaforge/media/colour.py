"""HDR input: what it is, and per output whether it stays HDR or is tone-mapped.

An HDR picture (PQ or HLG transfer, BT.2020 primaries, 10-bit) shown by an
SDR player looks washed out. An output whose encoder can carry HDR keeps it,
with the colour tags and mastering metadata carried over; any other output
is tone-mapped to SDR BT.709 (zscale + tonemap). The decision is pure data:
the command builder turns it into filters and options, the verifier checks
the output's transfer, primaries and bit depth against it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaforge.errors import InputError
from mediaforge.media.probe import StreamInfo
from mediaforge.presets.model import HDR_PIX_FMTS, OutputKind, OutputSpec, keeps_hdr


class DynamicRange(enum.StrEnum):
    """What kind of picture an input holds."""

    SDR = "sdr"
    HDR10 = "hdr10-pq"
    HLG = "hlg"
    DOLBY_VISION = "dolby-vision"


class Treatment(enum.StrEnum):
    KEEP = "keep"
    TONEMAP = "tonemap"


PQ, HLG_TRANSFER = "smpte2084", "arib-std-b67"
# Nominal peak luminance (cd/m2) that SDR white is mapped to when linearising.
SDR_PEAK_NITS = 100

# Tag values zscale and the encoders understand under ffprobe's names.
_ZSCALE_PRIMARIES = {"bt2020", "bt709"}
_ZSCALE_MATRICES = {"bt2020nc", "bt2020c", "bt709"}

_LABELS = {
    DynamicRange.HDR10: "HDR10 (PQ, BT.2020)",
    DynamicRange.HLG: "HLG (BT.2020)",
    DynamicRange.DOLBY_VISION: "Dolby Vision",
}


@dataclass(frozen=True)
class ColourDecision:
    """What one output does with an HDR input, and what it must hold afterwards."""

    source: DynamicRange
    treatment: Treatment
    encoder: str
    transfer: str  # the output's colour transfer, as ffprobe names it
    primaries: str
    matrix: str
    min_bits: int  # bits per sample the output must have at least
    max_bits: int
    pix_fmt: str | None  # the pixel format the encoder is given, None to leave it
    input_transfer: str
    input_primaries: str
    input_matrix: str
    master_display: str | None = None
    max_cll: str | None = None
    dovi_profile: int | None = None
    check_tags: bool = True  # pictures (JPEG, PNG) carry no colour tags to check

    def describe(self) -> str:
        """One line for people, as recorded on the job."""
        label = _LABELS[self.source]
        if self.dovi_profile is not None:
            label = f"Dolby Vision profile {self.dovi_profile}, {_base_label(self.transfer)}"
        if self.treatment is Treatment.TONEMAP:
            return f"{label} tone-mapped to SDR BT.709 for {self.encoder}"
        kept = f"{label} kept as {self.pix_fmt or 'input'} for {self.encoder}"
        if self.dovi_profile is not None:
            kept += " (the Dolby Vision layer is not carried over)"
        return kept


def _base_label(transfer: str) -> str:
    return "HLG base layer" if transfer == HLG_TRANSFER else "HDR10 base layer"


def classify(stream: StreamInfo) -> DynamicRange:
    """An input stream's dynamic range, from its tags and side data."""
    if stream.dovi_profile is not None:
        return DynamicRange.DOLBY_VISION
    if stream.color_transfer == PQ:
        return DynamicRange.HDR10
    if stream.color_transfer == HLG_TRANSFER:
        return DynamicRange.HLG
    return DynamicRange.SDR


def needs_tone_mapping(outputs: Iterable[OutputSpec], stream: StreamInfo | None) -> bool:
    """Whether some output must tone-map this input: then the input does not
    comply with the preset, even if its codecs do, and cannot be copied."""
    if stream is None or classify(stream) is DynamicRange.SDR:
        return False
    return any(
        out.video is not None
        and out.video.codec != "copy"
        and out.kind is not OutputKind.AUDIO
        and not keeps_hdr(out)
        for out in outputs
    )


def bit_depth(pix_fmt: str | None) -> int | None:
    """Bits per sample of a pixel format: yuv420p -> 8, yuv420p10le -> 10, p010le -> 10."""
    if not pix_fmt:
        return None
    match = re.search(r"(\d+)(le|be)$", pix_fmt)
    return 8 if match is None else max(8, int(match[1]))


def decide_colour(spec: OutputSpec, stream: StreamInfo, input_path: Path) -> ColourDecision | None:
    """What ``spec`` does with ``stream``; None when there is nothing to decide
    (an SDR input, or a stream that is copied as it is)."""
    source = classify(stream)
    video = spec.video
    if source is DynamicRange.SDR or video is None or video.codec == "copy":
        return None
    transfer = stream.color_transfer
    if transfer not in (PQ, HLG_TRANSFER):
        # Dolby Vision profile 5 has no HDR10 or HLG base layer (its colours are
        # IPT, reshaped by the RPU), which zscale cannot convert correctly.
        raise InputError(
            f"{input_path} is Dolby Vision profile {stream.dovi_profile} without an HDR10"
            " or HLG base layer, which cannot be converted here; use a preset that copies"
            " the video (such as remux-mp4)"
        )
    primaries = stream.color_primaries if stream.color_primaries in _ZSCALE_PRIMARIES else "bt2020"
    matrix = stream.color_space if stream.color_space in _ZSCALE_MATRICES else "bt2020nc"
    common: dict[str, Any] = {
        "source": source,
        "encoder": video.codec,
        "input_transfer": transfer,
        "input_primaries": primaries,
        "input_matrix": matrix,
        "dovi_profile": stream.dovi_profile,
        "check_tags": spec.kind is not OutputKind.IMAGE,
    }
    if keeps_hdr(spec):
        pix_fmt = video.pix_fmt
        if (bit_depth(pix_fmt) or 8) < 10:
            pix_fmt = HDR_PIX_FMTS[video.codec]
        return ColourDecision(
            treatment=Treatment.KEEP,
            transfer=transfer,
            primaries=primaries,
            matrix=matrix,
            min_bits=10,
            max_bits=16,
            pix_fmt=pix_fmt,
            master_display=stream.master_display if transfer == PQ else None,
            max_cll=stream.max_cll if transfer == PQ else None,
            **common,
        )
    return ColourDecision(
        treatment=Treatment.TONEMAP,
        transfer="bt709",
        primaries="bt709",
        matrix="bt709",
        min_bits=8,
        max_bits=8,
        # The tone-mapped picture is 8-bit: a preset's 10-bit pixel format
        # would only pad it again (and fail verification).
        pix_fmt=eight_bit(video.pix_fmt),
        **common,
    )


def eight_bit(pix_fmt: str | None) -> str | None:
    """The 8-bit form of a deeper pixel format (yuv420p10le -> yuv420p, p010le
    -> nv12); None for None or a format that is 8-bit already (kept as written)."""
    if (bit_depth(pix_fmt) or 8) <= 8:
        return None
    if pix_fmt in ("p010le", "p010be", "p016le", "p016be"):
        return "nv12"
    return re.sub(r"\d+(le|be)$", "", pix_fmt or "")


def tonemap_filters(decision: ColourDecision) -> list[tuple[str, dict[str, Any]]]:
    """The filter chain (name, options) that tone-maps to SDR BT.709, 8-bit.

    The input's transfer, primaries and matrix are named rather than read from
    the frames: a scaler on the way may leave some of them unset, and zscale
    fails on unset values. Linear light, then primaries, then the hable curve
    (desat=0: highlights keep their colour), then BT.709 limited range.
    """
    return [
        (
            "zscale",
            {
                "transferin": decision.input_transfer,
                "primariesin": decision.input_primaries,
                "matrixin": decision.input_matrix,
                "t": "linear",
                "npl": SDR_PEAK_NITS,
            },
        ),
        ("format", {"pix_fmts": "gbrpf32le"}),
        ("zscale", {"p": "bt709"}),
        ("tonemap", {"tonemap": "hable", "desat": 0}),
        ("zscale", {"t": "bt709", "m": "bt709", "r": "tv"}),
        ("format", {"pix_fmts": "yuv420p"}),
    ]


def output_options(decision: ColourDecision, options: dict[str, str]) -> dict[str, Any]:
    """Encoder options that tag the output with its colours (and, keeping HDR
    with x265, write them and the mastering metadata into the bitstream).

    ``options`` are the preset's own encoder options: x265-params is extended,
    not replaced.
    """
    kwargs: dict[str, Any] = {
        "color_primaries": decision.primaries,
        "color_trc": decision.transfer,
        "colorspace": decision.matrix,
    }
    if decision.pix_fmt is not None:
        kwargs["pix_fmt"] = decision.pix_fmt
    if decision.treatment is Treatment.KEEP and decision.encoder == "libx265":
        params = [
            f"colorprim={decision.primaries}",
            f"transfer={decision.transfer}",
            f"colormatrix={decision.matrix}",
        ]
        if decision.master_display:
            params.append(f"master-display={decision.master_display}")
        if decision.max_cll:
            params.append(f"max-cll={decision.max_cll}")
        if decision.master_display or decision.max_cll:
            params.append("hdr10=1")
        kwargs["x265-params"] = _joined(options.get("x265-params"), params)
    if decision.treatment is Treatment.KEEP and decision.encoder == "libsvtav1":
        # SVT-AV1 takes the colour tags from ffmpeg, the HDR10 metadata as
        # its own parameters, in cd/m2 and chromaticity coordinates.
        params = []
        if decision.master_display:
            params.append(f"mastering-display={_svt_mastering(decision.master_display)}")
        if decision.max_cll:
            params.append(f"content-light={decision.max_cll}")
        if params:
            kwargs["svtav1-params"] = _joined(options.get("svtav1-params"), params)
    return kwargs


def _joined(own: str | None, params: list[str]) -> str:
    """The preset's own encoder parameters, then ours (":"-separated)."""
    return ":".join([own, *params] if own else params)


def _svt_mastering(master_display: str) -> str:
    """x265's "G(13250,34500)...L(10000000,1)" as SVT-AV1's "G(0.265,0.69)...L(1000,0.0001)"."""

    def chroma(match: re.Match[str]) -> str:
        x, y = (int(v) / 50000 for v in match[2].split(","))
        return f"{match[1]}({x:g},{y:g})"

    points = re.sub(r"(G|B|R|WP)\((\d+,\d+)\)", chroma, master_display)
    return re.sub(
        r"L\((\d+),(\d+)\)",
        lambda m: f"L({int(m[1]) / 10000:g},{int(m[2]) / 10000:g})",
        points,
    )


def check_output(decision: ColourDecision, found: StreamInfo) -> list[str]:
    """What in ``found`` disagrees with the decision, as short phrases."""
    problems = []
    bits = bit_depth(found.pix_fmt)
    if bits is not None and not decision.min_bits <= bits <= decision.max_bits:
        want = f"{decision.min_bits}-bit" + (" or more" if decision.max_bits > 8 else "")
        problems.append(f"is {bits}-bit ({found.pix_fmt}), expected {want}")
    if decision.check_tags:
        if found.color_transfer != decision.transfer:
            problems.append(
                f"has colour transfer {found.color_transfer or 'untagged'},"
                f" expected {decision.transfer}"
            )
        if found.color_primaries != decision.primaries:
            problems.append(
                f"has primaries {found.color_primaries or 'untagged'},"
                f" expected {decision.primaries}"
            )
    return problems


def describe_colour(decisions: list[ColourDecision]) -> str | None:
    """One line for all outputs of a job, None when there was no HDR to handle."""
    texts = list(dict.fromkeys(d.describe() for d in decisions))
    return "; ".join(texts) or None
