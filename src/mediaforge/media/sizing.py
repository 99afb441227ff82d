"""Output sizes, measured and expected: the size guard's verdict on a job's
verified outputs, and the estimate of what a job will write before ffmpeg
starts (docs/presets.md, "Size guard"; docs/operations.md, "Free space")."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mediaforge.media.planning import Action, Plan, PlannedOutput
from mediaforge.presets.model import OutputKind, SizeGuard
from mediaforge.units import human_size

# The estimate is raised by this much: container overhead, rate control
# overshooting its target, the moov atom rewritten by faststart.
ESTIMATE_MARGIN = 1.25
# A picture (a poster frame) is small whatever the input; this bounds it.
IMAGE_ALLOWANCE = 8 * 1024 * 1024
# An audio stream whose preset gives no bitrate: the most a common lossy encoder uses.
AUDIO_DEFAULT_BITS = 320_000

_RATE = re.compile(r"(\d+(?:\.\d+)?)([kKmMgG]?)")
_RATE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (an HLS output)."""
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        total += sum((Path(folder) / name).stat().st_size for name in files)
    return total


@dataclass(frozen=True)
class SizeVerdict:
    """The outputs' total size against the input's, and whether the guard keeps them."""

    input_size: int
    output_size: int
    max_ratio: float

    @property
    def ratio(self) -> float:
        if self.input_size <= 0:
            return 0.0 if self.output_size == 0 else float("inf")
        return self.output_size / self.input_size

    @property
    def kept(self) -> bool:
        return self.ratio <= self.max_ratio

    def text(self) -> str:
        """One line for people: the figures and what the guard made of them."""
        figures = (
            f"output {human_size(self.output_size)} is {self.ratio:.0%} "
            f"of the input {human_size(self.input_size)}"
        )
        limit = f"{self.max_ratio:.0%}"
        if self.kept:
            return f"{figures}; within the guard's {limit}"
        return f"{figures}; the guard keeps outputs only at most {limit}, so the original stays"


def judge_size(guard: SizeGuard, input_size: int, outputs: Iterable[Path]) -> SizeVerdict:
    """The guard's verdict on ``outputs`` (files or HLS folders) made from an
    input of ``input_size`` bytes."""
    total = sum(tree_size(path) for path in outputs)
    return SizeVerdict(input_size, total, guard.max_ratio)


def rate_bits(rate: str | None) -> int | None:
    """Bits per second of an ffmpeg rate such as ``2M``, ``128k`` or ``1500000``."""
    match = _RATE.fullmatch(rate.strip()) if rate else None
    if match is None:
        return None
    return int(float(match.group(1)) * _RATE_UNITS[match.group(2).lower()])


def estimate_plan_bytes(plan: Plan, duration: float | None, input_size: int) -> int:
    """What ``plan``'s outputs will take on disk, on the generous side.

    Per output: its stated bitrates (``maxrate`` before ``bitrate``) times
    the input's duration; an output whose size the preset leaves open
    (constant quality, a copied stream) is counted as large as the input; a
    picture at most ``IMAGE_ALLOWANCE``. The sum is raised by ``ESTIMATE_MARGIN``.
    """
    copies = plan.action is Action.REMUX
    total = sum(_estimate(out, duration, input_size, copies) for out in plan.outputs)
    return int(total * ESTIMATE_MARGIN)


def _estimate(out: PlannedOutput, duration: float | None, input_size: int, copies: bool) -> int:
    spec = out.spec
    if spec.kind is OutputKind.IMAGE:
        return min(input_size, IMAGE_ALLOWANCE)
    if copies or not duration or duration <= 0:
        return input_size
    audio = 0
    if spec.audio is not None:
        if spec.audio.codec == "copy":
            return input_size
        audio = rate_bits(spec.audio.bitrate) or AUDIO_DEFAULT_BITS
    if spec.kind is OutputKind.HLS:
        rates: Sequence[int | None] = [
            rate_bits(r.maxrate) or rate_bits(r.bitrate) for r in out.renditions
        ]
    elif spec.video is not None:
        if spec.video.codec == "copy":
            return input_size
        rates = [rate_bits(spec.video.maxrate) or rate_bits(spec.video.bitrate)]
    else:
        rates = [0]  # audio only
    if any(rate is None for rate in rates):
        return input_size
    # Each kept audio track is encoded at the preset's rate (HLS: one per rung).
    tracks = len(out.streams.audio) if out.streams is not None and out.streams.audio else 1
    bits = sum(rate or 0 for rate in rates) + audio * tracks * max(1, len(rates))
    return int(bits * duration / 8)
