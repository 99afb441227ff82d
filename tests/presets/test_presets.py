"""Every built-in preset, scaling and compliance rules, and preset files,
through the real ``mediaforge`` command on small synthesized clips.

Outputs are checked with our own ffprobe calls, not with mediaforge's probe:
the tests must not trust the code they test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge, digest, display_size, ffprobe, hidden_leftovers, streams

DURATION_TOLERANCE = 0.25  # seconds an output may differ from its 1-2 s input


# -- every built-in preset ------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    name: str  # output name for an input called clip.*
    video: str | None  # codec ffprobe must report
    audio: str | None


BUILTINS = {
    "h264-1080p": Expected("clip.1080p.mp4", "h264", "aac"),
    "h264-720p": Expected("clip.720p.mp4", "h264", "aac"),
    "hevc-1080p": Expected("clip.hevc.mp4", "hevc", "aac"),
    "vp9-1080p": Expected("clip.webm", "vp9", "opus"),
    "av1-1080p": Expected("clip.av1.webm", "av1", "opus"),
    "aac-audio": Expected("clip.m4a", None, "aac"),
    "mp3-audio": Expected("clip.mp3", None, "mp3"),
    "opus-audio": Expected("clip.opus", None, "opus"),
    "remux-mp4": Expected("clip.remux.mp4", "h264", "aac"),
    "poster-jpg": Expected("clip.poster.jpg", "mjpeg", None),
    "hls-ladder": Expected("clip.hls", "h264", "aac"),
}
JOB_KEYS = {"id", "status", "input", "preset", "progress", "attempts", "outputs", "error"}
OUTPUT_KEYS = {"path", "size", "video_codec", "audio_codec", "width", "height", "duration"}


def check_media(path: Path, video: str | None, audio: str | None, duration: float | None) -> None:
    info = ffprobe(path)
    found_video, found_audio = streams(info, "video"), streams(info, "audio")
    assert [s["codec_name"] for s in found_video][:1] == ([video] if video else [])
    assert [s["codec_name"] for s in found_audio][:1] == ([audio] if audio else [])
    for stream in found_video:
        assert stream["width"] % 2 == 0 and stream["height"] % 2 == 0
    if duration is not None:
        assert abs(float(info["format"]["duration"]) - duration) <= DURATION_TOLERANCE


def check_hls(folder: Path, duration: float) -> list[str]:
    """Check a published HLS folder; return the rendition names its master lists."""
    master = (folder / "master.m3u8").read_text()
    lines = master.splitlines()
    variants = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM")]
    assert variants, master
    for uri in variants:
        check_media(folder / uri, "h264", "aac", duration)
    return [uri.split("/")[0] for uri in variants]


def test_every_builtin_preset_is_tested() -> None:
    from mediaforge.presets.loading import load_presets

    assert set(load_presets(None)) == set(BUILTINS)


@pytest.mark.parametrize("preset", BUILTINS)
def test_builtin_preset_makes_outputs_that_ffprobe_confirms(
    preset: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # Matroska input: no preset finds it already compliant, so every one transcodes.
    source = make_media("clip.mkv")
    before = digest(source)
    out_dir = tmp_path / "out"

    done = mf("run", source, "--preset", preset, "--output-dir", out_dir, "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert set(job) >= JOB_KEYS
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 1, None)
    assert (job["input"], job["preset"], job["progress"]) == (str(source), preset, 1.0)
    expected = BUILTINS[preset]
    [output] = job["outputs"]
    assert set(output) >= OUTPUT_KEYS
    path = Path(output["path"])
    assert path == out_dir / expected.name
    assert (output["video_codec"], output["audio_codec"]) == (expected.video, expected.audio)
    if preset == "hls-ladder":
        assert path.is_dir()
        # A 320x240 input keeps only the smallest rung: the ladder never upscales.
        assert check_hls(path, 1.0) == ["480p"]
        assert output["size"] == sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        assert path.is_file() and output["size"] == path.stat().st_size
        image = preset == "poster-jpg"
        check_media(path, expected.video, expected.audio, None if image else 1.0)
    if expected.video:
        assert (output["width"], output["height"]) == (320, 240)
    if preset != "poster-jpg":
        assert output["duration"] == pytest.approx(1.0, abs=DURATION_TOLERANCE)
    assert hidden_leftovers(out_dir) == []
    assert digest(source) == before


def test_hls_renditions_come_from_one_ladder_with_aligned_keyframes(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.add_preset("ladder", """
name: tiny-ladder
description: small rungs, short segments
outputs:
  - name: "{stem}.hls"
    kind: hls
    container: hls
    segment_seconds: 0.5
    video: {codec: libx264, pix_fmt: yuv420p, options: {preset: ultrafast}}
    audio: {codec: aac, bitrate: 64k}
    renditions:
      - {name: huge, max_width: 640, max_height: 480, bitrate: 600k}
      - {name: full, max_width: 320, max_height: 240, bitrate: 300k}
      - {name: mid, max_width: 240, max_height: 180, bitrate: 200k}
      - {name: low, max_width: 160, max_height: 120, bitrate: 100k}
""")  # fmt: skip
    source = make_media("clip.mkv", duration=2.0)

    done = mf("run", source, "--preset", "tiny-ladder", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    folder = Path(done.json()["outputs"][0]["path"])
    assert sorted(check_hls(folder, 2.0)) == ["full", "low", "mid"]  # 640x480 would upscale
    sizes = {}
    keyframes = {}
    for name in ("full", "mid", "low"):
        playlist = folder / name / "index.m3u8"
        [video] = streams(ffprobe(playlist), "video")
        sizes[name] = (video["width"], video["height"])
        packets = ffprobe(playlist, "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,flags")["packets"]  # fmt: skip
        keyframes[name] = [round(float(p["pts_time"]), 3) for p in packets if "K" in p["flags"]]
    assert sizes == {"full": (320, 240), "mid": (240, 180), "low": (160, 120)}
    assert keyframes["full"] == keyframes["mid"] == keyframes["low"]
    # A keyframe opens every 0.5 s segment (on the first frame at or after the
    # boundary; 25 fps has no frame at 0.5 s), and there are no stray ones.
    start, frame = keyframes["full"][0], 1 / 25
    offsets = [round(t - start, 3) for t in keyframes["full"]]
    assert all(t % 0.5 <= frame for t in offsets), offsets
    for boundary in (0.0, 0.5, 1.0, 1.5):
        assert any(boundary <= t <= boundary + frame for t in offsets), offsets


# -- scaling ------------------------------------------------------------------------

BOX_PRESET = """
name: box-{w}x{h}
description: H.264 into a {w}x{h} box
outputs:
  - name: "{{stem}}.box.mp4"
    container: mp4
    video: {{codec: libx264, max_width: {w}, max_height: {h}, pix_fmt: yuv420p,
             options: {{preset: ultrafast}}}}
    audio: {{codec: aac}}
"""


@pytest.mark.parametrize(
    ("size", "rotate", "box", "shown"),
    [
        pytest.param("640x360", None, (320, 240), (320, 180), id="keeps-aspect"),
        pytest.param("120x90", None, (320, 240), (120, 90), id="never-upscales"),
        pytest.param("321x241", None, (160, 120), (160, 120), id="odd-input-scaled-even"),
        pytest.param("321x241", None, (640, 480), (320, 240), id="odd-input-kept-even"),
        pytest.param("240x320", None, (160, 120), (120, 160), id="portrait-fits-turned-box"),
        pytest.param("320x240", 90, (640, 480), (240, 320), id="rotated-shown-upright"),
        pytest.param("320x240", 90, (160, 120), (120, 160), id="rotated-and-scaled"),
    ],
)
def test_scaling_keeps_aspect_never_upscales_and_gives_even_sizes(
    size: str,
    rotate: int | None,
    box: tuple[int, int],
    shown: tuple[int, int],
    mf: Mediaforge,
    make_media: Callable[..., Path],
    tmp_path: Path,
) -> None:
    mf.add_preset("box", BOX_PRESET.format(w=box[0], h=box[1]))
    source = make_media("clip.mp4", size=size, rotate=rotate, duration=0.5)

    done = mf("run", source, "-p", f"box-{box[0]}x{box[1]}", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    [output] = done.json()["outputs"]
    [video] = streams(ffprobe(Path(output["path"])), "video")
    assert display_size(video) == shown == (output["width"], output["height"])
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0
    assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")


# -- compliance -------------------------------------------------------------------


def packet_sizes(path: Path) -> list[str]:
    info = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=size")
    return [p["size"] for p in info["packets"]]


@pytest.mark.parametrize(
    ("preset", "size"),
    [("h264-720p", "1280x720"), ("h264-1080p", "320x240")],
)
def test_compliant_input_is_remuxed_with_streams_copied(
    preset: str, size: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mp4", size=size, duration=0.4, extra=["-preset", "ultrafast"])
    before = digest(source)

    done = mf("run", source, "-p", preset, "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert (job["status"], job["action"]) == ("succeeded", "remux")
    assert "complies" in job["note"]
    [output] = job["outputs"]
    copy, original = ffprobe(Path(output["path"])), ffprobe(source)
    for kind in ("video", "audio"):
        assert [s["codec_name"] for s in streams(copy, kind)] == [
            s["codec_name"] for s in streams(original, kind)
        ]
    [video] = streams(copy, "video")
    assert f"{video['width']}x{video['height']}" == size
    assert packet_sizes(Path(output["path"])) == packet_sizes(source)  # copied, not re-encoded
    assert digest(source) == before


def test_input_outside_the_rules_is_transcoded_not_remuxed(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mp4", extra=["-pix_fmt", "yuv444p"])  # High 4:4:4, not yuv420p

    done = mf("run", source, "-p", "h264-720p", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert job["action"] == "transcode"
    [video] = streams(ffprobe(Path(job["outputs"][0]["path"])), "video")
    assert video["pix_fmt"] == "yuv420p"


@pytest.mark.parametrize(
    ("preset", "name", "acodec"),
    [("aac-audio", "song.m4a", "aac"), ("mp3-audio", "song.mp3", "libmp3lame"),
     ("opus-audio", "song.ogg", "libopus")],
)  # fmt: skip
def test_compliant_input_under_a_skip_rule_is_skipped_without_output(
    preset: str,
    name: str,
    acodec: str,
    mf: Mediaforge,
    make_media: Callable[..., Path],
    tmp_path: Path,
) -> None:
    source = make_media(name, video=False, acodec=acodec)
    out_dir = tmp_path / "out"

    done = mf("run", source, "-p", preset, "-o", out_dir, "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert (job["status"], job["outputs"], job["error"]) == ("skipped", [], None)
    assert "complies" in job["note"]
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


# -- preset files and the presets commands -------------------------------------


def test_presets_list_json_names_every_builtin(mf: Mediaforge) -> None:
    done = mf("presets", "list", "--json")

    assert done.code == 0, done.err
    listed = {p["name"]: p for p in done.json()}
    assert set(BUILTINS) <= set(listed)
    assert all(listed[name]["source"] == "built-in" for name in BUILTINS)


def test_user_preset_is_listed_with_its_file(mf: Mediaforge) -> None:
    path = mf.add_preset("box", BOX_PRESET.format(w=160, h=120))

    done = mf("presets", "list", "--json")

    assert {"name": "box-160x120", "source": str(path)}.items() <= next(
        p for p in done.json() if p["name"] == "box-160x120"
    ).items()


BAD_PRESET = """\
name: bad name
description: problems on known lines
outputs:
  - name: "out.mp4"
    kind: video
    video: {codec: libx264, max_width: wide}
    bogus: 1
"""
CROSS_FIELD_PRESET = """\
name: cross
outputs:
  - name: "{stem}.mp4"
    kind: hls
    container: hls
    video: {codec: libx264}
  - name: "{stem}.m4a"
    kind: audio
"""


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        pytest.param(BAD_PRESET, [
            (6, "outputs[0].video.max_width: expected a whole number"),
            (7, "outputs[0].bogus: unknown key"),
        ], id="types"),
        pytest.param(CROSS_FIELD_PRESET, [
            (3, "outputs[0].renditions: an hls output needs at least one rendition"),
            (7, "outputs[1].audio: an audio output needs an audio: section"),
        ], id="cross-field"),
        pytest.param("name: x\noutputs: [\n", [(3, "not valid YAML")], id="yaml-syntax"),
    ],
)  # fmt: skip
def test_presets_validate_lists_every_problem_with_file_and_line(
    text: str, problems: list[tuple[int, str]], mf: Mediaforge, tmp_path: Path
) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)

    done = mf("presets", "validate", path)

    assert done.code == ExitCode.PRESET
    assert done.error_lines() == [f"Error: {path}: invalid preset"]
    listed = done.err.splitlines()[1:]
    assert len(listed) == len(problems)
    for line, (number, problem) in zip(listed, problems, strict=True):
        assert line.startswith(f"  {path}:{number}:")
        assert problem in line
    assert "Traceback" not in done.err


def test_presets_validate_accepts_a_good_file(mf: Mediaforge) -> None:
    path = mf.add_preset("box", BOX_PRESET.format(w=160, h=120))

    done = mf("presets", "validate", path)

    assert done.code == 0, done.err
    assert "ok" in done.out


def test_a_broken_user_preset_stops_a_run_with_the_preset_exit_code(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    path = mf.add_preset("broken", BAD_PRESET)
    source = make_media("clip.mp4")
    before = digest(source)

    done = mf("run", source, "-p", "h264-720p")

    assert done.code == ExitCode.PRESET
    assert done.error_lines() == [f"Error: {path}: invalid preset"]
    assert "Traceback" not in done.err
    assert digest(source) == before


def test_presets_show_describes_a_preset(mf: Mediaforge) -> None:
    done = mf("presets", "show", "hls-ladder")

    assert done.code == 0, done.err
    assert "renditions 1080p, 720p, 480p" in done.out


@pytest.mark.parametrize("preset", ["poster-jpg", "hls-ladder"])
def test_presets_show_input_prints_one_command_that_runs(
    preset: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # 1280x720 keeps two rungs of the ladder (720p, 480p), so the picture is split.
    source = make_media("my clip%d.mp4", size="1280x720", duration=0.2,
                        extra=["-preset", "ultrafast"])  # fmt: skip
    out_dir = tmp_path / "shown 100%"
    out_dir.mkdir()  # the pipeline creates it; a shell user has it already

    done = mf("presets", "show", preset, "--input", source, "--output-dir", out_dir)

    assert done.code == 0, done.err
    commands = [line for line in done.out.splitlines() if not line.startswith("#")]
    assert len(commands) == 1
    [command] = commands
    assert f"file:{source}" in command or f"'file:{source}'" in command
    if preset == "hls-ladder":
        assert "split=2" in command and "-var_stream_map" in command
        # One filter thread when the graph feeds several encoders (see media/command.py).
        assert "-filter_complex_threads 1" in command
    else:
        assert "-filter_complex_threads" not in command
    ran = subprocess.run(["bash", "-c", done.out], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert [p.name for p in out_dir.iterdir()]  # it wrote where it said it would
