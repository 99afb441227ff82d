"""Pause, resume, drain and run windows, with real worker processes and real time.

The orders go through the job database (``mediaforge pause`` in one process,
the worker in another); a run window opens a few seconds into a test, on
the local clock the worker reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mediaforge.jobs.model import JobStatus
from tests.queue.test_worker import WORKER, Sandbox, assert_one_good_output

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, make_media) as box:
        yield box


def worker_intake(box: Sandbox) -> list[str | None]:
    """What ``mediaforge workers`` says of each worker's intake."""
    return [w["intake"] for w in box.ok("workers", "--json").json()]


def stays_queued(box: Sandbox, job_id: int, seconds: float) -> None:
    """The job is still queued, untouched, after ``seconds`` with a worker running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = box.job(job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0), box.logs()
        time.sleep(0.2)


def clock(when: datetime) -> str:
    return when.strftime("%H:%M:%S")


def shown(when: datetime) -> str:
    """How mediaforge shows a time of day: seconds only when there are some."""
    return when.strftime("%H:%M:%S" if when.second else "%H:%M")


def test_a_paused_worker_finishes_its_job_and_takes_no_other_until_resume(
    sandbox: Sandbox,
) -> None:
    sandbox.set_pace(0.4)  # 5 s: still running when the worker has paused
    [running] = sandbox.submit([sandbox.clip("first.mp4")], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(running)

    paused = sandbox.ok("pause")
    assert "running jobs finish" in paused.out
    sandbox.wait_until(lambda: worker_intake(sandbox) == ["paused"], 10, "the worker to pause")
    assert sandbox.job(running).status is JobStatus.RUNNING, "ended before the pause: no proof"
    [waiting] = sandbox.submit([sandbox.clip("second.mp4")], "fast")
    sandbox.wait_until(lambda: sandbox.job(running).status.finished, 30, "the running job")
    assert_one_good_output(sandbox, running, "first", "paced")
    stays_queued(sandbox, waiting, 2.5)
    assert "paused: waits for 'mediaforge resume'" in sandbox.ok("status", waiting).out
    assert sandbox.status(waiting)["waiting"] == "paused: waits for 'mediaforge resume'"

    sandbox.ok("resume")

    sandbox.wait_until(
        lambda: sandbox.job(waiting).status.finished, 30, "the job to run after resume"
    )
    assert_one_good_output(sandbox, waiting, "second", "fast")
    assert sandbox.status(waiting)["waiting"] is None
    assert worker.poll() is None


def test_a_pause_outlives_a_worker_restart(sandbox: Sandbox) -> None:
    sandbox.ok("pause")
    [job_id] = sandbox.submit([sandbox.clip()], "fast")

    worker = sandbox.start_worker("--burst")

    # Nothing it may take: the burst worker stops with the job still queued.
    assert sandbox.finish(worker).code == 0
    assert (sandbox.job(job_id).status, sandbox.job(job_id).attempts) == (JobStatus.QUEUED, 0)
    sandbox.ok("resume")
    assert sandbox.run_burst() == 0
    assert_one_good_output(sandbox, job_id, "clip", "fast")


def test_pause_now_hands_a_running_job_back_and_stops_its_ffmpeg(sandbox: Sandbox) -> None:
    clip = sandbox.clip()
    sandbox.set_pace(0.2)
    [job_id] = sandbox.submit([clip], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)
    assert sandbox.ffmpeg_pids(str(clip))

    sandbox.ok("pause", "--now")

    sandbox.wait_until(lambda: not sandbox.ffmpeg_pids(str(clip)), 10, "ffmpeg to be stopped")
    sandbox.wait_until(
        lambda: sandbox.job(job_id).status is JobStatus.QUEUED, 10, "the job to go back"
    )
    assert sandbox.job(job_id).attempts == 0  # a hand-back is not the job's fault
    assert sandbox.temps() == []
    stays_queued(sandbox, job_id, 1.5)
    assert not sandbox.ffmpeg_pids(str(clip))

    sandbox.set_pace(None)
    sandbox.ok("resume")
    sandbox.wait_until(lambda: sandbox.job(job_id).status.finished, 30, "the job to run again")
    assert_one_good_output(sandbox, job_id, "clip", "paced")
    assert worker.poll() is None


def test_drain_finishes_the_running_job_then_the_worker_exits_0(sandbox: Sandbox) -> None:
    sandbox.set_pace(0.4)  # 5 s: long enough to order the drain mid-job
    [running] = sandbox.submit([sandbox.clip("first.mp4")], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(running)

    drained = sandbox.ok("drain")
    [waiting] = sandbox.submit([sandbox.clip("second.mp4")], "fast")
    sandbox.wait_until(lambda: worker_intake(sandbox) == ["draining"], 10, "the drain to arrive")
    assert sandbox.job(running).status is JobStatus.RUNNING, "ended before the drain: no proof"

    assert "finish their running jobs, then exit" in drained.out
    assert sandbox.finish(worker).code == 0
    assert_one_good_output(sandbox, running, "first", "paced")
    assert (sandbox.job(waiting).status, sandbox.job(waiting).attempts) == (JobStatus.QUEUED, 0)
    # The drain was for the workers running then: a worker started now runs.
    assert sandbox.run_burst() == 0
    assert sandbox.job(waiting).status is JobStatus.SUCCEEDED


def test_a_job_waits_for_a_run_window_that_opens_seconds_later(sandbox: Sandbox) -> None:
    clip = sandbox.clip()
    # Seconds enough to start the worker and ask for the job's status first,
    # on a busy machine.
    opens = datetime.now().replace(microsecond=0) + timedelta(seconds=12)
    window = f"{clock(opens)}-{clock(opens + timedelta(hours=1))}"
    sandbox.configure(worker={**WORKER, "schedule": [window]}, log={"format": "json"})
    sandbox.start_worker()
    sandbox.wait_until(
        lambda: worker_intake(sandbox) not in ([], [None]), 30, "the worker to start, waiting"
    )
    assert worker_intake(sandbox) == [f"outside its run window, opens {shown(opens)}"]

    [job_id] = sandbox.submit([clip], "fast")
    status = sandbox.ok("status", job_id).out
    assert time.time() < opens.timestamp(), "too slow to see the job wait: the test proves nothing"
    assert f"waits for {shown(opens)}: every worker is outside its run window" in status

    sandbox.wait_until(lambda: sandbox.job(job_id).status.finished, 40, "the window to open")
    assert_one_good_output(sandbox, job_id, "clip", "fast")
    started = sandbox.job(job_id).started_at
    assert started is not None and started >= opens.timestamp()
    assert worker_intake(sandbox) == [None]


def test_a_window_that_closes_hands_a_running_job_back_when_so_configured(
    sandbox: Sandbox,
) -> None:
    closes = datetime.now().replace(microsecond=0) + timedelta(seconds=10)
    window = f"{clock(closes - timedelta(hours=1))}-{clock(closes)}"
    worker_settings = {**WORKER, "schedule": [window], "schedule_end": "hand_back"}
    sandbox.configure(worker=worker_settings, log={"format": "json"})
    clip = sandbox.clip()
    sandbox.set_pace(0.1)  # 20 s: still running when the window closes
    [job_id] = sandbox.submit([clip], "paced")
    sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    sandbox.wait_until(
        lambda: sandbox.job(job_id).status is JobStatus.QUEUED, 20, "the window to close"
    )

    assert time.time() >= closes.timestamp()
    sandbox.wait_until(lambda: not sandbox.ffmpeg_pids(str(clip)), 10, "ffmpeg to be stopped")
    assert sandbox.job(job_id).attempts == 0
    assert sandbox.temps() == []
    stays_queued(sandbox, job_id, 1.5)


def test_waiting_on_a_job_while_paused_says_why_instead_of_start_a_worker(
    sandbox: Sandbox,
) -> None:
    worker = sandbox.start_worker()
    sandbox.ok("pause")
    sandbox.wait_until(lambda: worker_intake(sandbox) == ["paused"], 30, "the worker to pause")
    clip = sandbox.clip()
    waiting = sandbox.start("submit", clip, "--preset", "fast", "--wait")

    def told() -> bool:
        return "no job is taken" in sandbox.started[-1].err.read_text(errors="replace")

    sandbox.wait_until(told, 30, "the waiting submit to say why")
    sandbox.ok("resume")
    done = sandbox.finish(waiting)
    assert done.code == 0, done.err
    assert "no job is taken: paused: waits for 'mediaforge resume'; still waiting" in done.err
    assert "Start one in another terminal" not in done.err
    assert worker.poll() is None
