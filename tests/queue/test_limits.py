"""``worker.limits``: at most so many jobs of a preset or tag at once on a
worker, while its other places take other work. Real worker processes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.tables import JobRow
from mediaforge.queue.backend import JobQueue
from tests.queue.test_worker import WORKER, Sandbox, preset

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, make_media) as box:
        # 2 s of audio at real time: each "heavy" job takes about 2 s.
        box.write_preset({**preset("heavy", audio_filter="arealtime=speed=1"), "tags": ["slow"]})
        yield box


def test_a_limited_tag_runs_one_job_at_a_time_while_other_work_takes_the_free_place(
    sandbox: Sandbox,
) -> None:
    sandbox.configure(
        worker={**WORKER, "workers": 2, "limits": {"slow": 1}}, log={"format": "json"}
    )
    clips = [sandbox.make_media(f"clip{i}.mp4", duration=2.0) for i in range(3)]
    heavy = sandbox.submit(clips[:2], "heavy")
    [fast] = sandbox.submit(clips[2:], "fast")

    assert sandbox.run_burst(timeout=120) == 0

    first, second = sorted((sandbox.job(i) for i in heavy), key=lambda j: j.started_at or 0)
    other = sandbox.job(fast)
    for job in (first, second, other):
        assert job.status is JobStatus.SUCCEEDED, f"{job.to_dict()}\n{sandbox.logs()}"
        assert job.attempts == 1  # waiting for the limit used no attempt
    assert first.finished_at and second.started_at and other.started_at
    assert second.started_at >= first.finished_at, "two 'slow' jobs ran at once"
    assert other.started_at < first.finished_at, "the free place did not take the other job"


def test_the_star_limit_counts_every_job_no_other_limit_names(sandbox: Sandbox) -> None:
    sandbox.write_preset(preset("steady", audio_filter="arealtime=speed=1"))  # no tags
    sandbox.configure(
        worker={**WORKER, "workers": 2, "limits": {"slow": 1, "*": 1}}, log={"format": "json"}
    )
    clips = [sandbox.make_media(f"clip{i}.mp4", duration=2.0) for i in range(3)]
    steady = sandbox.submit(clips[:2], "steady")
    [heavy] = sandbox.submit(clips[2:], "heavy")

    assert sandbox.run_burst(timeout=120) == 0

    first, second = sorted((sandbox.job(i) for i in steady), key=lambda j: j.started_at or 0)
    slow = sandbox.job(heavy)
    assert all(j.status is JobStatus.SUCCEEDED for j in (first, second, slow)), sandbox.logs()
    assert first.finished_at and second.started_at and slow.started_at
    assert second.started_at >= first.finished_at, "two jobs under '*' ran at once"
    assert slow.started_at < first.finished_at, "the 'slow' job counts under its own limit"


def test_without_a_limit_the_same_jobs_run_side_by_side(sandbox: Sandbox) -> None:
    # The control for the test above: the heavy jobs overlap when nothing limits them.
    sandbox.configure(worker={**WORKER, "workers": 2}, log={"format": "json"})
    clips = [sandbox.make_media(f"clip{i}.mp4", duration=2.0) for i in range(2)]
    heavy = sandbox.submit(clips, "heavy")

    assert sandbox.run_burst(timeout=120) == 0

    first, second = sorted((sandbox.job(i) for i in heavy), key=lambda j: j.started_at or 0)
    assert first.finished_at and second.started_at
    assert second.started_at < first.finished_at


def test_a_limit_below_one_is_refused_in_one_line_naming_it(sandbox: Sandbox) -> None:
    sandbox.configure(worker={"limits": {"slow": 0}})
    done = sandbox("config", "check")
    assert done.code != 0
    assert f"{sandbox.config}:2: worker.limits.slow: must be at least 1" in done.err, done.err


def test_a_preset_tag_with_a_space_is_refused_naming_the_file_and_field(
    sandbox: Sandbox,
) -> None:
    path = sandbox.add_preset("spaced", "")
    sandbox.write_preset({**preset("spaced"), "tags": ["two words"]})
    done = sandbox("presets", "show", "spaced")
    assert done.code != 0
    assert f"{path}:" in done.err and "tags[0]" in done.err, done.err


def test_presets_show_lists_a_presets_tags(sandbox: Sandbox) -> None:
    shown = sandbox.ok("presets", "show", "av1-1080p").out
    assert "tags: av1, slow" in shown


def test_doctor_shows_the_limits_and_fails_for_a_key_that_names_nothing(sandbox: Sandbox) -> None:
    sandbox.configure(worker={"limits": {"slow": 1, "*": 2}})
    shown = sandbox("doctor").out
    assert "limits: at most *: 2, slow: 1 at once per worker" in shown, shown

    sandbox.configure(worker={"limits": {"slwo": 1}})
    done = sandbox("doctor")
    assert done.code != 0
    [failed] = [line for line in done.out.splitlines() if line.startswith("FAIL")]
    assert "worker.limits names no preset or tag: slwo" in failed, failed


def one_slow_job_running(sandbox: Sandbox) -> tuple[int, Path]:
    """A worker with two places and one 'slow' place, running one 'slow' job
    of about 8 s; returns that job and a second clip for the next one."""
    sandbox.write_preset(
        {**preset("long-heavy", audio_filter="arealtime=speed=0.25"), "tags": ["slow"]}
    )  # about 8 s
    sandbox.configure(
        worker={**WORKER, "workers": 2, "limits": {"slow": 1}}, log={"format": "json"}
    )
    first, second = (sandbox.make_media(f"clip{i}.mp4", duration=2.0) for i in range(2))
    [running] = sandbox.submit([first], "long-heavy")
    sandbox.start_worker()
    sandbox.wait_for_progress(running)
    return running, second


def test_a_handed_back_job_over_its_limit_is_not_adopted_again_and_again(
    sandbox: Sandbox,
) -> None:
    running, second = one_slow_job_running(sandbox)
    [waiting] = sandbox.submit([second], "long-heavy")
    # Another host handed it back (it could not see the files): this worker
    # could take it from the job database, but its 'slow' place is taken.
    JobRow.update(
        refusals=json.dumps({"hosts": ["elsewhere|ns"], "rounds": 0}), retry_at=time.time() - 1
    ).where(JobRow.id == waiting).execute()

    time.sleep(5)

    assert sandbox.job(running).status is JobStatus.RUNNING, "the test needs it still running"
    queued = [r for r in sandbox.log_records() if "taken here" in r.get("message", "")]
    assert queued == [], "adopted although its limit was full"
    tasks = JobQueue(sandbox.load_config()).huey
    messages = [t for t in [*tasks.pending(), *tasks.scheduled()] if t.args == (waiting,)]
    assert len(messages) <= 1, f"{len(messages)} messages for one waiting job"
    sandbox.wait_until(lambda: sandbox.job(waiting).status.finished, 60, "the second job")
    assert sandbox.job(waiting).status is JobStatus.SUCCEEDED


def test_a_paused_worker_leaves_a_job_over_its_limit_queued_without_bouncing_it(
    sandbox: Sandbox,
) -> None:
    _, second = one_slow_job_running(sandbox)
    sandbox.ok("pause")
    [waiting] = sandbox.submit([second], "long-heavy")

    def taken_from_the_queue() -> bool:
        return waiting not in JobQueue(sandbox.load_config()).pending_job_ids()

    sandbox.wait_until(taken_from_the_queue, 10, "the worker to receive the message")
    time.sleep(6)  # longer than a bounce over the limit (5 s)

    assert sandbox.job(waiting).status is JobStatus.QUEUED
    # Left in the job database for when the worker takes jobs again, not bounced.
    assert waiting not in JobQueue(sandbox.load_config()).pending_job_ids()
    sandbox.ok("resume")
    sandbox.wait_until(lambda: sandbox.job(waiting).status.finished, 60, "the second job")
