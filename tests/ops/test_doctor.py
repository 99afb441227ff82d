"""``mediaforge doctor``: is this machine ready to run jobs?"""

from __future__ import annotations

from tests.mfcli import Mediaforge


def test_doctor_passes_here_and_names_the_ffmpeg_versions(mf: Mediaforge) -> None:
    done = mf("doctor")

    assert done.code == 0, done.out + done.err
    assert "ffmpeg version" in done.out and "ffprobe version" in done.out
    assert "FAIL" not in done.out


def test_doctor_fails_naming_a_missing_ffmpeg(mf: Mediaforge) -> None:
    mf.configure("ffmpeg: /nonexistent/ffmpeg\n")

    done = mf("doctor")

    assert done.code != 0
    [failed] = [line for line in done.out.splitlines() if line.startswith("FAIL")]
    assert "/nonexistent/ffmpeg" in failed
