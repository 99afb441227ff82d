"""Jobs that can only fail are refused before they exist: ``submit`` and
``run`` give the same one line and exit code for an input the preset cannot
apply to, and ``retry`` does not queue such a job again."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from mediaforge.jobs.model import JobStatus, NewJob
from tests.mfcli import Mediaforge

MISMATCHES = {
    # name: (what make_media makes, preset, words of the reason)
    "audio-only-with-a-video-preset": (
        {"name": "song.m4a", "video": False}, "h264-720p", "has no video (audio only)",
    ),
    "video-without-sound-with-an-audio-preset": (
        {"name": "silent.mp4", "audio": False}, "aac-audio", "has no audio stream",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", MISMATCHES)
def test_submit_refuses_an_input_the_preset_cannot_apply_to_as_run_does(
    case: str, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    media, preset, words = MISMATCHES[case]
    source = make_media(duration=0.4, **media)

    submitted = mf("submit", source, "-p", preset)
    ran = mf("run", source, "-p", preset)

    assert submitted.code == ran.code == ExitCode.INPUT, submitted.err + ran.err
    assert submitted.err == ran.err
    [line] = submitted.err.splitlines()
    assert line.startswith(f"Error: {source} {words}")
    assert f"'{preset}'" in line
    assert mf.jobs() == []


def test_a_batch_with_one_input_the_preset_cannot_use_submits_the_others(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.4)
    song = make_media("song.m4a", duration=0.4, video=False)

    done = mf("submit", clip, song, "-p", "h264-720p")

    assert done.code == ExitCode.PARTIAL
    assert done.err.splitlines()[0].startswith(f"not submitted: {song} has no video (audio only)")
    assert [j["input"] for j in mf.jobs()] == [str(clip)]


def test_a_batch_with_one_input_the_preset_cannot_use_submits_nothing_if_all_or_nothing(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.4)
    song = make_media("song.m4a", duration=0.4, video=False)

    done = mf("submit", clip, song, "-p", "h264-720p", "--all-or-nothing")

    assert done.code == ExitCode.INPUT
    assert f"  {song} has no video (audio only)" in done.err.splitlines()[1]
    assert mf.jobs() == []


def _failed_job(mf: Mediaforge, source: Path, preset: str) -> int:
    """A job that failed in a worker (made through the job store: submit
    would refuse the pairs these tests need)."""
    [job_id] = mf.store.create([NewJob(input_path=str(source), preset=preset)])
    assert mf.store.claim(job_id, "w") is not None
    assert mf.store.finish(job_id, "w", JobStatus.FAILED, error="it failed")
    return job_id


def test_retry_does_not_queue_again_a_job_whose_input_the_preset_cannot_use(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    song = make_media("song.m4a", duration=0.4, video=False)
    doomed = _failed_job(mf, song, "h264-720p")
    fine = _failed_job(mf, make_media("clip.mp4", duration=0.4), "poster-jpg")
    reason = (
        f"{song} has no video (audio only); preset 'h264-720p' needs video. "
        "Use an audio preset such as aac-audio, mp3-audio or opus-audio"
    )

    every = mf("retry", "--failed")
    one = mf("retry", doomed)

    assert every.code == one.code == ExitCode.INPUT
    assert every.out.splitlines() == [f"job {fine} queued again"]
    assert every.err.splitlines() == [f"job {doomed} not queued again: {reason}"]
    assert one.err.splitlines() == [f"Error: {reason}"]
    assert mf.status(doomed)["status"] == "failed"
    assert mf.status(fine)["status"] == "queued"


@pytest.fixture
def hung_share_ffprobe(mf: Mediaforge, tmp_path: Path) -> None:
    """ffprobe that never returns for a file named ``hung*``, as on a hung
    network share (which cannot be mounted in a test): the real ffprobe for
    every other file."""
    real = shutil.which("ffprobe")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ffprobe"
    # exec: the timeout kills the sleep itself, not a shell that leaves it holding the pipes.
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *hung*) exec sleep 60;; esac\nexec "{real}" "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    mf.env["PATH"] = f"{bin_dir}{os.pathsep}{mf.env['PATH']}"
    mf.configure(probe_timeout=2)


def test_a_batch_with_one_input_ffprobe_times_out_on_submits_the_others(
    mf: Mediaforge, make_media: Callable[..., Path], hung_share_ffprobe: None
) -> None:
    clip = make_media("clip.mp4", duration=0.4)
    hung = make_media("hung.mp4", duration=0.4)

    done = mf("submit", clip, hung, "-p", "h264-720p")

    assert done.code == ExitCode.PARTIAL, done.err
    first = done.err.splitlines()[0]
    assert first.startswith(f"not submitted: ffprobe took longer than 2 s to read {hung}"), first
    assert "Traceback" not in done.err
    assert [j["input"] for j in mf.jobs()] == [str(clip)]


def test_a_timed_out_input_submits_nothing_if_all_or_nothing(
    mf: Mediaforge, make_media: Callable[..., Path], hung_share_ffprobe: None
) -> None:
    clip = make_media("clip.mp4", duration=0.4)
    hung = make_media("hung.mp4", duration=0.4)

    done = mf("submit", clip, hung, "-p", "h264-720p", "--all-or-nothing")

    assert done.code == ExitCode.FAILURE, done.err  # worth another try, not a bad input
    assert f"ffprobe took longer than 2 s to read {hung}" in done.err
    assert mf.jobs() == []
