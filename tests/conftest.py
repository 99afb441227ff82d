"""Shared fixtures: real media synthesized with ffmpeg's lavfi sources, and a
mediaforge installation in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from mediaforge.media.process import media_path
from tests.backends import PostgresServer, RedisServer, postgres_bindir
from tests.mfcli import Mediaforge
from tests.servers import Webhook, running_webhook

# Muxer for each file extension make_media knows.
MUXERS = {
    ".mp4": "mp4",
    ".mov": "mov",
    ".m4a": "ipod",
    ".mkv": "matroska",
    ".webm": "webm",
    ".ts": "mpegts",
    ".m3u8": "hls",
    ".mp3": "mp3",
    ".wav": "wav",
    ".flac": "flac",
    ".ogg": "ogg",
    ".jpg": "image2",
    ".png": "image2",
}
IMAGE_MUXERS = {"image2"}


def _ffmpeg(*args: str) -> None:
    """Run ffmpeg for a fixture; fail the test with ffmpeg's own words if it fails."""
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"making test media failed: {' '.join(command)}\n{done.stderr}")


@pytest.fixture
def make_media(tmp_path: Path) -> Callable[..., Path]:
    """Factory: synthesize a small real media file in ``tmp_path`` and return its path.

    ``name`` picks the container by extension (see MUXERS) and may hold any
    character. Video is lavfi ``testsrc2``, audio ``sine``. ``rotate`` sets
    the display rotation, clockwise, as ``StreamInfo.rotation`` reports it
    (mp4/mov only). ``cover_art`` makes the video stream a single-frame JPEG
    marked as an attached picture, as music files carry it. ``extra`` goes
    into the output options, before ``-f``.
    """

    def make(
        name: str = "clip.mp4",
        duration: float = 1.0,
        size: str = "320x240",
        fps: int = 25,
        video: bool = True,
        audio: bool = True,
        vcodec: str = "libx264",
        acodec: str = "aac",
        rotate: int | None = None,
        cover_art: bool = False,
        extra: Sequence[str] = (),
    ) -> Path:
        path = tmp_path / name
        muxer = MUXERS[path.suffix.lower()]
        image = muxer in IMAGE_MUXERS
        inputs: list[str] = []
        output: list[str] = []
        if video or cover_art:
            # A picture is one frame: a one-frame source, since "-frames:v 1"
            # would end the audio too (ffmpeg 5.1 closes all streams of a file).
            frames = 1 if image or cover_art else duration * fps
            inputs += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:d={frames / fps}"]
            codec = "mjpeg" if cover_art else vcodec
            output += ["-map", "0:v", "-c:v", codec]
            if cover_art:
                output += ["-disposition:v:0", "attached_pic"]
            if image:
                output += ["-update", "1"]
        if audio and not image:
            inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={duration}"]
            audio_input = 1 if video or cover_art else 0
            output += ["-map", f"{audio_input}:a", "-c:a", acodec]
        if muxer == "hls":
            output += ["-hls_time", "1", "-hls_playlist_type", "vod"]

        if rotate is None:
            _ffmpeg(*inputs, *output, *extra, "-f", muxer, media_path(path))
            return path
        # ffmpeg 5.1 writes a 'rotate' tag only when stream-copying, and its
        # mov muxer reads the tag counterclockwise (tag 270 is what phones
        # call 90): remux with the negated angle.
        plain = path.with_name(f"unrotated-{path.name}")
        _ffmpeg(*inputs, *output, *extra, "-f", muxer, media_path(plain))
        _ffmpeg(
            "-i", media_path(plain), "-map", "0", "-c", "copy",
            "-metadata:s:v:0", f"rotate={-rotate % 360}", "-f", muxer, media_path(path),
        )  # fmt: skip
        plain.unlink()
        return path

    return make


@pytest.fixture
def mf(tmp_path: Path) -> Iterator[Mediaforge]:
    """A ``mediaforge`` installation in tmp_path/mf: its own data, config and presets.

    Media the test makes live beside it, in tmp_path. Whatever it started is
    stopped after the test.
    """
    with Mediaforge(tmp_path / "mf") as installation:
        yield installation


@pytest.fixture(scope="session", autouse=True)
def nothing_is_written_into_the_current_folder() -> Iterator[None]:
    """Tests write under tmp_path only: the run fails if the current folder gained a file."""
    here = Path.cwd()
    before = set(os.listdir(here))
    yield
    new = sorted(set(os.listdir(here)) - before)
    assert not new, f"tests wrote into the current folder {here}: {new}"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A JSON webhook on 127.0.0.1 that records what it receives."""
    with running_webhook() as hook:
        yield hook


def _missing(what: str) -> None:
    """Skip for want of a server program, unless the run requires every server (CI)."""
    reason = f"{what} is not installed (apt install postgresql redis-server)"
    if os.environ.get("MEDIAFORGE_REQUIRE_SERVERS") == "1":
        pytest.fail(reason + "; MEDIAFORGE_REQUIRE_SERVERS=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole run."""
    bindir = postgres_bindir()
    if bindir is None:
        _missing("PostgreSQL (initdb, postgres)")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """The PostgreSQL server, up at the start of the test and again after it
    (a test may stop it to simulate an outage)."""
    if postgres_server.process is None:
        postgres_server.start()
    yield postgres_server
    if postgres_server.process is None:
        postgres_server.start()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    return postgres.new_database()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server on 127.0.0.1 for the whole run."""
    if shutil.which("redis-server") is None:
        _missing("redis-server")
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of a fresh, empty Redis database."""
    return redis_server.new_database()
