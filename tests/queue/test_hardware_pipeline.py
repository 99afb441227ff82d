"""How a hardware encoder combines with the rest of a job: HDR input, inputs
that only need a remux, a full disk, a software fallback's decisions and a
missing ffmpeg, through the real ``mediaforge`` command.

This host has no GPU. Two stand-ins make the hardware path run for real:
``encoders.json`` saying an encoder passed its test encode (as it would on a
host with the GPU), and, where a job must *succeed* on the "GPU", a small
ffmpeg wrapper that runs the software encoder in its place (it stands for a
GPU that cannot exist here; ffmpeg itself runs, decodes, filters, encodes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaforge.media.encoder_probe import CACHE_FILE, ffmpeg_identity
from tests.media.test_colour import hdr_clip
from tests.media.test_encoders import pytestmark  # noqa: F401  (skipped on a host with a GPU)
from tests.mfcli import Mediaforge, digest, ffprobe, hidden_leftovers, streams

# An ffmpeg whose NVENC "works": hevc_nvenc/h264_nvenc become libx265/libx264,
# NVENC's rate control (-rc vbr -cq N) becomes -crf N and its speed presets
# (p1..p7) an x264/x265 one. Everything else reaches the real ffmpeg as given.
FAKE_GPU_FFMPEG = """\
#!{python}
import os, sys
args, out = sys.argv[1:], []
swap = {{"hevc_nvenc": "libx265", "h264_nvenc": "libx264"}}
i = 0
while i < len(args):
    arg = args[i]
    if arg == "-rc":
        i += 2
        continue
    if arg == "-cq":
        arg = "-crf"
    elif arg in swap:
        arg = swap[arg]
    elif arg.startswith("p") and arg[1:].isdigit() and out and out[-1].startswith("-preset"):
        arg = "ultrafast"
    out.append(arg)
    i += 1
os.execvp("ffmpeg", ["ffmpeg", *out])
"""

HEVC_PRESET = """
name: hw
description: HEVC on NVENC when this host has it
encoder: nvenc
encoder_strict: STRICT
outputs:
  - name: "{stem}.hw.mkv"
    container: matroska
    video: {codec: libx265, crf: 30, hdr: HDR, options: {preset: ultrafast}}
    audio: {codec: aac}
"""

H264_PRESET = """
name: hw
description: H.264 on NVENC when this host has it
encoder: nvenc
encoder_strict: STRICT
outputs:
  - name: "{stem}.hw.mp4"
    container: mp4
    video: {codec: libx264, crf: CRF, pix_fmt: yuv420p, options: {preset: ultrafast}}
"""


def hevc_preset(hdr: str = "auto", strict: bool = False, compliant: str = "") -> str:
    text = HEVC_PRESET.replace("HDR", hdr).replace("STRICT", str(strict).lower())
    return text + compliant


def h264_preset(crf: int = 30, strict: bool = False) -> str:
    return H264_PRESET.replace("CRF", str(crf)).replace("STRICT", str(strict).lower())


def gpu_works(mf: Mediaforge, ffmpeg: str, *encoders: str) -> None:
    """Store the answer a host with the GPU gives: ``encoders`` passed their test encode."""
    mf.data.mkdir(parents=True, exist_ok=True)
    passed = {"ok": True, "reason": "test encode passed", "checked_at": time.time()}
    entries = {encoder: passed for encoder in encoders}
    (mf.data / CACHE_FILE).write_text(
        json.dumps({"ffmpeg": ffmpeg_identity(ffmpeg), "encoders": entries})
    )


@pytest.fixture
def fake_gpu(tmp_path: Path) -> Path:
    script = tmp_path / "gpu-ffmpeg"
    script.write_text(FAKE_GPU_FFMPEG.format(python=sys.executable))
    script.chmod(0o755)
    return script


@pytest.fixture
def hdr_source(make_media: Callable[..., Path]) -> Path:
    return hdr_clip(make_media, "hdr.mkv", "smpte2084")


def video_of(path: Path) -> dict[str, Any]:
    [video] = streams(ffprobe(path), "video")
    return video


def run(mf: Mediaforge, source: Path, out: Path) -> dict[str, Any]:
    done = mf("run", source, "-p", "hw", "-o", out, "--json")
    assert "Traceback" not in done.err, done.err
    job: dict[str, Any] = done.json()
    return job


# -- HDR input ------------------------------------------------------------------------------


def test_hdr_kept_by_the_preset_stays_hdr_in_software_on_a_host_whose_gpu_works(
    mf: Mediaforge, hdr_source: Path, fake_gpu: Path, tmp_path: Path
) -> None:
    mf.configure(ffmpeg=str(fake_gpu))
    gpu_works(mf, str(fake_gpu), "hevc_nvenc")
    mf.add_preset("hw", hevc_preset(hdr="keep"))

    shown = mf.ok("presets", "show", "hw", "--input", hdr_source).out
    job = run(mf, hdr_source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    kept = "HDR input: kept in software (libx265, 10-bit BT.2020); hardware encoders here are"
    assert job["decisions"]["encoder"].startswith(kept)
    assert job["decisions"]["colour"] == "HDR10 (PQ, BT.2020) kept as yuv420p10le for libx265"
    video = video_of(Path(job["outputs"][0]["path"]))
    assert (video["pix_fmt"], video["color_transfer"]) == ("yuv420p10le", "smpte2084")
    # The command shown is the job's: software, HDR kept, the same reason.
    assert f"# encoder: {kept}" in shown
    assert " -c:v libx265 " in shown and "hevc_nvenc" not in shown
    assert "tonemap" not in shown


def test_hdr_kept_by_a_strict_preset_runs_in_software_on_a_host_without_the_gpu(
    mf: Mediaforge, hdr_source: Path, tmp_path: Path
) -> None:
    # The GPU could not keep it HDR anyway: strict is about a host that
    # cannot give the hardware for a job that would use it.
    mf.add_preset("hw", hevc_preset(hdr="keep", strict=True))

    job = run(mf, hdr_source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    assert job["decisions"]["encoder"].startswith("HDR input: kept in software (libx265")
    assert video_of(Path(job["outputs"][0]["path"]))["color_transfer"] == "smpte2084"


def test_hdr_tone_mapped_by_the_preset_is_encoded_on_the_gpu(
    mf: Mediaforge, hdr_source: Path, fake_gpu: Path, tmp_path: Path
) -> None:
    mf.configure(ffmpeg=str(fake_gpu))
    gpu_works(mf, str(fake_gpu), "hevc_nvenc")
    mf.add_preset("hw", hevc_preset(hdr="tonemap"))

    job = run(mf, hdr_source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    assert job["decisions"]["encoder"] == "nvenc: hevc_nvenc (test encode passed)"
    assert job["decisions"]["colour"].endswith("tone-mapped to SDR BT.709 for hevc_nvenc")
    assert video_of(Path(job["outputs"][0]["path"]))["color_transfer"] == "bt709"


def test_a_compliant_hdr_input_is_remuxed_not_tone_mapped_on_a_host_whose_gpu_works(
    mf: Mediaforge, hdr_source: Path, fake_gpu: Path, tmp_path: Path
) -> None:
    mf.configure(ffmpeg=str(fake_gpu))
    gpu_works(mf, str(fake_gpu), "hevc_nvenc")
    compliant = "compliant: {containers: [matroska], video_codecs: [hevc], audio_codecs: [aac]}\n"
    mf.add_preset("hw", hevc_preset(compliant=compliant))

    job = run(mf, hdr_source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    assert job["action"] == "remux"
    assert "encoder" not in job["decisions"], job["decisions"]
    video = video_of(Path(job["outputs"][0]["path"]))
    assert (video["pix_fmt"], video["color_transfer"]) == ("yuv420p10le", "smpte2084")


# -- inputs that need no encoder ---------------------------------------------------------------


def test_a_strict_hardware_preset_remuxes_a_compliant_input_on_a_host_without_the_gpu(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    compliant = "compliant: {containers: [matroska], video_codecs: [hevc], audio_codecs: [aac]}\n"
    mf.add_preset("hw", hevc_preset(strict=True, compliant=compliant))
    source = make_media("clip.mkv", vcodec="libx265", extra=["-preset", "ultrafast"])

    job = run(mf, source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    assert job["action"] == "remux"
    assert "encoder" not in job["decisions"], job["decisions"]


# -- after a fallback to software ---------------------------------------------------------------


def test_a_fallback_to_software_records_the_software_plans_colour_decision(
    mf: Mediaforge, hdr_source: Path, tmp_path: Path
) -> None:
    # NVENC passed its test encode but fails on the job (no GPU here, really).
    gpu_works(mf, "ffmpeg", "h264_nvenc")
    mf.add_preset("hw", h264_preset())

    job = run(mf, hdr_source, tmp_path / "out")

    assert job["status"] == "succeeded", job["error"]
    assert job["decisions"]["encoder"].startswith("h264_nvenc failed (")
    assert job["decisions"]["colour"] == "HDR10 (PQ, BT.2020) tone-mapped to SDR BT.709 for libx264"


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (only root can mount one); unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder], check=True)
    yield folder
    subprocess.run(["umount", "-l", folder], check=False)


def test_a_full_disk_is_not_a_gpu_failure_and_runs_no_software_encode(
    mf: Mediaforge, make_media: Callable[..., Path], fake_gpu: Path, tmpfs: Path
) -> None:
    # Lossless (crf 0, on the "GPU" too): far more than 64 KiB; the space
    # estimate (the tiny input's size) lets it start.
    source = make_media("tiny.mp4", audio=False, extra=["-crf", "51", "-preset", "ultrafast"])
    before = digest(source)
    mf.configure(
        ffmpeg=str(fake_gpu),
        encoders={"max_failures": 1},
        worker={"max_attempts": 2, "min_free_space_mib": 0},
    )
    gpu_works(mf, str(fake_gpu), "h264_nvenc")
    mf.add_preset("hw", h264_preset(crf=0))

    job = run(mf, source, tmpfs)

    assert job["status"] == "failed"
    assert job["attempts"] == 2
    assert job["error"].startswith(f"no space left on the device of {tmpfs} while writing")
    # Both attempts ran on the GPU: the full disk did not count against it.
    assert job["decisions"]["encoder"] == "nvenc: h264_nvenc (test encode passed)"
    log = mf.logs() + "".join(mf.transcript)
    assert "h264_nvenc failed" not in log
    assert list(tmpfs.iterdir()) == [] and hidden_leftovers(tmpfs) == []
    assert digest(source) == before


# -- a missing ffmpeg ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["nvenc", "software"])
def test_a_missing_ffmpeg_is_one_line_and_fails_the_job(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, encoder: str
) -> None:
    missing = tmp_path / "no-such" / "ffmpeg"
    mf.configure(ffmpeg=str(missing))
    mf.add_preset("hw", h264_preset().replace("encoder: nvenc", f"encoder: {encoder}"))
    source = make_media("clip.mkv", vcodec="mpeg4")

    shown = mf("presets", "show", "hw", "--input", source)
    done = mf("run", source, "-p", "hw", "-o", tmp_path / "out")

    for result in (shown, done):
        assert "Traceback" not in result.err, result.err
    assert shown.code == 0, shown.err  # nothing runs ffmpeg: the command is shown
    assert " -c:v libx264 " in shown.out
    if encoder == "nvenc":
        assert f"h264_nvenc unavailable (cannot run {missing}: No such file" in shown.out
    assert done.code == 1, done.err  # a failed job
    assert done.error_lines() == [
        f"Error: job 1 failed: ffmpeg not found: '{missing}'. Install it (Debian/Ubuntu: apt"
        " install ffmpeg) or set 'ffmpeg:' in the config file"
    ], done.err
    [job] = mf.jobs()
    assert job["status"] == "failed"
    assert job["error"].startswith(f"ffmpeg not found: '{missing}'")
