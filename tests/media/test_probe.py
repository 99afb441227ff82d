"""media/probe.py on real files synthesized by ffmpeg."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import EnvironmentProblem, FFmpegError, InputError, ProbeError
from mediaforge.media.probe import MediaInfo, StreamInfo, check_readable, probe

MakeMedia = Callable[..., Path]


def test_probe_reads_video_and_audio(make_media: MakeMedia) -> None:
    info = probe(make_media("clip.mp4", duration=1.0, size="320x240", fps=25))

    assert "mp4" in info.format_name
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.size == info.path.stat().st_size
    assert info.bit_rate and info.bit_rate > 0
    video, audio = info.video, info.audio
    assert video is not None and audio is not None
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 320, 240, 25.0)
    assert (video.display_width, video.display_height) == (320, 240)
    assert (video.rotation, video.sar, video.attached_pic) == (0, (1, 1), False)
    assert video.pix_fmt == "yuv420p"
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 1)
    assert audio.width is None and audio.display_width is None and audio.fps is None


def test_probe_reads_audio_only_files(make_media: MakeMedia) -> None:
    info = probe(make_media("song.mp3", video=False, acodec="libmp3lame"))

    assert info.video is None
    assert info.audio is not None and info.audio.codec == "mp3"
    assert [s.kind for s in info.streams] == ["audio"]


@pytest.mark.parametrize(("name", "acodec"), [("song.mp3", "libmp3lame"), ("song.m4a", "aac")])
def test_probe_does_not_take_cover_art_for_video(
    make_media: MakeMedia, name: str, acodec: str
) -> None:
    info = probe(make_media(name, video=False, cover_art=True, acodec=acodec))

    pictures = [s for s in info.streams if s.kind == "video"]
    assert len(pictures) == 1 and pictures[0].attached_pic
    assert pictures[0].fps is None
    assert info.video is None
    assert info.audio is not None


def test_probe_reads_video_only_files(make_media: MakeMedia) -> None:
    info = probe(make_media("silent.mkv", audio=False))

    assert info.audio is None
    assert info.video is not None and info.video.codec == "h264"
    # Matroska keeps stream durations in tags; they still come through.
    assert info.video.duration == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_probe_reports_rotation_and_display_size(make_media: MakeMedia, rotate: int) -> None:
    info = probe(make_media("phone.mp4", size="320x240", rotate=rotate))

    assert info.video is not None
    assert info.video.rotation == rotate
    assert (info.video.width, info.video.height) == (320, 240)
    expected = (240, 320) if rotate in (90, 270) else (320, 240)
    assert (info.video.display_width, info.video.display_height) == expected


def test_display_size_applies_non_square_pixels(make_media: MakeMedia) -> None:
    info = probe(make_media("anamorphic.mp4", size="720x576", extra=["-vf", "setsar=16/15"]))

    assert info.video is not None
    assert info.video.sar == (16, 15)
    assert (info.video.display_width, info.video.display_height) == (768, 576)


def test_display_size_rotates_after_applying_pixel_aspect() -> None:
    stream = StreamInfo(
        index=0, kind="video", codec="h264", width=720, height=576, rotation=90, fps=25.0,
        pix_fmt="yuv420p", sample_rate=None, channels=None, duration=1.0, bit_rate=None,
        sar=(16, 15), attached_pic=False,
    )  # fmt: skip

    assert (stream.display_width, stream.display_height) == (576, 768)


@pytest.mark.parametrize(
    "name",
    [
        "my holiday clip.mp4",
        "café ünïcødé 日本.mp4",
        "-leading-dash.mp4",
        "100% done.mp4",
        "frame%03d.mp4",
        "http:foo.mp4",
        "what?.mp4",
        "a#b;c'd\"e.mp4",
    ],
)
def test_probe_reads_files_with_awkward_names(make_media: MakeMedia, name: str) -> None:
    path = make_media(name, duration=0.2)

    info = probe(path)

    assert info.path == path
    assert info.video is not None and info.audio is not None


def test_probe_reads_an_hls_playlist(make_media: MakeMedia) -> None:
    info = probe(make_media("stream dir.m3u8", duration=2.0))

    assert info.format_name == "hls"
    assert info.video is not None and info.audio is not None
    assert info.duration == pytest.approx(2.0, abs=0.2)


@pytest.mark.parametrize("name", ["poster.jpg", "frame%d.jpg", "still %03d.png"])
def test_probe_reads_a_picture_whatever_its_name(make_media: MakeMedia, name: str) -> None:
    # image2 reads "%d" as a numbered sequence unless told not to.
    codec = "png" if name.endswith(".png") else "mjpeg"
    info = probe(make_media(name, vcodec=codec, audio=False))

    assert info.video is not None
    assert (info.video.codec, info.video.width, info.video.height) == (codec, 320, 240)


def test_to_dict_is_json_friendly(make_media: MakeMedia) -> None:
    info = probe(make_media("clip.mp4", rotate=90))

    summary = json.loads(json.dumps(info.to_dict()))

    assert summary["path"] == str(info.path)
    assert summary["duration"] == info.duration
    assert [s["kind"] for s in summary["streams"]] == ["video", "audio"]
    assert summary["streams"][0]["rotation"] == 90
    assert summary["streams"][0]["sar"] == [1, 1]
    assert summary["streams"][0]["display_width"] == 240


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.mp4"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "a folder.mp4"
    folder.mkdir()
    return folder


def _empty(tmp_path: Path) -> Path:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    return empty


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    return fifo


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("x")
    return tmp_path / "plain" / "clip.mp4"


@pytest.mark.parametrize(
    ("make_path", "words"),
    [
        (_missing, "not found"),
        (_under_a_file, "not found"),
        (_folder, "is a folder"),
        (_empty, "is empty (0 bytes)"),
        (_fifo, "not a regular file"),
    ],
)
def test_probe_rejects_what_is_not_a_readable_file(
    tmp_path: Path, make_path: Callable[[Path], Path], words: str
) -> None:
    path = make_path(tmp_path)

    with pytest.raises(InputError) as caught:
        probe(path)

    assert type(caught.value) is InputError
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_check_readable_rejects_a_file_without_read_permission(tmp_path: Path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"x" * 10)
    secret.chmod(0)

    with pytest.raises(InputError, match="not readable"):
        check_readable(secret)


def _text(tmp_path: Path, make_media: MakeMedia) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("These are not the frames you are looking for.\n" * 20)
    return path


def _text_named_txt(tmp_path: Path, make_media: MakeMedia) -> Path:
    # ffmpeg's tty demuxer reads .txt files as "ANSI art" video.
    path = tmp_path / "notes.txt"
    path.write_text("These are not the frames you are looking for.\n" * 20)
    return path


def _pdf(tmp_path: Path, make_media: MakeMedia) -> Path:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n")
    return path


def _truncated(tmp_path: Path, make_media: MakeMedia) -> Path:
    # ffmpeg writes the mp4 index (moov) at the end: the first half has none.
    data = make_media("whole.mp4").read_bytes()
    path = tmp_path / "half copied.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make_path", "detail"),
    [
        (_text, "moov atom not found"),
        (_text_named_txt, "(a text file, not media)"),
        (_pdf, "(Invalid data found when processing input)"),
        (_truncated, "moov atom not found"),
    ],
)
def test_probe_rejects_files_that_are_not_media(
    tmp_path: Path,
    make_media: MakeMedia,
    make_path: Callable[[Path, MakeMedia], Path],
    detail: str,
) -> None:
    path = make_path(tmp_path, make_media)

    with pytest.raises(ProbeError) as caught:
        probe(path)

    message = str(caught.value)
    assert message.startswith(f"not a media file ffprobe can read: {path} (")
    assert detail in message
    assert "file:" not in message and "@ 0x" not in message and "\n" not in message
    assert message.count(str(path)) == 1


def test_probe_needs_ffprobe(make_media: MakeMedia, tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem) as caught:
        probe(make_media(), ffprobe=str(tmp_path / "no-such-ffprobe"))

    assert "ffprobe not found" in str(caught.value)
    assert "apt install ffmpeg" in str(caught.value)


def test_probe_times_out_on_a_hung_read(make_media: MakeMedia, tmp_path: Path) -> None:
    # A hung network share cannot be made here; an ffprobe that never
    # answers stands in for it.
    hung = tmp_path / "hung-ffprobe"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(hung.stat().st_mode | stat.S_IXUSR)
    path = make_media()

    with pytest.raises(FFmpegError) as caught:
        probe(path, ffprobe=str(hung), timeout=0.3)

    assert str(path) in str(caught.value) and "0.3 s" in str(caught.value)


def test_media_info_picks_the_first_real_video_stream() -> None:
    def stream(index: int, kind: str, attached_pic: bool = False) -> StreamInfo:
        return StreamInfo(
            index=index, kind=kind, codec="x", width=None, height=None, rotation=0, fps=None,
            pix_fmt=None, sample_rate=None, channels=None, duration=None, bit_rate=None,
            sar=None, attached_pic=attached_pic,
        )  # fmt: skip

    info = MediaInfo(
        path=Path("x.mkv"), format_name="matroska", duration=None, size=1, bit_rate=None,
        streams=(stream(0, "video", attached_pic=True), stream(1, "audio"), stream(2, "video")),
    )  # fmt: skip

    assert info.video is not None and info.video.index == 2
    assert info.audio is not None and info.audio.index == 1
