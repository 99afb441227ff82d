"""Checking outputs: exit code 0 from ffmpeg is not success.

An output counts as good when ffprobe agrees with what the plan promised:
the streams are there, with the right codecs and dimensions, and the
duration matches the input's within tolerance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mediaforge.errors import MediaforgeError, VerificationError
from mediaforge.jobs.model import Output
from mediaforge.media.colour import ColourDecision, check_output
from mediaforge.media.planning import PlannedOutput, Size
from mediaforge.media.probe import MediaInfo
from mediaforge.media.streams import LANGUAGE_CONTAINERS, StreamChoice, same_language
from mediaforge.presets.model import OutputKind

Prober = Callable[[Path], MediaInfo]


def _duration_ok(actual: float | None, expected: float | None, tol: float, ratio: float) -> bool:
    if expected is None or expected <= 0:
        return True
    if actual is None:
        return False
    return abs(actual - expected) <= max(tol, ratio * expected)


def _check_media(
    label: str,
    found: MediaInfo,
    *,
    size: Size | None,
    video_codec: str | None,
    audio_codec: str | None,
    duration: float | None,
    tol: float,
    ratio: float,
    colour: ColourDecision | None = None,
    streams: StreamChoice | None = None,
    container: str = "",
) -> list[str]:
    problems = []
    if streams is not None:
        problems = _check_tracks(label, found, streams, container in LANGUAGE_CONTAINERS)
    if video_codec is not None:
        v = found.video
        if v is None:
            problems.append(f"{label} has no video stream")
        else:
            if v.codec != video_codec:
                problems.append(f"{label} video is {v.codec}, expected {video_codec}")
            if size is not None and (v.display_width, v.display_height) != (
                size.width,
                size.height,
            ):
                problems.append(
                    f"{label} is {v.display_width}x{v.display_height}, "
                    f"expected {size.width}x{size.height}"
                )
            if colour is not None:
                problems += [f"{label} {problem}" for problem in check_output(colour, v)]
    if audio_codec is not None:
        a = found.audio
        if a is None:
            problems.append(f"{label} has no audio stream")
        elif a.codec != audio_codec:
            problems.append(f"{label} audio is {a.codec}, expected {audio_codec}")
    if not _duration_ok(found.duration, duration, tol, ratio):
        problems.append(f"{label} lasts {found.duration or 0:.2f}s, the input {duration:.2f}s")
    return problems


def _check_tracks(
    label: str, found: MediaInfo, promised: StreamChoice, languages: bool
) -> list[str]:
    """The output holds the audio and subtitle tracks chosen for it, in order,
    and, in a container that stores them, their languages (a two-letter or
    missing tag is not compared: MP4 stores only three-letter codes)."""
    problems = []
    for kind, expected in (
        ("audio", [s.language for s in promised.audio]),
        ("subtitle", [c.language for c in promised.subtitles]),
    ):
        tracks = [s for s in found.streams if s.kind == kind]
        if len(tracks) != len(expected):
            problems.append(f"{label} has {len(tracks)} {kind} track(s), expected {len(expected)}")
            continue
        for want, got in zip(expected, tracks, strict=True):
            if not languages or len(want) != 3 or want == "und":
                continue
            if same_language(got.language) != same_language(want):
                problems.append(
                    f"{label} {kind} track {got.index} is in '{got.language}', expected '{want}'"
                )
    subs = [s for s in found.streams if s.kind == "subtitle"]
    for want_sub, got in zip(promised.subtitles, subs, strict=False):
        if got.codec != want_sub.codec:
            problems.append(
                f"{label} subtitle track {got.index} is {got.codec}, expected {want_sub.codec}"
            )
    return problems


def verify_output(
    out: PlannedOutput,
    source: MediaInfo,
    prober: Prober,
    *,
    tolerance: float,
    tolerance_ratio: float,
) -> Output:
    """Probe the temporary output of ``out`` and check it against the plan.

    Returns the Output record (with the *final* path) or raises
    VerificationError naming what disagreed.
    """
    kind = out.spec.kind
    expected_duration = None if kind is OutputKind.IMAGE else source.duration
    try:
        if kind is OutputKind.HLS:
            return _verify_hls(out, source, prober, tolerance, tolerance_ratio)
        if not out.temp.is_file() or out.temp.stat().st_size == 0:
            raise VerificationError(f"ffmpeg wrote no data for {out.final.name}")
        found = prober(out.temp)
    except VerificationError:
        raise
    except MediaforgeError as exc:
        raise VerificationError(f"output {out.final.name} is not readable media: {exc}") from None
    problems = _check_media(
        out.final.name,
        found,
        size=out.size,
        video_codec=out.video_codec,
        audio_codec=out.audio_codec,
        duration=expected_duration,
        tol=tolerance,
        ratio=tolerance_ratio,
        colour=out.colour,
        streams=out.streams if kind is not OutputKind.IMAGE else None,
        container=out.spec.container,
    )
    if problems:
        raise VerificationError("output check failed: " + "; ".join(problems))
    return _record(out.final, kind, out.temp.stat().st_size, found)


def _record(final: Path, kind: OutputKind, size: int, found: MediaInfo) -> Output:
    v, a = found.video, found.audio
    return Output(
        path=str(final),
        kind=kind.value,
        size=size,
        container=found.format_name,
        video_codec=v.codec if v else None,
        audio_codec=a.codec if a else None,
        width=v.display_width if v else None,
        height=v.display_height if v else None,
        duration=round(found.duration, 3) if found.duration else None,
    )


def _check_hls_subtitles(label: str, rendition: Path, prober: Prober) -> list[str]:
    """The rendition's WebVTT playlist exists and holds a WebVTT track."""
    playlist = rendition / "index_vtt.m3u8"
    if not playlist.is_file():
        return [f"{label}/{rendition.name} has no subtitle playlist"]
    try:
        found = prober(playlist)
    except MediaforgeError as exc:
        return [f"{label}/{rendition.name} subtitles are not readable: {exc}"]
    codecs = [s.codec for s in found.streams if s.kind == "subtitle"]
    if codecs != ["webvtt"]:
        return [f"{label}/{rendition.name} subtitles are {codecs or 'missing'}, expected webvtt"]
    return []


_VARIANT = re.compile(r"^#EXT-X-STREAM-INF:.*\n(?P<uri>[^#\n].*)$", re.MULTILINE)


def _verify_hls(
    out: PlannedOutput, source: MediaInfo, prober: Prober, tol: float, ratio: float
) -> Output:
    master = out.temp / "master.m3u8"
    if not master.is_file():
        raise VerificationError(f"{out.final.name}: ffmpeg wrote no master playlist")
    uris = [m.group("uri").strip() for m in _VARIANT.finditer(master.read_text(errors="replace"))]
    expected = [f"{r.name}/index.m3u8" for r in out.renditions]
    if sorted(uris) != sorted(expected):
        raise VerificationError(
            f"{out.final.name}: master playlist lists {uris}, expected {expected}"
        )
    problems: list[str] = []
    first: MediaInfo | None = None
    # A rendition's subtitles are in a playlist of their own, beside its media.
    promised = replace(out.streams, subtitles=()) if out.streams is not None else None
    for r in out.renditions:
        found = prober(out.temp / r.name / "index.m3u8")
        first = first or found
        if out.streams is not None and out.streams.subtitles:
            problems += _check_hls_subtitles(out.final.name, out.temp / r.name, prober)
        problems += _check_media(
            f"{out.final.name}/{r.name}",
            found,
            size=r.size,
            video_codec=out.video_codec,
            audio_codec=out.audio_codec,
            duration=source.duration,
            tol=tol,
            ratio=ratio,
            colour=out.colour,
            streams=promised,
            container=out.spec.container,
        )
    if problems:
        raise VerificationError("output check failed: " + "; ".join(problems))
    assert first is not None
    size = sum(p.stat().st_size for p in out.temp.rglob("*") if p.is_file())
    record = _record(out.final, OutputKind.HLS, size, first)
    top = out.renditions[0].size
    return Output(**{**record.to_dict(), "width": top.width, "height": top.height})
