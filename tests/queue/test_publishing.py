"""Publishing is idempotent per job, proven by killing real workers at every step of it.

A worker started with ``MEDIAFORGE_TEST_CRASH_AT=STEP`` kills itself
(SIGKILL: no clean-up, no handler) when it reaches that step of publishing a
job's verified outputs; a second ``worker --burst`` then completes the job.
Whatever the step, the job ends with exactly one file per output of its
preset, all recorded on it, and no hidden leftovers. And a job whose input
changed under it gives way to the newer job of that input: one input path and
preset, one current output.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.publishing import CRASH_ENV
from mediaforge.queue.submission import prepare_jobs
from tests.mfcli import Mediaforge, hidden_leftovers

pytestmark = pytest.mark.slow

# The steps of publishing a job with two outputs, in order (queue/publishing.py).
STEPS = ["planned", "published-1", "published-2", "finishing", "finished"]
# Whether the killed attempt ended the job before it died.
FINISHED_BEFORE_THE_KILL = {"finished"}


def two_outputs(name: str) -> dict[str, Any]:
    """A preset making two small H.264 files in one ffmpeg process."""

    def output(height: int) -> dict[str, Any]:
        return {
            "name": f"{{stem}}.{height}p.mp4",
            "kind": "video",
            "container": "mp4",
            "video": {
                "codec": "libx264",
                "crf": 35,
                "max_height": height,
                "pix_fmt": "yuv420p",
                "options": {"preset": "ultrafast"},
            },
            "audio": {"codec": "aac", "bitrate": "64k"},
        }

    return {"name": name, "description": "two sizes", "outputs": [output(120), output(96)]}


class Installation(Mediaforge):
    """An installation whose media and outputs live in ``media``."""

    def __init__(self, home: Path, media: Path) -> None:
        super().__init__(home)
        self.media = media
        self.add_preset("pair", yaml.safe_dump(two_outputs("pair")))

    def use(self, collision: str, **worker: Any) -> None:
        self.configure(output={"collision": collision}, worker=worker)

    def crashing_burst(self, step: str) -> int:
        """``worker --burst`` that kills itself at ``step``; its exit code."""
        self.env[CRASH_ENV] = step
        try:
            process = self.start("worker", "--burst")
        finally:
            del self.env[CRASH_ENV]
        return self.finish(process).code

    def outputs(self) -> list[str]:
        """Every visible file beside the input, but the input."""
        return sorted(p.name for p in self.media.iterdir() if p.name != "clip.mp4")


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Installation]:
    with Installation(tmp_path / "home", tmp_path / "media") as box:
        yield box


@pytest.fixture
def clip(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    (tmp_path / "media").mkdir()
    return make_media("media/clip.mp4", duration=1.0)


def assert_one_output_each(box: Installation, job_id: int, attempts: int) -> None:
    job = box.store.get(job_id)
    assert job.status is JobStatus.SUCCEEDED, f"{job.to_dict()}\n{box.logs()}"
    assert job.attempts == attempts
    wanted = ["clip.120p.mp4", "clip.96p.mp4"]
    assert box.outputs() == wanted
    assert sorted(Path(o.path).name for o in job.outputs) == wanted
    for output in job.outputs:
        assert Path(output.path).stat().st_size == output.size
    assert hidden_leftovers(box.media) == []


@pytest.mark.parametrize("collision", ["rename", "fail"])
@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_at_any_step_of_publishing_leaves_one_output_per_planned_output(
    install: Installation, clip: Path, step: str, collision: str
) -> None:
    install.use(collision)
    [job_id] = install.submit([clip], "pair")

    assert install.crashing_burst(step) == -signal.SIGKILL
    assert install.store.get(job_id).status is (
        JobStatus.SUCCEEDED if step in FINISHED_BEFORE_THE_KILL else JobStatus.RUNNING
    )

    done = install.burst()
    if step in FINISHED_BEFORE_THE_KILL:
        assert_one_output_each(install, job_id, attempts=1)
    else:
        # The verified files were adopted: no second transcode.
        assert "adopted 2 output(s)" in done.err
        assert_one_output_each(install, job_id, attempts=2)


def test_a_job_killed_while_publishing_its_last_attempt_is_finished_by_the_sweep_not_failed(
    install: Installation, clip: Path
) -> None:
    install.use("rename", max_attempts=1)
    [job_id] = install.submit([clip], "pair")

    assert install.crashing_burst("published-1") == -signal.SIGKILL
    install.burst()

    assert_one_output_each(install, job_id, attempts=2)


def test_a_file_at_the_planned_name_that_is_not_the_jobs_own_is_left_alone(
    install: Installation, clip: Path
) -> None:
    install.use("rename")
    [job_id] = install.submit([clip], "pair")
    assert install.crashing_burst("planned") == -signal.SIGKILL
    # Someone else's file takes the first name before the job is picked up again.
    theirs = install.media / "clip.120p.mp4"
    theirs.write_bytes(b"not ours")

    install.burst()

    job = install.store.get(job_id)
    assert job.status is JobStatus.SUCCEEDED, install.logs()
    assert theirs.read_bytes() == b"not ours"
    assert sorted(Path(o.path).name for o in job.outputs) == [
        "clip.120p (1).mp4",
        "clip.96p.mp4",
    ]
    assert install.outputs() == ["clip.120p (1).mp4", "clip.120p.mp4", "clip.96p.mp4"]
    assert hidden_leftovers(install.media) == []


@pytest.mark.parametrize("step", ["planned", "published-1", "finishing"])
def test_an_hls_folder_killed_while_publishing_is_adopted_once(
    install: Installation, clip: Path, step: str
) -> None:
    install.use("rename")
    [job_id] = install.submit([clip], "hls-ladder")

    assert install.crashing_burst(step) == -signal.SIGKILL
    done = install.burst()

    job = install.store.get(job_id)
    assert job.status is JobStatus.SUCCEEDED, f"{job.to_dict()}\n{install.logs()}"
    assert "adopted 1 output(s)" in done.err
    assert install.outputs() == ["clip.hls"]
    assert [o.path for o in job.outputs] == [str(install.media / "clip.hls")]
    assert (install.media / "clip.hls" / "master.m3u8").is_file()
    assert hidden_leftovers(install.media) == []


# -- an input that changes under its job ------------------------------------------


def queue_job(box: Installation, clip: Path, preset: str = "pair") -> int:
    """A job for ``clip`` as it is now, created and enqueued as a watch folder does."""
    config = box.load_config()
    [new_job] = prepare_jobs(config, [clip], preset)
    [job_id] = box.store.create([new_job])
    JobQueue(config).enqueue(job_id)
    return job_id


def test_a_job_whose_input_changed_before_it_ran_is_superseded_by_the_newer_job(
    install: Installation, clip: Path, make_media: Callable[..., Path]
) -> None:
    install.use("rename")
    first = queue_job(install, clip)  # a copy that paused, readable half-way
    make_media("media/clip.mp4", duration=2.0)  # the copy finished
    second = queue_job(install, clip)

    install.burst()

    old, new = install.store.get(first), install.store.get(second)
    assert old.status is JobStatus.SKIPPED, install.logs()
    assert old.note == f"superseded by job {second}: {clip} changed after this job was created"
    assert old.outputs == ()
    assert_one_output_each(install, second, attempts=1)
    assert new.input_size == clip.stat().st_size


def test_a_job_whose_input_changed_while_it_ran_publishes_nothing_and_the_newer_job_does(
    install: Installation, clip: Path, make_media: Callable[..., Path]
) -> None:
    install.use("rename")
    # The first output is paced: ffmpeg works at a quarter of real time.
    slow = two_outputs("slowpair")
    slow["outputs"][0]["audio"]["options"] = {"filter:a": "arealtime=speed=0.25"}
    install.add_preset("slowpair", yaml.safe_dump(slow))
    first = queue_job(install, clip, "slowpair")
    worker = install.start("worker", "--burst")

    def transcoding() -> bool:
        job = install.store.get(first)
        assert not job.status.finished, install.logs()
        return job.status is JobStatus.RUNNING and job.progress > 0

    install.wait_until(transcoding, 60, "the first job to make progress")
    make_media("media/clip.mp4", duration=2.0)
    second = queue_job(install, clip, "slowpair")
    assert install.finish(worker).code == 0

    old = install.store.get(first)
    assert old.status is JobStatus.SKIPPED, install.logs()
    assert old.note == f"superseded by job {second}: {clip} changed while this job transcoded it"
    assert old.outputs == ()
    assert_one_output_each(install, second, attempts=1)


def test_a_job_whose_input_changed_with_no_newer_job_transcodes_the_current_content(
    install: Installation, clip: Path, make_media: Callable[..., Path]
) -> None:
    install.use("rename")
    job_id = queue_job(install, clip)
    make_media("media/clip.mp4", duration=2.0)

    install.burst()

    assert_one_output_each(install, job_id, attempts=1)
    job = install.store.get(job_id)
    assert job.input_size == clip.stat().st_size
    assert job.input_duration == pytest.approx(2.0, abs=0.1)
