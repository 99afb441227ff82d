"""Choosing audio and subtitle tracks (media/streams.py) from probe facts and
a preset's ``streams:`` policy, and verification of what an output holds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mediaforge.errors import VerificationError
from mediaforge.media.planning import PlannedOutput
from mediaforge.media.probe import MediaInfo, StreamInfo, probe
from mediaforge.media.streams import choose_streams
from mediaforge.media.verify import verify_output
from mediaforge.presets.model import AudioSpec, OutputKind, OutputSpec, StreamPolicy, VideoSpec
from tests.tracks import Audio, Subtitle, make_tracked_media


def stream(
    index: int, kind: str, language: str = "und", codec: str = "aac", *,
    default: bool = False, comment: bool = False,
) -> StreamInfo:  # fmt: skip
    return StreamInfo(
        index=index, kind=kind, codec=codec, width=None, height=None, rotation=0, fps=None,
        pix_fmt=None, sample_rate=None, channels=None, duration=None, bit_rate=None, sar=None,
        attached_pic=False, language=language, default=default, comment=comment,
    )  # fmt: skip


# A film: French first, English the default, an English commentary, an
# untagged track, English text and French picture subtitles.
FILM = MediaInfo(
    path=Path("film.mkv"), format_name="matroska,webm", duration=1.0, size=1, bit_rate=None,
    streams=(
        replace(stream(0, "video", codec="h264")),
        stream(1, "audio", "fre"),
        stream(2, "audio", "eng", default=True),
        stream(3, "audio", "eng", comment=True),
        stream(4, "audio", "und"),
        stream(5, "subtitle", "eng", "subrip"),
        stream(6, "subtitle", "fra", "hdmv_pgs_subtitle"),
    ),
)  # fmt: skip


def output(
    container: str = "mp4", kind: OutputKind = OutputKind.VIDEO, **policy: object
) -> OutputSpec:
    return OutputSpec(
        kind=kind, container=container, video=VideoSpec(), audio=AudioSpec(),
        streams=StreamPolicy(**policy),  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "audio", "default"),
    [
        pytest.param({}, [2], 0, id="default-keeps-the-main-track-only"),
        pytest.param({"audio_languages": ["eng", "fre"]}, [2, 1, 4], 0, id="languages-in-order"),
        pytest.param({"audio_languages": ["fra"]}, [1, 4], 0, id="fra-is-fre"),
        pytest.param(
            {"audio_languages": ["eng"], "undetermined": "drop"}, [2], 0, id="untagged-dropped"
        ),
        pytest.param(
            {"audio_languages": ["eng"], "commentary": "keep"}, [2, 3, 4], 0, id="commentary-kept"
        ),
        pytest.param({"audio_languages": ["*"]}, [1, 2, 4], 1, id="star-keeps-the-input-default"),
        pytest.param(
            {"audio_languages": ["fre", "eng"]}, [1, 2, 4], 0, id="first-language-is-default"
        ),
        pytest.param(
            {"audio_languages": ["fre", "*"], "default_audio": "eng"}, [1, 2, 4], 1,
            id="default-by-language",
        ),
        pytest.param(
            {"audio_languages": ["jpn"], "undetermined": "drop"}, [2], 0,
            id="one-track-always-survives",
        ),
    ],
)  # fmt: skip
def test_audio_tracks_follow_the_policy(
    policy: dict[str, object], audio: list[int], default: int
) -> None:
    choice = choose_streams(output(**policy), FILM)

    assert [s.index for s in choice.audio] == audio
    assert choice.default_audio == default


def test_a_language_with_only_commentary_keeps_the_main_track_and_says_why() -> None:
    audio = (stream(1, "audio", "fre", default=True), stream(2, "audio", "eng", comment=True))
    info = replace(FILM, streams=audio)

    choice = choose_streams(output(audio_languages=["eng"], undetermined="drop"), info)

    assert [s.index for s in choice.audio] == [1]
    assert "only commentary in eng: kept the main track" in choice.summary


def test_the_main_track_avoids_commentary_even_when_it_is_the_default() -> None:
    info = replace(
        FILM, streams=(stream(1, "audio", "eng", default=True, comment=True), stream(2, "audio"))
    )

    assert [s.index for s in choose_streams(output(), info).audio] == [2]


@pytest.mark.parametrize(
    ("container", "kept", "dropped_says"),
    [
        pytest.param("mp4", [(5, "mov_text", "mov_text")], "mp4 cannot hold it", id="mp4"),
        pytest.param("webm", [(5, "webvtt", "webvtt")], "webm cannot hold it", id="webm"),
        pytest.param(
            "matroska", [(5, "copy", "subrip"), (6, "copy", "hdmv_pgs_subtitle")], None, id="mkv"
        ),
    ],
)
def test_subtitles_are_converted_or_dropped_for_the_container(
    container: str, kept: list[tuple[int, str, str]], dropped_says: str | None
) -> None:
    choice = choose_streams(output(container, subtitles="keep"), FILM)

    assert [(c.index, c.encoder, c.codec) for c in choice.subtitles] == kept
    if dropped_says is not None:
        assert (
            f"subtitle fra #6 dropped: hdmv_pgs_subtitle is a picture format and {dropped_says}"
            in choice.summary
        )


def test_subtitles_are_dropped_by_default_and_the_summary_says_so() -> None:
    choice = choose_streams(output(), FILM)

    assert choice.subtitles == ()
    assert choice.summary == (
        "audio eng #2; dropped audio fre #1, eng #3 commentary, und #4; "
        "2 subtitle track(s) dropped (subtitles: drop)"
    )


def test_audio_and_hls_outputs_keep_one_audio_track() -> None:
    for kind in (OutputKind.AUDIO, OutputKind.HLS):
        choice = choose_streams(
            output("hls", kind, audio_languages=["fre", "eng"], subtitles="keep"), FILM
        )
        assert [s.index for s in choice.audio] == [1]
        assert f"an {kind.value} output keeps one audio track" in choice.summary


def test_hls_keeps_one_text_subtitle_track_as_webvtt_and_audio_outputs_none() -> None:
    info = replace(FILM, streams=(*FILM.streams, stream(7, "subtitle", "ger", "ass")))
    hls = choose_streams(output("hls", OutputKind.HLS, subtitles="keep"), info)
    audio = choose_streams(output("ipod", OutputKind.AUDIO, subtitles="keep"), info)

    assert [(c.index, c.encoder, c.codec) for c in hls.subtitles] == [(5, "webvtt", "webvtt")]
    assert "an hls output keeps one subtitle track" in hls.summary
    assert audio.subtitles == ()
    assert "3 subtitle track(s) dropped: an audio output has none" in audio.summary


def test_subtitle_languages_pick_and_order_subtitles() -> None:
    choice = choose_streams(output("matroska", subtitles="keep", subtitle_languages=["fre"]), FILM)

    assert [c.index for c in choice.subtitles] == [6]
    assert "1 subtitle track(s) in other languages dropped" in choice.summary


def test_verification_fails_when_an_output_lacks_a_promised_track(tmp_path: Path) -> None:
    # The "output" really has one English audio track; the plan promised two.
    made = make_tracked_media(tmp_path / "one.mkv", (Audio("eng"),), duration=1.0)
    found = probe(made)
    spec = output("matroska", audio_languages=["eng", "fre"])
    promised = choose_streams(spec, FILM)
    planned = PlannedOutput(
        spec=spec, final=tmp_path / "final.mkv", temp=made, size=None, video_codec="h264",
        audio_codec="aac", streams=promised,
    )  # fmt: skip

    with pytest.raises(VerificationError, match=r"has 1 audio track\(s\), expected 3"):
        verify_output(planned, found, probe, tolerance=0.5, tolerance_ratio=0.1)


def test_verification_fails_when_a_track_has_another_language(tmp_path: Path) -> None:
    made = make_tracked_media(tmp_path / "two.mkv", (Audio("eng"), Audio("ger")), duration=1.0)
    found = probe(made)
    spec = output("matroska", audio_languages=["eng", "fre"], undetermined="drop")
    planned = PlannedOutput(
        spec=spec, final=tmp_path / "final.mkv", temp=made, size=None, video_codec="h264",
        audio_codec="aac", streams=choose_streams(spec, FILM),
    )  # fmt: skip

    with pytest.raises(VerificationError, match="audio track 2 is in 'ger', expected 'fre'"):
        verify_output(planned, found, probe, tolerance=0.5, tolerance_ratio=0.1)


def test_probe_reports_languages_dispositions_and_subtitle_codecs(tmp_path: Path) -> None:
    made = make_tracked_media(
        tmp_path / "film.mkv",
        (Audio("fre"), Audio("eng", default=True), Audio("eng", comment=True), Audio(None)),
        (Subtitle("eng"), Subtitle("fre", "hdmv_pgs_subtitle"), Subtitle(None, "dvd_subtitle")),
        duration=1.0,
    )

    info = probe(made)

    found = [(s.kind, s.codec, s.language, s.default, s.comment) for s in info.streams[1:]]
    assert found == [
        ("audio", "aac", "fre", False, False),
        ("audio", "aac", "eng", True, False),
        ("audio", "aac", "eng", False, True),
        ("audio", "aac", "und", False, False),
        ("subtitle", "subrip", "eng", False, False),
        ("subtitle", "hdmv_pgs_subtitle", "fre", False, False),
        ("subtitle", "dvd_subtitle", "und", False, False),
    ]
    stored = MediaInfo.from_json(info.to_json(), made)
    assert stored == info


def test_a_probe_stored_without_languages_is_not_reused(tmp_path: Path) -> None:
    made = make_tracked_media(tmp_path / "film.mkv", (Audio("eng"),), duration=1.0)
    text = probe(made).to_json().replace('"language":"eng",', "")

    assert MediaInfo.from_json(text, made) is None


def test_an_input_complies_only_when_every_kept_audio_track_does(tmp_path: Path) -> None:
    from mediaforge.media.planning import Action, plan_job
    from mediaforge.presets.loading import get_preset

    video = replace(stream(0, "video", codec="h264"), width=320, height=240, pix_fmt="yuv420p")
    first_aac = stream(1, "audio", "fre", "aac")
    main_mp3 = stream(2, "audio", "eng", "mp3", default=True)
    preset = get_preset("h264-720p", None)

    def action(*audio: StreamInfo) -> Action:
        info = replace(FILM, format_name="mov,mp4,m4a,3gp,3g2,mj2", streams=(video, *audio))
        return plan_job(
            preset, info, input_path=tmp_path / "in.mp4", output_dir=tmp_path, job_id=1,
            attempt=1, collision="rename",
        ).action  # fmt: skip

    # The kept (main) track is MP3: copying it would not give the AAC the preset promises.
    assert action(first_aac, main_mp3) is Action.TRANSCODE
    assert action(replace(first_aac, default=True), main_mp3) is Action.REMUX


def test_mov_text_becomes_subrip_in_matroska_and_unknown_subtitles_are_dropped() -> None:
    info = replace(
        FILM,
        streams=(stream(1, "subtitle", "eng", "mov_text"), stream(2, "subtitle", "eng", "eia_608")),
    )

    choice = choose_streams(output("matroska", subtitles="keep"), info)

    assert [(c.index, c.encoder, c.codec) for c in choice.subtitles] == [(1, "srt", "subrip")]
    assert (
        "subtitle eng #2 dropped: eia_608 is neither a text nor a known picture format"
        in choice.summary
    )
