"""Waiting for jobs that no worker takes: ``submit --wait`` says so once,
with how to start a worker; ``doctor`` counts only jobs that really wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge

NOTICE = "no worker is taking jobs"


def _stderr_of(mf: Mediaforge) -> str:
    return mf.started[-1].err.read_text(errors="replace")


@pytest.mark.parametrize("json_out", [False, True], ids=["bars", "json"])
def test_submit_wait_without_a_worker_says_so_once_and_how_to_start_one(
    json_out: bool, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    submitter = mf.start(
        "submit", "--wait", clip, "-p", "poster-jpg", *(["--json"] if json_out else [])
    )
    deadline = time.monotonic() + 30
    while NOTICE not in _stderr_of(mf):
        assert submitter.poll() is None, mf.logs()
        assert time.monotonic() < deadline, f"no notice after 30 s\n{mf.logs()}"
        time.sleep(0.2)
    time.sleep(2)  # a few more looks at the jobs: the notice is not repeated

    mf.burst()
    done = mf.finish(submitter)

    assert done.code == ExitCode.OK, done.err
    [notice] = [line for line in done.err.splitlines() if NOTICE in line]
    assert "'mediaforge worker'" in notice and "'mediaforge run" in notice
    if json_out:
        assert done.json()["status"] == "succeeded"


def test_submit_wait_with_a_worker_running_says_nothing_about_workers(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.start("worker")
    time.sleep(1)  # the worker is up and idle

    done = mf("submit", "--wait", make_media("clip.mp4", duration=0.3), "-p", "poster-jpg")

    assert done.code == ExitCode.OK, done.err
    assert NOTICE not in done.err


def test_doctor_does_not_count_a_cancelled_job_as_waiting(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    [first] = mf.ok("submit", clip, "-p", "poster-jpg").out.split()
    mf.ok("submit", clip, "-p", "remux-mp4")
    mf.ok("cancel", first)

    done = mf("doctor")

    [queue] = [line for line in done.out.splitlines() if " queue: " in line]
    assert queue.endswith(": 1 job(s) waiting"), done.out
