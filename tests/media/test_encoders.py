"""Hardware encoders: the command line of every family against this ffmpeg's
own option parser, the test encode, its cache and the per-process failure rule.

This machine has no GPU: every hardware encoder compiled into ffmpeg fails to
open its device. That is what the tests check for: an option ffmpeg does not
know fails differently (while parsing, before any device is opened).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mediaforge.config.schema import Config, EncodersConfig
from mediaforge.errors import PresetError
from mediaforge.media.command import build_command
from mediaforge.media.encoder_choice import after_failure, choose_encoder
from mediaforge.media.encoder_probe import (
    CACHE_FILE,
    EncoderCache,
    EncoderHealth,
    compiled_encoders,
    ffmpeg_identity,
    host_report,
)
from mediaforge.media.encoder_probe import (
    test_encode as try_encoder,  # not "test_*" here: pytest would collect it
)
from mediaforge.media.encoders import HardwareKind, hardware_encoder, translate
from mediaforge.media.planning import plan_job
from mediaforge.media.probe import probe
from mediaforge.presets.loading import get_preset, load_presets, parse_preset
from mediaforge.presets.model import ENCODER_CODECS, Preset, VideoSpec

COMPILED = compiled_encoders("ffmpeg", 30)
# These tests are about a host whose every hardware encoder fails; on a host
# with a working one they would test something else.
WORKING_HERE = [
    encoder
    for encoder in ("h264_nvenc", "h264_qsv", "h264_vaapi")
    if encoder in COMPILED and try_encoder("ffmpeg", encoder, "/dev/dri/renderD128", 30).ok
]
pytestmark = pytest.mark.skipif(
    bool(WORKING_HERE), reason=f"this host has a working hardware encoder: {WORKING_HERE}"
)

# What ffmpeg says about an option it does not know, or a value it refuses:
# none of these may appear. They come while parsing, before a device opens.
PARSE_ERRORS = re.compile(
    r"Unrecognized option|Option not found|Error setting option|has not been used for any stream"
    r"|Invalid argument for option|Undefined constant|Unable to parse option value"
)
# Each family's "no such device here", the failure this GPU-less host expects.
DEVICE_ERRORS = {
    HardwareKind.NVENC: "Cannot load libcuda",
    HardwareKind.QSV: "Error initializing an internal MFX session",
    HardwareKind.VAAPI: "No VA display found",
}


def config_in(tmp_path: Path, **encoders: object) -> Config:
    return Config(
        source=None,
        data_dir=tmp_path / "data",
        encoders=EncodersConfig(**encoders),  # type: ignore[arg-type]
    )


def with_encoder(preset: Preset, encoder: str, strict: bool = False) -> Preset:
    return replace(preset, encoder=encoder, encoder_strict=strict)  # type: ignore[arg-type]


def option_names(encoder: str) -> set[str]:
    """Options ``encoder`` takes: its own (``-h encoder=``), every encoder's
    (AVCodecContext) and ffmpeg's own per-stream ones, as this ffmpeg lists them."""
    own = subprocess.run(
        ["ffmpeg", "-hide_banner", "-h", f"encoder={encoder}"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    full = subprocess.run(
        ["ffmpeg", "-hide_banner", "-h", "full"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    tools, codecs = full.split("AVCodecContext AVOptions:")
    generic = codecs.split("AVOptions:")[0]
    return set(re.findall(r"^  -(\S+)", own + generic, re.MULTILINE)) | set(
        re.findall(r"^-([\w-]+)", tools, re.MULTILINE)
    )


HARDWARE_PRESETS = [
    name
    for name, preset in load_presets(None).items()
    if any(o.video is not None and o.video.codec.startswith("lib") for o in preset.outputs)
    and name not in ("vp9-1080p", "poster-jpg")
]


@pytest.mark.parametrize("kind", list(HardwareKind))
@pytest.mark.parametrize("name", HARDWARE_PRESETS)
def test_every_family_command_passes_ffmpegs_option_parser_and_fails_only_on_the_device(
    tmp_path: Path, make_media: Callable[..., Path], kind: HardwareKind, name: str
) -> None:
    preset = get_preset(name, None)
    software = next(o.video for o in preset.outputs if o.video is not None)
    encoder = hardware_encoder(software.codec, kind)
    assert encoder is not None
    if encoder not in COMPILED:
        pytest.skip(f"{encoder} is not in this ffmpeg")
    source = make_media(duration=0.2, vcodec="mpeg4")  # not compliant: it is encoded
    info = probe(source, ffprobe="ffprobe", timeout=30)
    config = config_in(tmp_path)
    chosen = choose_encoder(config, with_encoder(preset, kind.value))
    assert not chosen.hardware  # no GPU here: the choice falls back ...
    swapped = replace(
        preset,
        outputs=tuple(
            replace(o, video=translate(o.video, kind).spec) if o.video is not None else o
            for o in preset.outputs
        ),
    )
    plan = plan_job(
        swapped, info, input_path=source, output_dir=tmp_path, job_id=1, attempt=1,
        collision="overwrite",
    )  # fmt: skip
    for out in plan.outputs:
        if out.spec.kind.value == "hls":
            out.temp.mkdir(parents=True)
    command = build_command(plan, info, source, vaapi_device="/dev/dri/renderD128")
    assert encoder in command.args

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-y", *args], cwd=command.cwd,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    done = run(command.args)

    assert done.returncode != 0, "this host has no GPU: the encode cannot have worked"
    assert not PARSE_ERRORS.search(done.stderr), done.stderr
    assert DEVICE_ERRORS[kind] in done.stderr, done.stderr
    if kind is HardwareKind.VAAPI:
        # Opening the device fails while ffmpeg parses its global options, before
        # it reads the output options: parse them too, without the device.
        without_device = run(command.args[2:])
        assert without_device.returncode != 0
        assert not PARSE_ERRORS.search(without_device.stderr), without_device.stderr
        assert "hwupload" in without_device.stderr, without_device.stderr
    # Every option the translation added is one this encoder takes.
    known = option_names(encoder)
    for out in swapped.outputs:
        if out.video is not None and out.video.codec == encoder:
            unknown = {k.split(":")[0] for k in out.video.options} - known
            assert not unknown, f"{encoder} does not take {unknown}"


def test_av1_hardware_encoders_not_in_this_ffmpeg_are_skipped_with_that_reason(
    tmp_path: Path,
) -> None:
    missing = [f"av1_{k.value}" for k in HardwareKind if f"av1_{k.value}" not in COMPILED]
    if not missing:
        pytest.skip("this ffmpeg has every AV1 hardware encoder")
    config = config_in(tmp_path)

    choice = choose_encoder(config, with_encoder(get_preset("av1-1080p", None), "auto"))

    assert not choice.hardware
    for encoder in missing:
        assert f"{encoder} unavailable (not in this ffmpeg)" in choice.note
    assert choice.note.endswith("; libsvtav1")


def test_quality_knobs_become_each_familys_own_options() -> None:
    spec = VideoSpec(
        codec="libx264", crf=23, pix_fmt="yuv420p", bitrate="2M",
        options={"preset": "slow", "tune": "film", "profile:v": "high"},
    )  # fmt: skip

    nvenc = translate(spec, HardwareKind.NVENC)
    qsv = translate(spec, HardwareKind.QSV)
    vaapi = translate(spec, HardwareKind.VAAPI)

    assert nvenc.spec.codec == "h264_nvenc"
    assert nvenc.spec.options == {"profile:v": "high", "preset": "p5", "rc": "vbr", "cq": "23"}
    assert (nvenc.spec.crf, nvenc.spec.pix_fmt, nvenc.spec.bitrate) == (None, "yuv420p", "2M")
    assert qsv.spec.options == {"profile:v": "high", "preset": "slow", "global_quality": "23"}
    assert qsv.spec.pix_fmt == "nv12"
    assert vaapi.spec.options == {"profile:v": "high", "qp": "23"}
    assert vaapi.dropped == ("preset=slow", "tune=film")
    assert nvenc.dropped == ("tune=film",)
    av1 = translate(
        VideoSpec(codec="libsvtav1", crf=63, options={"preset": "8"}), HardwareKind.NVENC
    )
    assert av1.spec.options == {"preset": "p3", "rc": "vbr", "cq": "51"}


def test_vaapi_commands_upload_the_picture_and_open_the_configured_device(
    tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    source = make_media(duration=0.2, vcodec="mpeg4")
    info = probe(source, ffprobe="ffprobe", timeout=30)
    preset = get_preset("h264-720p", None)
    [out] = preset.outputs
    assert out.video is not None
    swapped = replace(
        preset, outputs=(replace(out, video=translate(out.video, HardwareKind.VAAPI).spec),)
    )
    plan = plan_job(
        swapped, info, input_path=source, output_dir=tmp_path, job_id=1, attempt=1,
        collision="overwrite",
    )  # fmt: skip

    args = build_command(plan, info, source, vaapi_device="/dev/dri/renderD129").args

    assert args[:2] == ["-vaapi_device", "/dev/dri/renderD129"]
    graph = args[args.index("-filter_complex") + 1]
    assert graph.endswith("format=nv12[s2];[s2]hwupload[s3]")
    assert "-pix_fmt" not in args


def test_hardware_codecs_are_known_to_verification() -> None:
    for family in ("h264", "hevc", "av1"):
        for kind in HardwareKind:
            assert ENCODER_CODECS[f"{family}_{kind.value}"] == family


def test_auto_on_a_host_without_gpu_runs_software_and_says_why(tmp_path: Path) -> None:
    config = config_in(tmp_path)

    choice = choose_encoder(config, with_encoder(get_preset("h264-720p", None), "auto"))

    assert not choice.hardware
    assert choice.preset.outputs[0].video == get_preset("h264-720p", None).outputs[0].video
    for kind in HardwareKind:
        encoder = f"h264_{kind.value}"
        reason = "not in this ffmpeg" if encoder not in COMPILED else DEVICE_ERRORS[kind]
        assert f"{encoder} unavailable ({reason}" in choice.note, choice.note
    assert "h264_nvenc unavailable (Cannot load libcuda.so.1)" in choice.note
    assert choice.note.endswith("; libx264")


def test_the_cache_answers_the_second_time_without_a_test_encode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_in(tmp_path, auto=("nvenc",))
    preset = with_encoder(get_preset("h264-720p", None), "auto")
    cache = tmp_path / "data" / CACHE_FILE

    with caplog.at_level("INFO", logger="mediaforge.media.encoder_probe"):
        first = choose_encoder(config, preset)
    assert [r.getMessage() for r in caplog.records] == ["encoder h264_nvenc: test encode"]
    written = cache.read_text()
    mtime = cache.stat().st_mtime_ns
    assert json.loads(written)["ffmpeg"] == ffmpeg_identity("ffmpeg")
    caplog.clear()

    with caplog.at_level("INFO", logger="mediaforge.media.encoder_probe"):
        second = choose_encoder(config, preset)

    assert caplog.records == []
    assert (cache.read_text(), cache.stat().st_mtime_ns) == (written, mtime)
    assert first.note == second.note


@pytest.mark.parametrize("stale", ["other ffmpeg", "older than cache_ttl"])
def test_a_cached_answer_is_asked_again_when_ffmpeg_changed_or_it_expired(
    tmp_path: Path, stale: str
) -> None:
    config = config_in(tmp_path, cache_ttl=3600)
    cache = EncoderCache(config)
    identity = "/usr/local/bin/ffmpeg 1 2" if stale == "other ffmpeg" else cache.identity
    checked = time.time() - (7200 if stale == "older than cache_ttl" else 0)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / CACHE_FILE).write_text(
        json.dumps(
            {
                "ffmpeg": identity,
                "encoders": {
                    "h264_nvenc": {
                        "ok": True,
                        "reason": "test encode passed",
                        "checked_at": checked,
                    }
                },
            }
        )
    )

    assert cache.cached("h264_nvenc") is None
    status = cache.status("h264_nvenc")

    assert (status.ok, status.reason) == (False, "Cannot load libcuda.so.1")
    stored = json.loads((tmp_path / "data" / CACHE_FILE).read_text())
    assert stored["ffmpeg"] == cache.identity
    assert stored["encoders"]["h264_nvenc"]["ok"] is False


def test_an_explicit_family_falls_back_to_software_unless_strict(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    preset = get_preset("hevc-1080p", None)

    loose = choose_encoder(config, with_encoder(preset, "qsv"))
    with pytest.raises(PresetError) as strict:
        choose_encoder(config, with_encoder(preset, "qsv", strict=True))

    assert loose.note == (
        "hevc_qsv unavailable (Error initializing an internal MFX session: unsupported (-3)); "
        "libx265"
    )
    assert str(strict.value) == (
        "preset 'hevc-1080p' needs encoder qsv (encoder_strict) and this host cannot give it: "
        "hevc_qsv unavailable (Error initializing an internal MFX session: unsupported (-3))"
    )


def test_an_encoder_failing_real_jobs_is_disabled_in_this_process_after_max_failures(
    tmp_path: Path,
) -> None:
    config = config_in(tmp_path, max_failures=2)
    cache = EncoderCache(config)
    (tmp_path / "data").mkdir()
    # The test encode "passed" (as on a host whose GPU then breaks on real jobs).
    (tmp_path / "data" / CACHE_FILE).write_text(
        json.dumps(
            {
                "ffmpeg": cache.identity,
                "encoders": {
                    "h264_nvenc": {
                        "ok": True,
                        "reason": "test encode passed",
                        "checked_at": time.time(),
                    }
                },
            }
        )
    )
    health = EncoderHealth()
    preset = with_encoder(get_preset("h264-720p", None), "nvenc")

    notes = []
    for _ in range(3):
        choice = choose_encoder(config, preset, health=health)
        if choice.hardware:
            choice = after_failure(config, choice, "Cannot load libcuda.so.1", health=health)
        notes.append(choice.note)

    assert notes == [
        "h264_nvenc failed (Cannot load libcuda.so.1); failure 1 of 2 in this worker; libx264",
        "h264_nvenc failed (Cannot load libcuda.so.1); disabled in this worker until restart; "
        "libx264",
        "h264_nvenc disabled in this worker after 2 failed jobs; libx264",
    ]
    # Another process (a restarted worker) starts with a clean slate.
    assert choose_encoder(config, preset, health=EncoderHealth()).hardware


def test_doctor_report_lists_every_candidate_with_its_reason(tmp_path: Path) -> None:
    config = config_in(tmp_path)

    statuses = {s.encoder: s for s in host_report(config)}

    assert set(statuses) == {
        f"{f}_{k.value}" for f in ("av1", "h264", "hevc") for k in HardwareKind
    }
    assert not any(s.ok for s in statuses.values())
    for name, status in statuses.items():
        if name not in COMPILED:
            assert status.reason == "not in this ffmpeg"
        else:
            kind = HardwareKind(name.split("_")[1])
            assert DEVICE_ERRORS[kind].split(" found")[0] in status.reason


def test_an_explicit_family_needs_an_output_it_can_encode() -> None:
    text = """
name: vp9-gpu
encoder: nvenc
outputs:
  - name: "{stem}.webm"
    container: webm
    video: {codec: libvpx-vp9}
"""
    with pytest.raises(PresetError) as caught:
        parse_preset(text, "vp9-gpu.yaml")

    assert caught.value.problems[0].startswith("vp9-gpu.yaml:3: encoder: 'nvenc' encodes H.264")
