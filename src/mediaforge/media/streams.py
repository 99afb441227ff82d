"""Choosing the audio and subtitle tracks of an output.

A pure function of what ffprobe saw and the output's ``streams:`` policy:
which input tracks go into the output and in what order, which audio track
is the default, what each subtitle track is converted to for the container,
and one line that tells people what was kept and dropped (recorded on the
job). The command builder maps what this chose; the verifier checks the
output holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaforge.media.probe import MediaInfo, StreamInfo
from mediaforge.presets.model import OutputKind, OutputSpec, StreamPolicy

# Subtitles stored as text convert to any text format; pictures only copy.
TEXT_SUBTITLES = frozenset({"subrip", "ass", "ssa", "mov_text", "webvtt", "text"})
IMAGE_SUBTITLES = frozenset({"hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "xsub"})

# container -> the encoder text subtitles are converted with ("copy": as they
# are). Containers not listed carry no subtitles.
_TEXT_TARGET = {
    "mp4": "mov_text", "mov": "mov_text", "matroska": "copy", "webm": "webvtt", "hls": "webvtt",
}  # fmt: skip
# Matroska holds every image format; MP4 players show none, WebM has none.
_IMAGE_HOLDERS = frozenset({"matroska"})
# Containers that store a language per track (verification compares them).
LANGUAGE_CONTAINERS = frozenset({"mp4", "mov", "ipod", "matroska", "webm"})
# What ffprobe reports for what an encoder writes.
_ENCODED_AS = {"mov_text": "mov_text", "webvtt": "webvtt", "srt": "subrip"}

# ISO 639-2 has two codes for some languages (B: fre, T: fra) and files use
# both, or the two-letter 639-1 code; all compare as one.
_SAME_LANGUAGE = {
    "fra": "fre", "fr": "fre", "deu": "ger", "de": "ger", "zho": "chi", "zh": "chi",
    "nld": "dut", "nl": "dut", "ces": "cze", "cs": "cze", "slk": "slo", "sk": "slo",
    "ron": "rum", "ro": "rum", "fas": "per", "fa": "per", "ell": "gre", "el": "gre",
    "isl": "ice", "is": "ice", "mkd": "mac", "mk": "mac", "msa": "may", "ms": "may",
    "sqi": "alb", "sq": "alb", "hye": "arm", "hy": "arm", "kat": "geo", "ka": "geo",
    "eus": "baq", "eu": "baq", "cym": "wel", "cy": "wel", "en": "eng", "es": "spa",
    "it": "ita", "ja": "jpn", "pt": "por", "ru": "rus", "ko": "kor", "sv": "swe",
    "da": "dan", "no": "nor", "fi": "fin", "pl": "pol", "tr": "tur", "ar": "ara",
    "he": "heb", "hi": "hin", "hu": "hun", "uk": "ukr", "th": "tha", "vi": "vie",
}  # fmt: skip


def same_language(code: str) -> str:
    """The one code a language compares as: 'fra', 'fre' and 'fr' -> 'fre'."""
    code = code.lower()
    return _SAME_LANGUAGE.get(code, code)


@dataclass(frozen=True)
class SubtitleChoice:
    """One subtitle track of the input kept in an output."""

    index: int  # the input stream
    language: str
    encoder: str  # what -c:s gets: "copy" or a subtitle encoder
    codec: str  # what ffprobe must find in the output


@dataclass(frozen=True)
class StreamChoice:
    """The audio and subtitle tracks of one output, in output order."""

    audio: tuple[StreamInfo, ...]
    default_audio: int  # position in ``audio`` of the track players start with
    subtitles: tuple[SubtitleChoice, ...]
    summary: str  # one line: kept, converted and dropped tracks


def _an(kind: OutputKind) -> str:
    """'an audio', 'an hls', 'a video'."""
    return f"{'a' if kind is OutputKind.VIDEO else 'an'} {kind.value}"


def _track(stream: StreamInfo) -> str:
    """'eng #2' (language and input stream index), 'eng #3 commentary' for a commentary."""
    return f"{stream.language} #{stream.index}" + (" commentary" if stream.comment else "")


def _by_language(
    streams: list[StreamInfo], languages: list[str], undetermined: str
) -> list[StreamInfo]:
    """``streams`` in the order ``languages`` names them; "*" takes every
    other track in input order, and untagged tracks come last unless dropped."""
    named = {same_language(code) for code in languages if code != "*"}
    chosen: list[StreamInfo] = []
    for code in languages:
        for s in streams:
            lang = same_language(s.language)
            if s in chosen:
                continue
            if code == "*":
                take = lang not in named and (lang != "und" or undetermined == "keep")
            else:
                take = lang == same_language(code)
            if take:
                chosen.append(s)
    if undetermined == "keep":
        chosen += [s for s in streams if s.language == "und" and s not in chosen]
    return chosen


def _main_track(streams: list[StreamInfo]) -> StreamInfo:
    """The track a player would start with: the default one that is not
    commentary, else the first that is not, else the first."""
    plain = [s for s in streams if not s.comment] or streams
    return next((s for s in plain if s.default), plain[0])


def _choose_audio(
    policy: StreamPolicy, audio: list[StreamInfo], spec: OutputSpec, said: list[str]
) -> list[StreamInfo]:
    if spec.kind is OutputKind.IMAGE or spec.audio is None or not audio:
        return []
    candidates = [s for s in audio if policy.commentary == "keep" or not s.comment]
    if not policy.audio_languages:
        chosen = [_main_track(audio)]
    else:
        chosen = _by_language(candidates, policy.audio_languages, policy.undetermined)
        if not chosen:
            named = ", ".join(policy.audio_languages)
            only_commentary = _by_language(audio, policy.audio_languages, policy.undetermined)
            what = "only commentary" if only_commentary else "no audio"
            chosen = [_main_track(audio)]
            said.append(f"{what} in {named}: kept the main track")
    if len(chosen) > 1 and spec.kind in (OutputKind.AUDIO, OutputKind.HLS):
        # One track per file (or per rendition): an HLS ladder with alternative
        # audio needs audio groups, which mediaforge does not write yet.
        said.append(f"{_an(spec.kind)} output keeps one audio track")
        chosen = chosen[:1]
    return chosen


def _choose_subtitles(
    policy: StreamPolicy, subtitles: list[StreamInfo], spec: OutputSpec, said: list[str]
) -> list[SubtitleChoice]:
    if not subtitles:
        return []
    if policy.subtitles == "drop":
        said.append(f"{len(subtitles)} subtitle track(s) dropped (subtitles: drop)")
        return []
    if spec.kind not in (OutputKind.VIDEO, OutputKind.HLS):
        said.append(f"{len(subtitles)} subtitle track(s) dropped: {_an(spec.kind)} output has none")
        return []
    wanted = subtitles
    if policy.subtitle_languages:
        wanted = _by_language(subtitles, policy.subtitle_languages, policy.undetermined)
        left_out = len(subtitles) - len(wanted)
        if left_out:
            said.append(f"{left_out} subtitle track(s) in other languages dropped")
    text_target = _TEXT_TARGET.get(spec.container)
    chosen: list[SubtitleChoice] = []
    for s in wanted:
        if s.codec in TEXT_SUBTITLES and text_target is not None:
            encoder = text_target
            if encoder == "copy" and s.codec == "mov_text":
                encoder = "srt"  # Matroska has no mov_text
            codec = s.codec if encoder == "copy" else _ENCODED_AS[encoder]
            chosen.append(SubtitleChoice(s.index, s.language, encoder, codec))
        elif s.codec in IMAGE_SUBTITLES and spec.container in _IMAGE_HOLDERS:
            chosen.append(SubtitleChoice(s.index, s.language, "copy", s.codec))
        elif s.codec in IMAGE_SUBTITLES:
            said.append(
                f"subtitle {_track(s)} dropped: {s.codec} is a picture format "
                f"and {spec.container} cannot hold it"
            )
        elif s.codec in TEXT_SUBTITLES:
            said.append(f"subtitle {_track(s)} dropped: {spec.container} holds no subtitles")
        else:
            said.append(
                f"subtitle {_track(s)} dropped: {s.codec} is neither a text nor a known "
                "picture format"
            )
    if len(chosen) > 1 and spec.kind is OutputKind.HLS:
        # Each rendition carries its own copy of one WebVTT track; more would
        # need a subtitle group per language, which mediaforge does not write yet.
        said.append("an hls output keeps one subtitle track")
        chosen = chosen[:1]
    return chosen


def _default_position(policy: StreamPolicy, chosen: list[StreamInfo], said: list[str]) -> int:
    """Which kept track players start with: the first of ``default_audio``'s
    language, else of the first language named; after "*" (every track, in
    input order), the input's own default track."""
    want = policy.default_audio or next(iter(policy.audio_languages), "*")
    if want == "*":
        return next((i for i, s in enumerate(chosen) if s.default), 0)
    found = [i for i, s in enumerate(chosen) if same_language(s.language) == same_language(want)]
    if not found and policy.default_audio is not None and chosen:
        said.append(f"no {policy.default_audio} audio kept: the first track is the default")
    return found[0] if found else 0


def choose_streams(spec: OutputSpec, info: MediaInfo) -> StreamChoice:
    """The audio and subtitle tracks ``spec`` keeps of the input ``info``.

    At least one audio track survives when the output has audio and the input
    does.
    """
    policy = spec.streams
    audio = [s for s in info.streams if s.kind == "audio"]
    subtitles = [s for s in info.streams if s.kind == "subtitle"]
    said: list[str] = []
    chosen_audio = _choose_audio(policy, audio, spec, said)
    dropped = [s for s in audio if s not in chosen_audio]
    default = _default_position(policy, chosen_audio, said)
    chosen_subs = _choose_subtitles(policy, subtitles, spec, said)

    parts = []
    if chosen_audio:
        tracks = [
            _track(s) + (" (default)" if i == default and len(chosen_audio) > 1 else "")
            for i, s in enumerate(chosen_audio)
        ]
        parts.append("audio " + ", ".join(tracks))
    if dropped and spec.audio is not None and spec.kind is not OutputKind.IMAGE:
        parts.append("dropped audio " + ", ".join(_track(s) for s in dropped))
    if chosen_subs:
        parts.append(
            "subtitles "
            + ", ".join(
                f"{c.language} #{c.index}" + ("" if c.encoder == "copy" else f" as {c.codec}")
                for c in chosen_subs
            )
        )
    summary = "; ".join(parts + said) or "no audio or subtitle tracks"
    return StreamChoice(tuple(chosen_audio), default, tuple(chosen_subs), summary)
