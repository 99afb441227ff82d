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


def test_doctor_shows_why_each_hardware_encoder_does_not_work_here_and_keeps_the_answers(
    mf: Mediaforge,
) -> None:
    first = mf("doctor")
    cache = mf.data / "encoders.json"
    kept = (cache.read_text(), cache.stat().st_mtime_ns)
    second = mf("doctor")

    assert first.code == 0, first.out + first.err
    [line] = [ln for ln in first.out.splitlines() if "hardware encoders:" in ln]
    assert line.startswith("ok")
    assert "usable: none (encoder: auto runs in software)" in line
    assert "h264_nvenc: Cannot load libcuda.so.1" in line
    assert "hevc_vaapi: No VA display found for device /dev/dri/renderD128" in line
    assert (cache.read_text(), cache.stat().st_mtime_ns) == kept
    assert second.out == first.out


def test_doctor_fails_for_a_strict_hardware_preset_this_host_cannot_serve(
    mf: Mediaforge,
) -> None:
    mf.add_preset(
        "gpu",
        "name: gpu\nencoder: nvenc\nencoder_strict: true\noutputs:\n"
        '  - {name: "{stem}.gpu.mp4", video: {codec: libx264}}\n',
    )

    done = mf("doctor")

    assert done.code != 0
    [failed] = [line for line in done.out.splitlines() if line.startswith("FAIL")]
    assert failed == (
        "FAIL hardware encoders: preset 'gpu' needs encoder nvenc (encoder_strict) and this "
        "host cannot give it: h264_nvenc unavailable (Cannot load libcuda.so.1)"
    )
