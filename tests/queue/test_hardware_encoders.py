"""Presets that ask for a hardware encoder, through real worker processes on
this GPU-less host: every hardware candidate fails, software runs, and the job
records which encoder ran and why."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.media.encoder_probe import CACHE_FILE, ffmpeg_identity
from tests.media.test_encoders import pytestmark  # noqa: F401  (skipped on a host with a GPU)
from tests.mfcli import Mediaforge, ffprobe, streams

GPU_PRESET = """
name: gpu
description: H.264 on whatever encoder this host has
encoder: ENCODER
encoder_strict: STRICT
outputs:
  - name: "{stem}.gpu.mp4"
    container: mp4
    video: {codec: libx264, crf: 30, pix_fmt: yuv420p, options: {preset: ultrafast}}
    audio: {codec: aac}
"""


def add_gpu_preset(mf: Mediaforge, encoder: str, strict: bool = False) -> None:
    text = GPU_PRESET.replace("ENCODER", encoder).replace("STRICT", str(strict).lower())
    mf.add_preset("gpu", text)


def video_codec(job: dict[str, object]) -> str:
    [output] = job["outputs"]  # type: ignore[misc]
    [video] = streams(ffprobe(Path(output["path"])), "video")
    return str(video["codec_name"])


def test_auto_on_a_host_without_gpu_encodes_in_software_and_tests_each_encoder_once(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    add_gpu_preset(mf, "auto")
    first, second = make_media("a.mkv", vcodec="mpeg4"), make_media("b.mkv", vcodec="mpeg4")
    cache = mf.data / CACHE_FILE

    [one] = mf.submit([first], "gpu")
    tested = mf.burst()
    written, mtime = cache.read_text(), cache.stat().st_mtime_ns
    time.sleep(0.05)
    [two] = mf.submit([second], "gpu")
    reused = mf.burst()  # a new worker process: the answers come from the file

    for job_id in (one, two):
        job = mf.status(job_id)
        assert job["status"] == "succeeded"
        assert job["attempts"] == 1
        assert video_codec(job) == "h264"
        note = job["decisions"]["encoder"]
        assert "h264_nvenc unavailable (Cannot load libcuda.so.1)" in note
        assert "h264_qsv unavailable (" in note and "h264_vaapi unavailable (" in note
        assert note.endswith("; libx264")
    assert "encoder h264_nvenc: test encode" in tested.err
    assert "test encode" not in reused.err
    assert (cache.read_text(), cache.stat().st_mtime_ns) == (written, mtime)
    stored = json.loads(written)
    assert stored["ffmpeg"] == ffmpeg_identity("ffmpeg")
    assert stored["encoders"]["h264_nvenc"]["ok"] is False
    assert "encoder   h264_nvenc unavailable" in mf.ok("status", one).out


def test_an_explicit_encoder_that_is_missing_falls_back_unless_strict(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("clip.mkv", vcodec="mpeg4")
    add_gpu_preset(mf, "vaapi")

    loose = mf("run", source, "-p", "gpu", "-o", tmp_path / "loose", "--json")
    add_gpu_preset(mf, "vaapi", strict=True)
    strict = mf("run", source, "-p", "gpu", "-o", tmp_path / "strict", "--json")

    assert loose.code == 0, loose.err
    job = loose.json()
    assert job["decisions"]["encoder"] == (
        "h264_vaapi unavailable (No VA display found for device /dev/dri/renderD128); libx264"
    )
    assert video_codec(job) == "h264"
    assert strict.code != 0
    assert "Traceback" not in strict.err
    failed = mf.jobs()[0]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["error"] == (
        "preset 'gpu' needs encoder vaapi (encoder_strict) and this host cannot give it: "
        "h264_vaapi unavailable (No VA display found for device /dev/dri/renderD128)"
    )
    assert not (tmp_path / "strict").exists() or not any((tmp_path / "strict").iterdir())


def test_a_hardware_encoder_failing_real_jobs_is_disabled_until_the_worker_restarts(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.configure(encoders={"max_failures": 2})
    add_gpu_preset(mf, "nvenc")
    # The cache says NVENC passed its test encode (as on a host whose GPU then
    # breaks on real jobs): the jobs really run h264_nvenc, and it really fails.
    mf.data.mkdir(parents=True, exist_ok=True)
    passed = {"ok": True, "reason": "test encode passed", "checked_at": time.time()}
    (mf.data / CACHE_FILE).write_text(
        json.dumps({"ffmpeg": ffmpeg_identity("ffmpeg"), "encoders": {"h264_nvenc": passed}})
    )
    inputs = [make_media(f"{n}.mkv", vcodec="mpeg4") for n in "abc"]

    ids = mf.submit(inputs, "gpu")
    mf.burst()  # one worker process runs all three, one after another
    [late] = mf.submit([make_media("d.mkv", vcodec="mpeg4")], "gpu")
    restarted = mf.burst()

    jobs = [mf.status(job_id) for job_id in ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 3
    assert [j["attempts"] for j in jobs] == [1, 1, 1]  # the GPU's failure cost no attempt
    assert [video_codec(j) for j in jobs] == ["h264"] * 3
    notes = sorted(j["decisions"]["encoder"] for j in jobs)
    assert notes[0] == "h264_nvenc disabled in this worker after 2 failed jobs; libx264"
    assert notes[1].startswith("h264_nvenc failed (") and "libcuda" in notes[1]
    assert notes[1].endswith("; disabled in this worker until restart; libx264")
    assert notes[2].endswith("; failure 1 of 2 in this worker; libx264")
    # A restarted worker tries the hardware again.
    again = mf.status(late)
    assert again["status"] == "succeeded"
    assert again["decisions"]["encoder"].endswith("; failure 1 of 2 in this worker; libx264")
    assert "h264_nvenc failed" in restarted.err


def test_presets_show_tells_the_encoder_request_and_what_this_host_would_run(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    add_gpu_preset(mf, "auto")
    source = make_media("clip.mkv", vcodec="mpeg4")

    described = mf.ok("presets", "show", "gpu").out
    command = mf.ok("presets", "show", "gpu", "--input", source).out

    assert "encoder: auto (else software)" in described
    assert "# encoder: h264_nvenc unavailable (Cannot load libcuda.so.1)" in command
    assert " -c:v libx264 " in command


def test_a_remuxed_job_records_no_encoder_decision(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    text = GPU_PRESET.replace("ENCODER", "auto").replace("STRICT", "false")
    mf.add_preset("gpu", text + "compliant: {containers: [matroska], video_codecs: [h264]}\n")
    source = make_media("clip.mkv")  # H.264 already: its streams are copied

    done = mf("run", source, "-p", "gpu", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert job["action"] == "remux"
    assert "encoder" not in job["decisions"], job["decisions"]
