"""HDR metadata as ffprobe reports it: Dolby Vision configuration records,
mastering display colour volume (SMPTE ST 2086) and content light levels.

ffprobe shows these as ``side_data_list`` entries, on the stream when the
container carries them (Matroska, newer MP4 muxers) and otherwise only on
the frames (HEVC SEI messages). The probe reads the first frame's side data
for an HDR input whose stream shows none, so the values survive a re-encode.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

# Transfer characteristics that make a stream HDR, as ffprobe names them.
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})

# ST 2086 units used by x265's master-display and HEVC SEI messages:
# chromaticity in 0.00002, luminance in 0.0001 cd/m2.
_CHROMA_UNIT = 50000
_LUMA_UNIT = 10000


@dataclass(frozen=True)
class HdrMetadata:
    """The HDR side data of one video stream."""

    dovi_profile: int | None = None  # Dolby Vision profile (5, 7, 8, ...) or None
    master_display: str | None = None  # "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)" (x265 syntax)
    max_cll: str | None = None  # "MaxCLL,MaxFALL" in cd/m2

    def merged(self, other: HdrMetadata) -> HdrMetadata:
        """These values, with ``other``'s where these have none."""
        return HdrMetadata(
            dovi_profile=self.dovi_profile if self.dovi_profile is not None else other.dovi_profile,
            master_display=self.master_display or other.master_display,
            max_cll=self.max_cll or other.max_cll,
        )


def from_side_data(side_data: list[dict[str, Any]]) -> HdrMetadata:
    """The HDR metadata in one ``side_data_list``; unreadable entries are ignored
    (a damaged record must not fail a job that can still be encoded)."""
    dovi: int | None = None
    master: str | None = None
    cll: str | None = None
    for entry in side_data:
        kind = str(entry.get("side_data_type", ""))
        if "DOVI" in kind.upper() and dovi is None:
            dovi = _int(entry.get("dv_profile"))
        elif kind == "Mastering display metadata" and master is None:
            master = _master_display(entry)
        elif kind == "Content light level metadata" and cll is None:
            high, average = _int(entry.get("max_content")), _int(entry.get("max_average"))
            if high is not None and average is not None:
                cll = f"{high},{average}"
    return HdrMetadata(dovi_profile=dovi, master_display=master, max_cll=cll)


def _master_display(entry: dict[str, Any]) -> str | None:
    """ffprobe's rationals ('34000/50000') in x265's master-display syntax."""
    try:

        def chroma(key: str) -> int:
            return round(Fraction(str(entry[key])) * _CHROMA_UNIT)

        def point(name: str) -> str:
            return f"({chroma(name + '_x')},{chroma(name + '_y')})"

        high = round(Fraction(str(entry["max_luminance"])) * _LUMA_UNIT)
        low = round(Fraction(str(entry["min_luminance"])) * _LUMA_UNIT)
        points = f"G{point('green')}B{point('blue')}R{point('red')}WP{point('white_point')}"
    except (KeyError, ValueError, ZeroDivisionError):
        return None
    return f"{points}L({high},{low})"


def first_frame(path_arg: str, stream_index: int, ffprobe: str, timeout: float) -> HdrMetadata:
    """The HDR side data of the first frame of stream ``stream_index``.

    Best effort: HDR10 encoders put it in the bitstream, which only frames
    show. Nothing found (or ffprobe failing here, after the main probe
    worked) means no metadata to carry over, not a broken input.
    """
    command = [ffprobe, "-v", "error", "-select_streams", str(stream_index)]
    command += ["-read_intervals", "%+#1", "-show_frames"]
    command += ["-of", "json", path_arg]
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
        frames = json.loads(completed.stdout).get("frames", [])
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return HdrMetadata()
    found = HdrMetadata()
    for frame in frames[:1]:
        found = from_side_data(frame.get("side_data_list", []))
    return found


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
