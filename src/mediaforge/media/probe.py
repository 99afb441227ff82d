"""ffprobe as typed data: what a media file holds, and whether it is one at all."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from mediaforge.errors import EnvironmentProblem, FFmpegError, InputError, ProbeError
from mediaforge.media import hdr_metadata
from mediaforge.media.process import REASON_MAX_CHARS, clean_line, kill_group, media_path
from mediaforge.units import parse_clock


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a media file, as ffprobe sees it."""

    index: int
    kind: str  # 'video' | 'audio' | 'subtitle' | 'data' | 'attachment'
    codec: str
    width: int | None
    height: int | None
    # Degrees (0, 90, 180, 270) a player turns the stored picture *clockwise*
    # to show it: a phone video shot upright is stored landscape with 90 here.
    rotation: int
    fps: float | None
    pix_fmt: str | None
    sample_rate: int | None
    channels: int | None
    duration: float | None
    bit_rate: int | None
    sar: tuple[int, int] | None  # sample (pixel) aspect ratio; None if unknown
    attached_pic: bool  # cover art in an audio file: a picture, not a video
    # Colour as ffprobe names it ('smpte2084', 'bt2020', 'bt2020nc'); None when
    # untagged. Defaults, so that a probe stored by an older version reads back.
    color_transfer: str | None = None
    color_primaries: str | None = None
    color_space: str | None = None
    dovi_profile: int | None = None  # Dolby Vision profile, from its configuration record
    master_display: str | None = None  # ST 2086 mastering display, x265 syntax
    max_cll: str | None = None  # "MaxCLL,MaxFALL"
    # The ISO 639-2 language tag ("eng"), "und" when untagged, and the
    # dispositions stream selection reads: the track players pick by default,
    # and a commentary track.
    language: str = "und"
    default: bool = False
    comment: bool = False

    @property
    def display_width(self) -> int | None:
        """Width a viewer sees, after the pixel aspect ratio and rotation."""
        dims = self._display_dims()
        return dims[0] if dims else None

    @property
    def display_height(self) -> int | None:
        """Height a viewer sees, after the pixel aspect ratio and rotation."""
        dims = self._display_dims()
        return dims[1] if dims else None

    def _display_dims(self) -> tuple[int, int] | None:
        if self.width is None or self.height is None:
            return None
        width, height = self.width, self.height
        if self.sar is not None:
            # Non-square pixels stretch the picture horizontally, as players do.
            width = round(width * self.sar[0] / self.sar[1])
        if self.rotation in (90, 270):
            width, height = height, width
        return width, height


@dataclass(frozen=True)
class MediaInfo:
    """A probed media file: its container and streams."""

    path: Path
    format_name: str  # as ffprobe names it, e.g. 'mov,mp4,m4a,3gp,3g2,mj2'
    duration: float | None  # seconds
    size: int  # bytes
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        """The first real video stream (cover art does not count)."""
        return next((s for s in self.streams if s.kind == "video" and not s.attached_pic), None)

    @property
    def audio(self) -> StreamInfo | None:
        """The first audio stream."""
        return next((s for s in self.streams if s.kind == "audio"), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary, as stored with jobs and printed by the CLI."""
        return {
            "path": str(self.path),
            "format_name": self.format_name,
            "duration": self.duration,
            "size": self.size,
            "bit_rate": self.bit_rate,
            "streams": [
                {
                    **asdict(stream),
                    "sar": list(stream.sar) if stream.sar else None,
                    "display_width": stream.display_width,
                    "display_height": stream.display_height,
                }
                for stream in self.streams
            ],
        }

    def to_json(self) -> str:
        """The probe as stored with a job, so the worker need not run ffprobe again."""
        fields = {k: v for k, v in asdict(self).items() if k != "path"}
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, path: Path) -> MediaInfo | None:
        """A probe stored by :meth:`to_json`, for the file now at ``path``;
        None when it cannot be read back (probe the file again then).

        Keys this version does not know are ignored: a newer mediaforge may
        store more, and the job must still run on an older worker.
        """
        try:
            data = json.loads(text)
            if any("language" not in s for s in data["streams"]):
                return None  # stored before languages were probed: stream choice needs them
            streams = tuple(
                StreamInfo(
                    **{**_known(StreamInfo, s), "sar": tuple(s["sar"]) if s.get("sar") else None}
                )
                for s in data["streams"]
            )
            return cls(path=path, streams=streams, **_known(cls, data, skip={"path", "streams"}))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # written by another version or damaged: not worth a failed job


def _known(
    kind: type, data: dict[str, Any], skip: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``kind``."""
    names = {f.name for f in dataclass_fields(kind)} - set(skip)
    return {k: v for k, v in data.items() if k in names}


def check_readable(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` is a non-empty regular file we can read."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(
            f"input not found: {path}. Check the path and, for a network share, that it is mounted"
        ) from None
    except PermissionError:
        raise _not_readable(path) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"input is a folder, not a file: {path}. Give the media files inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"input is not a regular file: {path}. Give a media file, not a device")
    if info.st_size == 0:
        raise InputError(
            f"input is empty (0 bytes): {path}. If it is still being copied, try again when done"
        )
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise _not_readable(path) from None


def _not_readable(path: Path) -> InputError:
    return InputError(
        f"input is not readable: {path}. Give the user running mediaforge read permission"
    )


def probe(path: Path, *, ffprobe: str = "ffprobe", timeout: float = 30.0) -> MediaInfo:
    """Read ``path`` with ffprobe.

    Raises :class:`InputError` (see :func:`check_readable`), :class:`ProbeError`
    if ffprobe cannot read it as media, :class:`FFmpegError` if ffprobe takes
    longer than ``timeout`` seconds (a slow or hung share: worth a retry), and
    :class:`EnvironmentProblem` if ffprobe cannot be started.
    """
    return Probing(path, ffprobe=ffprobe, timeout=timeout).result()


# How long a probe whose timeout has passed still gets to finish when its
# result is asked for late (see Probing.result).
FINISHING_GRACE = 0.5


class Probing:
    """An ffprobe run started now and read later, so that other work (a
    command's imports, opening the job database) goes on while it runs.

    Starting raises what :func:`check_readable` raises; every other error of
    :func:`probe` comes from :meth:`result`, and ``timeout`` counts from the
    start. A run that is not wanted after all is stopped by :meth:`cancel`.
    """

    def __init__(self, path: Path, *, ffprobe: str = "ffprobe", timeout: float = 30.0) -> None:
        check_readable(path)
        self.path, self.ffprobe, self.timeout = path, ffprobe, timeout
        self._deadline = time.monotonic() + timeout
        # "-pattern_type none": the image2 demuxer would read "%d" in a picture's
        # name as a numbered sequence even behind "file:" (other demuxers ignore it).
        command = [ffprobe, "-v", "error", "-pattern_type", "none", "-show_format"]
        command += ["-show_streams", "-of", "json", media_path(path)]
        self._proc: subprocess.Popen[bytes] | None = None
        with contextlib.suppress(FileNotFoundError, PermissionError):  # result() says so
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )

    def result(self) -> MediaInfo:
        """What ffprobe found; waits for it (at most until the timeout). A
        probe that ended before this is called is read whatever the time."""
        if self._proc is None:
            raise EnvironmentProblem(
                f"ffprobe not found: '{self.ffprobe}'. Install it (Debian/Ubuntu: apt install"
                " ffmpeg) or set 'ffprobe:' in the config file"
            )
        # A moment's grace: ffprobe may be exiting just as a late caller looks.
        left = max(self._deadline - time.monotonic(), FINISHING_GRACE)
        try:
            out, err = self._proc.communicate(
                timeout=None if self._proc.poll() is not None else left
            )
        except subprocess.TimeoutExpired:
            self.cancel()
            raise FFmpegError(
                f"ffprobe took longer than {self.timeout:g} s to read {self.path}; the disk or"
                " network share may be slow or hung"
            ) from None
        except BaseException:  # Ctrl-C: ffprobe is in its own session and would run on
            self.cancel()
            raise
        return _media_info(self.path, self._proc.returncode, out, err, self.ffprobe, self.timeout)

    def cancel(self) -> None:
        """Stop ffprobe (and anything it started) if it still runs, and reap it."""
        if self._proc is not None:
            kill_group(self._proc)
            self._proc.communicate()  # closes the pipes


def _media_info(
    path: Path, returncode: int, stdout: bytes, raw_stderr: bytes, ffprobe: str, timeout: float
) -> MediaInfo:
    stderr = raw_stderr.decode("utf-8", errors="replace")
    if returncode != 0:
        raise ProbeError(_unreadable(path, stderr, f"ffprobe exited with code {returncode}"))
    try:
        data = json.loads(stdout)
    except ValueError:
        raise ProbeError(_unreadable(path, stderr, "ffprobe wrote no valid JSON")) from None
    streams = tuple(_stream_info(raw) for raw in data.get("streams", []))
    if not streams:
        raise ProbeError(_unreadable(path, stderr, "no streams found"))

    fmt: dict[str, Any] = data.get("format", {})
    if fmt.get("format_name") == "tty":
        # ffmpeg's tty demuxer takes text files (.txt, .nfo, .asc, ...) as
        # "ANSI art" video, so a text file would otherwise probe as a video.
        raise ProbeError(_unreadable(path, "", "a text file, not media"))
    streams = tuple(_with_frame_hdr(s, path, ffprobe, timeout) for s in streams)
    durations = [s.duration for s in streams if s.duration is not None]
    return MediaInfo(
        path=path,
        format_name=str(fmt.get("format_name", "unknown")),
        duration=_float(fmt.get("duration")) or max(durations, default=None),
        size=_int(fmt.get("size")) or path.stat().st_size,
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )


def _unreadable(path: Path, stderr: str, fallback: str) -> str:
    """The ProbeError message: the path and ffprobe's first stderr line."""
    lines = [clean_line(line) for line in stderr.splitlines()]
    detail = next((line for line in lines if line), fallback)
    # ffprobe starts its own message with the URL we gave it; we name the path already.
    detail = detail.removeprefix(os.path.abspath(path) + ": ")
    if len(detail) > REASON_MAX_CHARS:
        detail = detail[: REASON_MAX_CHARS - 1] + "…"
    return f"not a media file ffprobe can read: {path} ({detail})"


def _with_frame_hdr(stream: StreamInfo, path: Path, ffprobe: str, timeout: float) -> StreamInfo:
    """An HDR video stream with the mastering metadata its first frame carries,
    when its container did not show any (HEVC keeps it in SEI messages)."""
    if stream.kind != "video" or stream.color_transfer not in hdr_metadata.HDR_TRANSFERS:
        return stream
    if stream.master_display and stream.max_cll:
        return stream
    found = hdr_metadata.first_frame(media_path(path), stream.index, ffprobe, timeout)
    mine = hdr_metadata.HdrMetadata(stream.dovi_profile, stream.master_display, stream.max_cll)
    merged = mine.merged(found)
    return replace(
        stream,
        dovi_profile=merged.dovi_profile,
        master_display=merged.master_display,
        max_cll=merged.max_cll,
    )


def _tag(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return str(value) if value and value not in ("unknown", "reserved") else None


def _stream_info(raw: dict[str, Any]) -> StreamInfo:
    kind = str(raw.get("codec_type") or "data")
    disposition = raw.get("disposition", {})
    attached_pic = bool(disposition.get("attached_pic"))
    hdr = hdr_metadata.from_side_data(raw.get("side_data_list", []))
    return StreamInfo(
        index=int(raw.get("index", 0)),
        kind=kind,
        codec=str(raw.get("codec_name") or "unknown"),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        rotation=_rotation(raw),
        fps=None if kind != "video" or attached_pic else _fps(raw),
        pix_fmt=raw.get("pix_fmt"),
        sample_rate=_int(raw.get("sample_rate")),
        channels=_int(raw.get("channels")),
        duration=_stream_duration(raw),
        bit_rate=_int(raw.get("bit_rate")),
        sar=_sar(raw.get("sample_aspect_ratio")),
        attached_pic=attached_pic,
        color_transfer=_tag(raw, "color_transfer"),
        color_primaries=_tag(raw, "color_primaries"),
        color_space=_tag(raw, "color_space"),
        dovi_profile=hdr.dovi_profile,
        master_display=hdr.master_display,
        max_cll=hdr.max_cll,
        language=_language(raw),
        default=bool(disposition.get("default")),
        comment=bool(disposition.get("comment")),
    )


def _language(raw: dict[str, Any]) -> str:
    """The stream's language tag, lower case; "und" (undetermined) when untagged."""
    tags = {str(k).lower(): v for k, v in raw.get("tags", {}).items()}
    language = str(tags.get("language") or "").strip().lower()
    return language or "und"


def _rotation(raw: dict[str, Any]) -> int:
    """Clockwise display rotation, snapped to a quarter turn."""
    for side_data in raw.get("side_data_list", []):
        if side_data.get("side_data_type") == "Display Matrix" and "rotation" in side_data:
            # ffprobe reports the matrix angle counterclockwise: an upright
            # phone video shows -90, which players turn 90 degrees clockwise.
            return _quarter_turns(-float(side_data["rotation"]))
    # ffprobe before 5.0 showed the mov/mp4 'rotate' tag, already clockwise.
    tag = _float(raw.get("tags", {}).get("rotate"))
    return _quarter_turns(tag) if tag is not None else 0


def _quarter_turns(degrees: float) -> int:
    return round(degrees / 90) % 4 * 90


def _fps(raw: dict[str, Any]) -> float | None:
    # avg_frame_rate is what was measured; r_frame_rate is ffprobe's guess at
    # the base rate and is e.g. 90000/1 for odd streams.
    return _ratio(raw.get("avg_frame_rate")) or _ratio(raw.get("r_frame_rate"))


def _ratio(value: Any) -> float | None:
    """'30000/1001' -> 29.97; '0/0' or missing -> None."""
    num, _, den = str(value).partition("/")
    try:
        result = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return result if result > 0 and math.isfinite(result) else None


def _sar(value: Any) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+):(\d+)", str(value))
    if match is None:
        return None
    num, den = int(match[1]), int(match[2])
    return (num, den) if num > 0 and den > 0 else None  # '0:1' means unknown


def _stream_duration(raw: dict[str, Any]) -> float | None:
    duration = _float(raw.get("duration"))
    if duration is not None:
        return duration
    # Matroska keeps stream durations in a DURATION tag, as HH:MM:SS.nnnnnnnnn.
    return parse_clock(str(raw.get("tags", {}).get("DURATION", "")))


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
