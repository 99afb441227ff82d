"""Media with several audio and subtitle tracks, as real films carry them:
languages, a default track, a commentary track, text and picture subtitles.

Audio is lavfi ``sine`` (one frequency per track), text subtitles a small
SubRip file, and picture subtitles a Blu-ray PGS (``.sup``) file written
here byte by byte: ffmpeg cannot turn text into picture subtitles, and its
PGS demuxer reads this one as ``hdmv_pgs_subtitle`` (which it can re-encode
to ``dvd_subtitle``).
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mediaforge.media.process import media_path

SRT = """1
00:00:00,000 --> 00:00:00,600
Hello

2
00:00:00,700 --> 00:00:01,200
World
"""


@dataclass(frozen=True)
class Audio:
    language: str | None  # None: no language tag at all
    default: bool = False
    comment: bool = False


@dataclass(frozen=True)
class Subtitle:
    language: str | None
    picture: str | None = None  # None: text (SubRip); else hdmv_pgs_subtitle or dvd_subtitle


def _segment(pts: int, kind: int, data: bytes) -> bytes:
    return b"PG" + struct.pack(">IIBH", pts, 0, kind, len(data)) + data


def write_pgs(path: Path, width: int = 320, height: int = 240) -> Path:
    """A PGS file: a 32x8 white box shown at 0.1 s and cleared at 1 s."""
    box_w, box_h = 32, 8
    # Run-length lines: "00, 10LLLLLL, colour" is L pixels of a colour; "00 00" ends a line.
    bitmap = (bytes([0x00, 0x80 | box_w, 1]) + b"\x00\x00") * box_h
    out = b""
    for pts, shown in ((9000, True), (90000, False)):
        composition = struct.pack(
            ">HHBHBBBB", width, height, 0x10, 1 if shown else 2, 0x80 if shown else 0, 0, 0,
            1 if shown else 0,
        )  # fmt: skip
        if shown:
            composition += struct.pack(">HBBHH", 0, 0, 0, 10, 10)
        out += _segment(pts, 0x16, composition)
        out += _segment(pts, 0x17, struct.pack(">BBHHHH", 1, 0, 10, 10, box_w, box_h))
        if shown:
            out += _segment(pts, 0x14, bytes([0, 0, 1, 235, 128, 128, 255]))  # palette
            body = struct.pack(">HH", box_w, box_h) + bitmap
            size = len(body).to_bytes(3, "big")
            out += _segment(pts, 0x15, struct.pack(">HBB", 0, 0, 0xC0) + size + body)
        out += _segment(pts, 0x80, b"")
    path.write_bytes(out)
    return path


def make_tracked_media(
    path: Path,
    audio: tuple[Audio, ...],
    subtitles: tuple[Subtitle, ...] = (),
    duration: float = 1.5,
) -> Path:
    """A Matroska file at ``path``: 320x240 H.264 video, then ``audio`` and
    ``subtitles`` in that order, tagged and flagged as described."""
    folder = path.parent
    srt = folder / "tracks.srt"
    srt.write_text(SRT, encoding="utf-8")
    sup = write_pgs(folder / "tracks.sup")
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:d={duration}"]
    maps = ["-map", "0:v"]
    options = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "48k"]
    for i, track in enumerate(audio):
        inputs += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={300 + 100 * i}:sample_rate=48000:d={duration}",
        ]
        maps += ["-map", f"{i + 1}:a"]
        if track.language is not None:
            options += [f"-metadata:s:a:{i}", f"language={track.language}"]
        flags = ["default"] * track.default + ["comment"] * track.comment
        options += [f"-disposition:a:{i}", "+".join(flags) or "0"]
    for j, sub in enumerate(subtitles):
        inputs += ["-i", media_path(sup if sub.picture else srt)]
        maps += ["-map", f"{len(audio) + 1 + j}:s"]
        encoder = {None: "subrip", "hdmv_pgs_subtitle": "copy", "dvd_subtitle": "dvdsub"}
        options += [f"-c:s:{j}", encoder[sub.picture], f"-disposition:s:{j}", "0"]
        if sub.language is not None:
            options += [f"-metadata:s:s:{j}", f"language={sub.language}"]
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inputs]
    command += [*maps, *options, "-t", str(duration), "-f", "matroska", media_path(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path
