"""HDR input through the real ``mediaforge run``: outputs whose encoder can
carry HDR keep it (10-bit, PQ or HLG, BT.2020, mastering metadata), the
others are tone-mapped to SDR BT.709, and each output is probed for it.

The HDR clips are synthesized: lavfi testsrc2 encoded by x265 as 10-bit and
tagged PQ (or HLG) BT.2020, as HDR10 cameras and discs deliver them.
Outputs are checked with our own ffprobe calls, not mediaforge's probe.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from mediaforge.errors import ExitCode, InputError
from mediaforge.media.colour import DynamicRange, classify, decide_colour
from mediaforge.media.hdr_metadata import from_side_data
from mediaforge.media.probe import MediaInfo, StreamInfo, probe
from mediaforge.presets.model import OutputSpec, VideoSpec
from tests.mfcli import Mediaforge, digest, ffprobe, streams

MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
MAX_CLL = "1000,400"


def hdr_clip(make_media: Callable[..., Path], name: str, transfer: str) -> Path:
    """A 1 s 320x240 10-bit HEVC clip tagged ``transfer`` and BT.2020."""
    params = [
        "log-level=error",
        "colorprim=bt2020",
        f"transfer={transfer}",
        "colormatrix=bt2020nc",
    ]
    if transfer == "smpte2084":
        params += [f"master-display={MASTER_DISPLAY}", f"max-cll={MAX_CLL}"]
    return make_media(
        name,
        vcodec="libx265",
        extra=[
            "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params", ":".join(params),
            "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc",
        ],
    )  # fmt: skip


def video_of(path: Path) -> dict[str, Any]:
    [video] = streams(ffprobe(path), "video")
    return video


def first_frame_side_data(path: Path) -> list[dict[str, Any]]:
    found = ffprobe(path, "-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames")
    side_data: list[dict[str, Any]] = found["frames"][0].get("side_data_list", [])
    return side_data


def colours(video: dict[str, Any]) -> tuple[str, str, str]:
    return (video["pix_fmt"], video.get("color_transfer", ""), video.get("color_primaries", ""))


def picture_stats(path: Path) -> tuple[float, float]:
    """Mean luma and mean saturation of the first frame, as 8-bit values.

    The HDR clip converted to 8-bit without tone-mapping is what a washed-out
    output looks like: pale and grey. Tone-mapped, the same picture is darker
    and more saturated.
    """
    done = subprocess.run(
        [
            "ffmpeg", "-v", "error", "-i", f"file:{path}", "-frames:v", "1", "-vf",
            "format=yuv420p,signalstats,metadata=print:file=-", "-f", "null", "-",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return float(values["lavfi.signalstats.YAVG"]), float(values["lavfi.signalstats.SATAVG"])


def run_job(mf: Mediaforge, source: Path, preset: str, out_dir: Path) -> dict[str, Any]:
    done = mf("run", source, "--preset", preset, "--output-dir", out_dir, "--json")
    assert done.code == 0, done.err
    job: dict[str, Any] = done.json()
    assert job["status"] == "succeeded", job["error"]
    return job


def test_h264_preset_tone_maps_pq_input_to_8_bit_sdr_bt709(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = hdr_clip(make_media, "pq.mkv", "smpte2084")
    before = digest(source)

    shown = mf("presets", "show", "h264-1080p", "--input", source)
    job = run_job(mf, source, "h264-1080p", tmp_path / "out")

    assert "# colour: HDR10 (PQ, BT.2020) tone-mapped to SDR BT.709 for libx264" in shown.out
    assert "zscale" in shown.out and "tonemap=" in shown.out
    [output] = job["outputs"]
    assert colours(video_of(Path(output["path"]))) == ("yuv420p", "bt709", "bt709")
    washed_luma, washed_saturation = picture_stats(source)
    luma, saturation = picture_stats(Path(output["path"]))
    assert luma < washed_luma * 0.8 and saturation > washed_saturation * 1.15
    assert job["decisions"]["colour"] == (
        "HDR10 (PQ, BT.2020) tone-mapped to SDR BT.709 for libx264"
    )
    assert digest(source) == before


def test_hevc_preset_keeps_pq_input_10_bit_bt2020_with_its_mastering_metadata(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # Matroska: the MP4-only hevc-1080p finds it not compliant and re-encodes.
    source = hdr_clip(make_media, "pq.mkv", "smpte2084")

    job = run_job(mf, source, "hevc-1080p", tmp_path / "out")

    [output] = job["outputs"]
    path = Path(output["path"])
    video = video_of(path)
    assert colours(video) == ("yuv420p10le", "smpte2084", "bt2020")
    assert video["color_space"] == "bt2020nc"
    side_data = {entry["side_data_type"]: entry for entry in first_frame_side_data(path)}
    mastering = side_data["Mastering display metadata"]
    assert (mastering["green_x"], mastering["max_luminance"]) == ("13250/50000", "10000000/10000")
    light = side_data["Content light level metadata"]
    assert (light["max_content"], light["max_average"]) == (1000, 400)
    assert job["decisions"]["colour"] == "HDR10 (PQ, BT.2020) kept as yuv420p10le for libx265"


# The other built-ins with a video or picture output, and what each must hold:
# (pixel format, transfer, primaries); None where a format carries no tag.
BUILTIN_COLOURS = {
    "h264-720p": ("yuv420p", "bt709", "bt709"),
    "vp9-1080p": ("yuv420p10le", "smpte2084", "bt2020"),
    "av1-1080p": ("yuv420p10le", "smpte2084", "bt2020"),
    "hls-ladder": ("yuv420p", "bt709", "bt709"),
    "poster-jpg": ("yuvj420p", None, None),
}


@pytest.mark.parametrize("preset", BUILTIN_COLOURS)
def test_every_builtin_video_preset_keeps_or_tone_maps_pq_input_as_promised(
    preset: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = hdr_clip(make_media, "pq.mkv", "smpte2084")

    job = run_job(mf, source, preset, tmp_path / "out")

    [output] = job["outputs"]
    path = Path(output["path"])
    if preset == "hls-ladder":
        path = path / "480p" / "index.m3u8"
    pix_fmt, transfer, primaries = BUILTIN_COLOURS[preset]
    video = video_of(path)
    assert video["pix_fmt"] == pix_fmt
    if transfer is not None:
        assert (video["color_transfer"], video["color_primaries"]) == (transfer, primaries)
    treatment = "kept" if pix_fmt.endswith("10le") else "tone-mapped"
    assert treatment in job["decisions"]["colour"]
    if preset == "av1-1080p":  # SVT-AV1 writes the HDR10 metadata too (VP9 has none)
        side_data = {entry["side_data_type"]: entry for entry in first_frame_side_data(path)}
        mastering = side_data["Mastering display metadata"]
        assert Fraction(mastering["max_luminance"]) == 1000
        assert Fraction(mastering["green_x"]) == pytest.approx(0.265, abs=1e-4)
        assert side_data["Content light level metadata"]["max_content"] == 1000


def test_an_h264_input_tagged_pq_is_tone_mapped_not_copied_as_compliant(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # H.264 + AAC in MP4, 8-bit yuv420p: h264-1080p's compliance rule would copy it.
    source = make_media(
        "pq8.mp4",
        extra=["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"],
    )

    job = run_job(mf, source, "h264-1080p", tmp_path / "out")

    [output] = job["outputs"]
    assert colours(video_of(Path(output["path"]))) == ("yuv420p", "bt709", "bt709")
    assert "tone-mapped" in job["decisions"]["colour"]


def test_sdr_input_runs_the_same_command_and_records_no_colour_decision(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("sdr.mkv")

    shown = mf("presets", "show", "h264-1080p", "--input", source)
    job = run_job(mf, source, "h264-1080p", tmp_path / "out")

    assert shown.code == 0, shown.err
    for word in ("zscale", "tonemap", "color_trc", "colour:"):
        assert word not in shown.out
    assert "colour" not in (job["decisions"] or {})
    [output] = job["outputs"]
    video = video_of(Path(output["path"]))
    assert video["pix_fmt"] == "yuv420p"
    assert video.get("color_transfer") != "bt709"  # untouched: nothing tagged it


HLG_PRESET = """
name: hlg-both
description: one output that can keep HDR and one that cannot
outputs:
  - name: "{stem}.kept.mkv"
    container: matroska
    video: {codec: libx265, pix_fmt: yuv420p, options: {preset: ultrafast}}
  - name: "{stem}.sdr.mp4"
    container: mp4
    video: {codec: libx264, options: {preset: ultrafast}}
  - name: "{stem}.forced.mkv"
    container: matroska
    video: {codec: libx265, pix_fmt: yuv420p10le, hdr: tonemap, options: {preset: ultrafast}}
  - name: "{stem}.high10.mp4"
    container: mp4
    video: {codec: libx264, pix_fmt: yuv420p10le, options: {preset: ultrafast}}
"""


def test_hlg_input_is_kept_or_tone_mapped_per_output_of_one_command(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.add_preset("hlg", HLG_PRESET)
    source = hdr_clip(make_media, "hlg.mkv", "arib-std-b67")

    job = run_job(mf, source, "hlg-both", tmp_path / "out")

    found = {Path(o["path"]).name: colours(video_of(Path(o["path"]))) for o in job["outputs"]}
    assert found == {
        "hlg.kept.mkv": ("yuv420p10le", "arib-std-b67", "bt2020"),
        "hlg.sdr.mp4": ("yuv420p", "bt709", "bt709"),
        # A 10-bit pixel format in the preset does not survive tone-mapping:
        # the picture is 8-bit SDR, and stored so.
        "hlg.forced.mkv": ("yuv420p", "bt709", "bt709"),
        "hlg.high10.mp4": ("yuv420p", "bt709", "bt709"),
    }
    assert job["decisions"]["colour"] == (
        "HLG (BT.2020) kept as yuv420p10le for libx265; "
        "HLG (BT.2020) tone-mapped to SDR BT.709 for libx264; "
        "HLG (BT.2020) tone-mapped to SDR BT.709 for libx265"
    )  # the same decision for two outputs is said once


def test_an_output_that_does_not_hold_the_promised_colours_fails_verification(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # The preset's own extra arguments come last and tag the SDR output as PQ.
    mf.add_preset("liar", """
name: liar
description: tone-mapped, then mis-tagged
outputs:
  - name: "{stem}.mp4"
    video: {codec: libx264, options: {preset: ultrafast}}
    extra_args: ["-color_trc", "smpte2084"]
""")  # fmt: skip
    source = hdr_clip(make_media, "pq.mkv", "smpte2084")

    done = mf("run", source, "--preset", "liar", "--output-dir", tmp_path / "out", "--json")

    assert done.code != 0
    job = done.json()
    assert job["status"] == "failed"
    assert "has colour transfer smpte2084, expected bt709" in job["error"]
    assert not (tmp_path / "out" / "pq.mp4").exists()


def test_presets_show_tells_the_hdr_policy_of_each_output(mf: Mediaforge) -> None:
    mf.add_preset("hlg", HLG_PRESET)

    done = mf("presets", "show", "hlg-both")

    assert done.code == 0, done.err
    assert "HDR input auto: kept HDR (yuv420p10le, BT.2020)" in done.out
    assert "HDR input auto: tone-mapped to SDR BT.709" in done.out
    assert "HDR input tonemap: tone-mapped to SDR BT.709" in done.out


@pytest.mark.parametrize(
    ("video", "problem"),
    [
        ("{codec: libx264, hdr: keep}", "outputs[0].video.hdr: 'keep' needs a video output"),
        ("{codec: libx265, hdr: always}", "outputs[0].video.hdr"),
    ],
)
def test_presets_validate_refuses_an_hdr_policy_the_output_cannot_follow(
    video: str, problem: str, mf: Mediaforge, tmp_path: Path
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(f'name: mine\noutputs:\n  - name: "{{stem}}.mp4"\n    video: {video}\n')

    done = mf("presets", "validate", path)

    assert done.code == ExitCode.PRESET
    assert done.error_lines() == [f"Error: {path}: invalid preset"]
    [line] = done.err.splitlines()[1:]
    assert line.startswith(f"  {path}:4: ") and problem in line
    assert "Traceback" not in done.err


def test_probe_reads_hdr_tags_and_the_mastering_metadata_of_the_first_frame(
    make_media: Callable[..., Path],
) -> None:
    source = hdr_clip(make_media, "pq.mp4", "smpte2084")

    video = probe(source).video

    assert video is not None
    assert (video.color_transfer, video.color_primaries, video.color_space) == (
        "smpte2084", "bt2020", "bt2020nc",
    )  # fmt: skip
    assert (video.master_display, video.max_cll) == (MASTER_DISPLAY, MAX_CLL)
    assert classify(video) is DynamicRange.HDR10


def test_a_probe_stored_before_colours_were_read_still_reads_back_as_sdr(
    make_media: Callable[..., Path],
) -> None:
    source = make_media("sdr.mkv")
    info = probe(source)
    stored = json.loads(info.to_json())
    for stream in stored["streams"]:
        for key in ("color_transfer", "color_primaries", "color_space", "master_display"):
            del stream[key]

    again = MediaInfo.from_json(json.dumps(stored), source)

    assert again is not None and again.video is not None
    assert classify(again.video) is DynamicRange.SDR


# Dolby Vision cannot be synthesized with this ffmpeg (it writes no RPU), so
# these check the classification on side data as ffprobe prints it.
DOVI_RECORD = {
    "side_data_type": "DOVI configuration record",
    "dv_version_major": 1,
    "dv_profile": 8,
    "dv_bl_signal_compatibility_id": 1,
}


def dovi_stream(transfer: str | None) -> StreamInfo:
    hdr = from_side_data([{**DOVI_RECORD, "dv_profile": 8 if transfer else 5}])
    return StreamInfo(
        index=0, kind="video", codec="hevc", width=320, height=240, rotation=0, fps=25.0,
        pix_fmt="yuv420p10le", sample_rate=None, channels=None, duration=1.0, bit_rate=None,
        sar=None, attached_pic=False, color_transfer=transfer, color_primaries="bt2020",
        color_space="bt2020nc", dovi_profile=hdr.dovi_profile,
    )  # fmt: skip


def test_dolby_vision_with_an_hdr10_base_layer_is_handled_as_that_layer() -> None:
    stream = dovi_stream("smpte2084")
    h264 = OutputSpec(video=VideoSpec(codec="libx264"))

    decision = decide_colour(h264, stream, Path("dv.mp4"))

    assert classify(stream) is DynamicRange.DOLBY_VISION
    assert decision is not None
    assert decision.describe() == (
        "Dolby Vision profile 8, HDR10 base layer tone-mapped to SDR BT.709 for libx264"
    )


def test_dolby_vision_without_a_base_layer_is_refused_in_one_line() -> None:
    h264 = OutputSpec(video=VideoSpec(codec="libx264"))

    with pytest.raises(InputError, match=r"^dv\.mp4 is Dolby Vision profile 5 without"):
        decide_colour(h264, dovi_stream(None), Path("dv.mp4"))
