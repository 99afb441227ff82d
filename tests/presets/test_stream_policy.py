"""A preset's ``streams:`` policy on a film with several audio and subtitle
tracks, through the real ``mediaforge`` command; every output is probed with
our own ffprobe call, not mediaforge's probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge, digest, ffprobe, hidden_leftovers, streams
from tests.tracks import Audio, Subtitle, make_tracked_media

# French first, English the default, an English commentary, an untagged
# track; English text subtitles and French picture (PGS) subtitles.
FILM_AUDIO = (Audio("fre"), Audio("eng", default=True), Audio("eng", comment=True), Audio(None))
FILM_SUBTITLES = (Subtitle("eng"), Subtitle("fre", "hdmv_pgs_subtitle"))

CONTAINERS_PRESET = """
name: tracks
outputs:
  - name: "{stem}.tracks.mp4"
    container: mp4
    video: {codec: libx264, options: {preset: ultrafast}}
    audio: {codec: aac, bitrate: 48k}
    streams:
      audio_languages: [eng, fre]
      subtitles: keep
  - name: "{stem}.tracks.mkv"
    container: matroska
    video: {codec: libx264, options: {preset: ultrafast}}
    audio: {codec: aac, bitrate: 48k}
    streams:
      audio_languages: ["*"]
      commentary: keep
      default_audio: fre
      subtitles: keep
  - name: "{stem}.tracks.webm"
    container: webm
    video: {codec: libvpx-vp9, bitrate: 100k, options: {deadline: realtime, cpu-used: "8"}}
    audio: {codec: libopus, bitrate: 48k}
    streams:
      audio_languages: [eng]
      undetermined: drop
      subtitles: keep
"""


def tracks(path: Path, kind: str) -> list[tuple[str, str, bool, bool]]:
    """(codec, language, default, commentary) of each ``kind`` track, in order."""
    found: list[dict[str, Any]] = streams(ffprobe(path), kind)
    return [
        (
            s["codec_name"],
            s.get("tags", {}).get("language", "und"),
            bool(s["disposition"]["default"]),
            bool(s["disposition"]["comment"]),
        )
        for s in found
    ]


@pytest.fixture
def film(tmp_path: Path) -> Path:
    return make_tracked_media(tmp_path / "film.mkv", FILM_AUDIO, FILM_SUBTITLES)


def test_a_preset_keeps_the_tracks_it_names_in_every_container(
    mf: Mediaforge, film: Path, tmp_path: Path
) -> None:
    mf.add_preset("tracks", CONTAINERS_PRESET)
    before = digest(film)
    out = tmp_path / "out"

    done = mf("run", film, "--preset", "tracks", "--output-dir", out, "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert job["status"] == "succeeded"
    mp4, mkv, webm = out / "film.tracks.mp4", out / "film.tracks.mkv", out / "film.tracks.webm"
    # MP4: English, then French, then the untagged track; the commentary
    # dropped; text subtitles as mov_text; the picture subtitles cannot go in.
    assert [t[:3] for t in tracks(mp4, "audio")] == [
        ("aac", "eng", True), ("aac", "fre", False), ("aac", "und", False),
    ]  # fmt: skip
    assert [t[:2] for t in tracks(mp4, "subtitle")] == [("mov_text", "eng")]
    # Matroska: every language in input order, the commentary kept and marked,
    # French the default; both subtitle tracks copied.
    assert tracks(mkv, "audio") == [
        ("aac", "fre", True, False), ("aac", "eng", False, False),
        ("aac", "eng", False, True), ("aac", "und", False, False),
    ]  # fmt: skip
    assert [t[:2] for t in tracks(mkv, "subtitle")] == [
        ("subrip", "eng"), ("hdmv_pgs_subtitle", "fre"),
    ]  # fmt: skip
    # WebM: English only (untagged dropped); text subtitles as WebVTT.
    assert [t[:3] for t in tracks(webm, "audio")] == [("opus", "eng", True)]
    assert [t[:2] for t in tracks(webm, "subtitle")] == [("webvtt", "eng")]
    said = job["decisions"]["streams"]
    assert "film.tracks.mp4: audio eng #2 (default), fre #1, und #4" in said
    assert (
        "subtitle fre #6 dropped: hdmv_pgs_subtitle is a picture format and mp4 cannot hold it"
        in said
    )
    assert "film.tracks.webm: audio eng #2; dropped audio fre #1, eng #3 commentary, und #4" in said
    assert mf.status(job["id"])["decisions"] == job["decisions"]
    shown = mf.ok("status", job["id"]).out
    assert "streams" in shown and "film.tracks.mp4: audio eng #2 (default)" in shown
    assert hidden_leftovers(out) == []
    assert digest(film) == before


def test_a_builtin_preset_keeps_the_main_audio_track_and_says_what_it_dropped(
    mf: Mediaforge, film: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    done = mf("run", film, "--preset", "h264-720p", "--output-dir", out, "--json")

    assert done.code == 0, done.err
    [output] = done.json()["outputs"]
    # The input's default track (English), not its first (French).
    assert [t[:2] for t in tracks(Path(output["path"]), "audio")] == [("aac", "eng")]
    assert done.json()["decisions"]["streams"].startswith(
        "audio eng #2; dropped audio fre #1, eng #3 commentary, und #4"
    )


def test_remux_mp4_keeps_every_audio_track_and_the_text_subtitles(
    mf: Mediaforge, film: Path, tmp_path: Path
) -> None:
    done = mf("run", film, "--preset", "remux-mp4", "--output-dir", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    path = Path(done.json()["outputs"][0]["path"])
    # Input order, and the input's default track (English) is still the default.
    assert tracks(path, "audio") == [
        ("aac", "fre", False, False), ("aac", "eng", True, False),
        ("aac", "eng", False, True), ("aac", "und", False, False),
    ]  # fmt: skip
    assert [t[:2] for t in tracks(path, "subtitle")] == [("mov_text", "eng")]
    assert "picture format and mp4 cannot hold it" in done.json()["decisions"]["streams"]


def test_an_hls_ladder_carries_one_audio_track_and_webvtt_subtitles_in_every_rendition(
    mf: Mediaforge, film: Path, tmp_path: Path
) -> None:
    mf.add_preset("ladder", """
name: tiny-ladder
outputs:
  - name: "{stem}.hls"
    kind: hls
    container: hls
    segment_seconds: 1
    video: {codec: libx264, options: {preset: ultrafast}}
    audio: {codec: aac, bitrate: 48k}
    streams: {audio_languages: [fre, eng], subtitles: keep}
    renditions:
      - {name: mid, max_width: 240, max_height: 180, bitrate: 150k}
      - {name: low, max_width: 160, max_height: 120, bitrate: 100k}
""")  # fmt: skip

    done = mf("run", film, "--preset", "tiny-ladder", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    folder = Path(done.json()["outputs"][0]["path"])
    master = (folder / "master.m3u8").read_text()
    for name in ("mid", "low"):
        assert len(streams(ffprobe(folder / name / "index.m3u8"), "audio")) == 1
        [subtitles] = streams(ffprobe(folder / name / "index_vtt.m3u8"), "subtitle")
        assert subtitles["codec_name"] == "webvtt"
        assert f'GROUP-ID="subs-{name}"' in master and f'SUBTITLES="subs-{name}"' in master
    assert "Hello" in (folder / "low" / "index0.vtt").read_text()
    said = done.json()["decisions"]["streams"]
    assert said.startswith("audio fre #1; dropped audio eng #2, eng #3 commentary, und #4")
    assert "an hls output keeps one audio track" in said
    assert "subtitles eng #5 as webvtt" in said
    assert "subtitle fre #6 dropped: hdmv_pgs_subtitle is a picture format" in said


def test_presets_show_displays_the_streams_policy(mf: Mediaforge, film: Path) -> None:
    mf.add_preset("tracks", CONTAINERS_PRESET)

    shown = mf.ok("presets", "show", "tracks").out
    builtin = mf.ok("presets", "show", "h264-720p").out
    command = mf.ok("presets", "show", "tracks", "--input", film).out

    assert (
        "streams: audio eng, fre, untagged kept, commentary dropped; "
        "subtitles kept (all), converted to what the container holds"
    ) in shown
    assert "streams: audio: the main track only, commentary dropped; subtitles dropped" in builtin
    assert "# streams: film.tracks.mp4: audio eng #2 (default), fre #1, und #4;" in command
    assert "-c:s:0 mov_text" in command and "-disposition:a:2 comment" in command


@pytest.mark.parametrize(
    ("streams_block", "line", "problem"),
    [
        pytest.param(
            "{audio_languages: [eng, english]}", 7,
            "outputs[0].streams.audio_languages[1]: 'english' is not a language code",
            id="language",
        ),
        pytest.param(
            "{default_audio: '*'}", 7, "outputs[0].streams.default_audio: '*' is not a language",
            id="default",
        ),
        pytest.param(
            "{subtitles: convert}", 7, "outputs[0].streams.subtitles", id="subtitles-mode",
        ),
        pytest.param(
            "{audio_languages: [eng, eng]}", 7,
            "outputs[0].streams.audio_languages[1]: 'eng' is listed twice", id="twice",
        ),
    ],
)  # fmt: skip
def test_a_bad_streams_block_is_one_line_naming_the_field(
    streams_block: str, line: int, problem: str, mf: Mediaforge, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\noutputs:\n  - name: '{stem}.mp4'\n    container: mp4\n"
        f"    video: {{codec: libx264}}\n    audio: {{codec: aac}}\n    streams: {streams_block}\n"
    )

    done = mf("presets", "validate", path)

    assert done.code == ExitCode.PRESET
    [listed] = done.err.splitlines()[1:]
    assert listed.startswith(f"  {path}:{line}: {problem}")
    assert "Traceback" not in done.err


def test_probe_shows_track_languages_and_flags(mf: Mediaforge, film: Path) -> None:
    shown = [line.split() for line in mf.ok("probe", film).out.splitlines()[1:]]

    assert [line[-2:] for line in shown[1:5]] == [
        ["ch", "fre"], ["eng", "(default)"], ["eng", "(commentary)"], ["ch", "und"],
    ]  # fmt: skip
    assert shown[5] == ["#5", "subtitle", "subrip", "eng"]
