"""The estimate of what a job writes, on real plans of real synthesized media:
stated bitrates times the duration, the input's size where the preset leaves
the size open, a bounded allowance for a picture; all raised by the margin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.media.planning import plan_job
from mediaforge.media.probe import probe
from mediaforge.media.sizing import ESTIMATE_MARGIN, estimate_plan_bytes, rate_bits
from mediaforge.presets.loading import get_preset, parse_preset
from tests.tracks import Audio, make_tracked_media

BITRATES = """
name: rated
description: a video and an audio output at stated rates
outputs:
  - name: "{stem}.rated.mp4"
    video: {codec: libx264, bitrate: 800k, maxrate: 1M, bufsize: 2M}
    audio: {codec: aac, bitrate: 128k}
  - name: "{stem}.rated.m4a"
    kind: audio
    container: ipod
    audio: {codec: aac, bitrate: 96k}
"""


def _estimate(preset_text: str | None, name: str, source: Path, tmp_path: Path) -> int:
    preset = parse_preset(preset_text, "test") if preset_text else get_preset(name, None)
    info = probe(source)
    plan = plan_job(
        preset, info, input_path=source, output_dir=tmp_path / "out", job_id=1, attempt=1,
        collision="rename",
    )  # fmt: skip
    return estimate_plan_bytes(plan, info.duration, source.stat().st_size)


def test_stated_bitrates_times_the_duration_make_the_estimate(
    make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mp4", duration=2.0)
    duration = probe(source).duration
    assert duration is not None

    estimate = _estimate(BITRATES, "rated", source, tmp_path)

    # maxrate before bitrate: the cap is what the encoder may reach.
    video_output = int((1_000_000 + 128_000) * duration / 8)
    audio_output = int(96_000 * duration / 8)
    assert estimate == int((video_output + audio_output) * ESTIMATE_MARGIN)


ALL_AUDIO = """
name: all-audio
description: every audio track at a stated rate
outputs:
  - name: "{stem}.all.mkv"
    container: matroska
    video: {codec: libx264, bitrate: 200k}
    audio: {codec: aac, bitrate: 128k}
    streams: {audio_languages: ["*"]}
"""


def test_every_kept_audio_track_counts_in_the_estimate(tmp_path: Path) -> None:
    source = make_tracked_media(
        tmp_path / "tracks.mkv", (Audio("eng", default=True), Audio("fre"), Audio("ger"))
    )
    duration = probe(source).duration
    assert duration is not None

    estimate = _estimate(ALL_AUDIO, "all-audio", source, tmp_path)

    assert estimate == int(int((200_000 + 3 * 128_000) * duration / 8) * ESTIMATE_MARGIN)


def test_a_constant_quality_output_counts_as_large_as_its_input(
    make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mp4")

    estimate = _estimate(None, "h264-720p", source, tmp_path)

    assert estimate == int(source.stat().st_size * ESTIMATE_MARGIN)


def test_the_bitrates_of_every_hls_rendition_add_up(
    make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mp4", size="1280x720")
    info = probe(source)
    preset = get_preset("hls-ladder", None)
    plan = plan_job(
        preset, info, input_path=source, output_dir=tmp_path, job_id=1, attempt=1,
        collision="rename",
    )  # fmt: skip
    [hls] = plan.outputs
    assert [r.name for r in hls.renditions] == ["720p", "480p"]  # never upscaled
    assert info.duration is not None

    estimate = estimate_plan_bytes(plan, info.duration, source.stat().st_size)

    # Each rung's maxrate, and the ladder's 128k audio once per rung.
    bits = 2_996_000 + 1_498_000 + 2 * 128_000
    assert estimate == int(int(bits * info.duration / 8) * ESTIMATE_MARGIN)


@pytest.mark.parametrize(
    ("rate", "bits"), [("2M", 2_000_000), ("128k", 128_000), ("1500000", 1_500_000),
                       ("2.5M", 2_500_000), ("fast", None), (None, None)],
)  # fmt: skip
def test_rates_read_as_ffmpeg_reads_them(rate: str | None, bits: int | None) -> None:
    assert rate_bits(rate) == bits
