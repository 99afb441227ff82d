"""The worker's promises, proven on real worker processes that the tests really kill.

Every test runs ``python -m mediaforge worker`` as a subprocess with its own
data folder and config in ``tmp_path``, and watches the job database from
here. A job that runs long enough to be killed mid-transcode, without big
media, comes from a user preset whose audio goes through ffmpeg's
``arealtime`` filter: ffmpeg then works at a chosen fraction of real time on
a 2 s clip, whatever the machine's load, and still reports progress.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediaforge.errors import ExitCode
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.storage.local import is_temp_name
from tests.mfcli import QUICK_WORKER, Mediaforge, ffmpeg_pids

pytestmark = pytest.mark.slow

# Beside the quick settings every test installation has: ffmpeg stalls and
# recovery sweeps noticed within seconds.
WORKER = {"stall_timeout": 10, "recovery_interval": 1}


def preset(name: str, *, audio_filter: str | None = None, **video_options: str) -> dict[str, Any]:
    """A small H.264/AAC preset; ``audio_filter`` paces or stalls ffmpeg."""
    audio: dict[str, Any] = {"codec": "aac", "bitrate": "64k"}
    if audio_filter is not None:
        # The audio is mapped straight from the input (the picture goes
        # through the scale graph), so a simple -filter:a applies to it.
        audio["options"] = {"filter:a": audio_filter}
    return {
        "name": name,
        "description": f"test preset {name}",
        "outputs": [
            {
                "name": f"{{stem}}.{name}.mp4",
                "kind": "video",
                "container": "mp4",
                "video": {
                    "codec": "libx264",
                    "crf": 35,
                    "pix_fmt": "yuv420p",
                    "options": {"preset": "ultrafast", **video_options},
                },
                "audio": audio,
            }
        ],
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Sandbox(Mediaforge):
    """A mediaforge installation in ``tmp_path`` itself, with its media and test presets.

    The media, the outputs and the installation share one folder: the
    temporary files and ffmpeg processes of a job are then the ones that
    name that folder.
    """

    def __init__(self, root: Path, make_media: Callable[..., Path]) -> None:
        super().__init__(root)
        self.root = root
        self.make_media = make_media
        self.set_worker()
        self.set_pace(None)
        self.write_preset(preset("fast"))
        # ffmpeg nearly stops: one audio frame (21 ms) per 213 s of wall time.
        self.write_preset(preset("stalls", audio_filter="arealtime=speed=0.0001:limit=100000"))
        # libx264 refuses the profile: ffmpeg fails the same way on every attempt.
        self.write_preset(preset("broken", **{"profile:v": "nosuchprofile"}))

    # -- setting up ------------------------------------------------------------

    def set_worker(self, **worker: float) -> None:
        """Worker settings beside the quick ones; JSON logs (see ``log_records``)."""
        self.configure(worker={**WORKER, **worker}, log={"format": "json"})

    def write_preset(self, data: dict[str, Any]) -> None:
        self.add_preset(data["name"], yaml.safe_dump(data))

    def set_pace(self, speed: float | None) -> None:
        """Make preset ``paced`` run at ``speed`` x real time (None: full speed).

        Workers read presets at each attempt, so a test can make a second
        attempt quick once the first one has served its purpose.
        """
        pace = None if speed is None else f"arealtime=speed={speed}"
        self.write_preset(preset("paced", audio_filter=pace))

    def clip(self, name: str = "clip.mp4") -> Path:
        """A 2 s 320x240 H.264/AAC clip."""
        return self.make_media(name, duration=2.0)

    # -- processes ---------------------------------------------------------------

    def start_worker(self, *args: str) -> subprocess.Popen[bytes]:
        return self.start("worker", *args)

    def run_burst(self, *args: str, timeout: float = 60) -> int:
        """Run ``worker --burst`` to its end; returns its exit code."""
        return self.finish(self.start_worker("--burst", *args), timeout=timeout).code

    # -- looking -------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        return self.store.get(job_id)

    def wait_for_progress(self, job_id: int) -> None:
        """Until the job runs and has written part of its output."""

        def started() -> bool:
            job = self.job(job_id)
            assert not job.status.finished, f"job ended early: {job.to_dict()}\n{self.logs()}"
            return job.status is JobStatus.RUNNING and job.progress > 0

        self.wait_until(started, 60, f"job {job_id} to make progress")

    def ffmpeg_pids(self, marker: str | None = None) -> list[int]:
        """Live ffmpeg processes whose command line mentions ``marker`` (default: the sandbox)."""
        return ffmpeg_pids(marker or str(self.root))

    def temps(self) -> list[Path]:
        return sorted(p for p in self.root.rglob(".*") if is_temp_name(p.name))

    def outputs(self, stem: str, preset_name: str) -> list[Path]:
        """Visible outputs of one input, including numbered duplicates like 'x (1).mp4'."""
        return sorted(self.root.glob(f"{stem}.{preset_name}*.mp4"))

    def log_records(self) -> list[dict[str, Any]]:
        """The workers' JSON log records, worker by worker."""
        records = []
        for started in self.started:
            for line in started.err.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    records.append(json.loads(line))
        return records


@pytest.fixture
def sandbox(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, make_media) as box:
        yield box


def assert_one_good_output(box: Sandbox, job_id: int, stem: str, preset_name: str) -> None:
    job = box.job(job_id)
    assert job.status is JobStatus.SUCCEEDED, f"{job.to_dict()}\n{box.logs()}"
    final = box.root / f"{stem}.{preset_name}.mp4"
    assert box.outputs(stem, preset_name) == [final]
    assert [o.path for o in job.outputs] == [str(final)]
    assert box.temps() == []


# -- dying, cancelling, retrying -------------------------------------------------


def test_a_worker_killed_mid_transcode_leaves_no_output_and_the_job_runs_again_once(
    sandbox: Sandbox,
) -> None:
    clip = sandbox.clip()
    original = sha256(clip)
    sandbox.set_pace(0.2)  # 10 s of work
    [job_id] = sandbox.submit([clip], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)
    assert sandbox.ffmpeg_pids(), "the job's ffmpeg should be running"

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    sandbox.wait_until(lambda: not sandbox.ffmpeg_pids(), 5, "the orphaned ffmpeg to die")
    assert sandbox.job(job_id).status is JobStatus.RUNNING  # nobody has noticed yet
    assert sandbox.outputs("clip", "paced") == []
    assert [p.name for p in sandbox.temps()] == [f".clip.paced.mp4.mf{job_id}-1.part"]

    sandbox.set_pace(None)
    assert sandbox.run_burst() == 0

    job = sandbox.job(job_id)
    assert job.attempts == 2
    assert_one_good_output(sandbox, job_id, "clip", "paced")
    assert sha256(clip) == original


def test_a_frozen_worker_whose_job_was_recovered_drops_its_attempt_when_it_wakes(
    sandbox: Sandbox,
) -> None:
    clip = sandbox.clip()
    # 20 s of work: the frozen worker's ffmpeg must outlast the wait for a stale
    # heartbeat and the second worker's whole run, even on a loaded machine.
    sandbox.set_pace(0.1)
    [job_id] = sandbox.submit([clip], "paced")
    frozen = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    # SIGSTOP freezes the worker but not its ffmpeg (own session): the job
    # looks abandoned once its heartbeat is older than stale_after.
    frozen.send_signal(signal.SIGSTOP)
    stale_after = QUICK_WORKER["stale_after"]
    sandbox.wait_until(
        lambda: time.time() - (sandbox.job(job_id).heartbeat_at or 0) > stale_after,
        stale_after + 10,
        "the frozen worker's heartbeat to go stale",
    )
    sandbox.set_pace(None)
    assert sandbox.run_burst() == 0
    assert sandbox.job(job_id).status is JobStatus.SUCCEEDED
    assert sandbox.ffmpeg_pids(), "the frozen worker's ffmpeg should still run"

    frozen.send_signal(signal.SIGCONT)

    sandbox.wait_until(lambda: not sandbox.ffmpeg_pids(), 5, "the frozen worker to stop ffmpeg")
    sandbox.wait_until(
        lambda: f"job {job_id} was recovered by another worker" in sandbox.logs(),
        5,
        "the woken worker to notice",
    )
    job = sandbox.job(job_id)
    assert job.attempts == 2
    assert job.worker and not job.worker.startswith(f"{socket.gethostname()}:{frozen.pid}/")
    assert_one_good_output(sandbox, job_id, "clip", "paced")
    frozen.send_signal(signal.SIGTERM)
    assert frozen.wait(timeout=20) == 0


def test_cancelling_a_running_job_stops_its_ffmpeg_and_the_worker_goes_on(
    sandbox: Sandbox,
) -> None:
    slow, quick = sandbox.clip("slow.mp4"), sandbox.clip("quick.mp4")
    sandbox.set_pace(0.2)
    [slow_id] = sandbox.submit([slow], "paced")
    [quick_id] = sandbox.submit([quick], "fast")
    worker = sandbox.start_worker("--burst")
    sandbox.wait_for_progress(slow_id)
    assert sandbox.ffmpeg_pids(str(slow))

    done = sandbox("cancel", slow_id)

    assert (done.code, done.out.strip()) == (0, f"job {slow_id} cancelled")
    sandbox.wait_until(lambda: not sandbox.ffmpeg_pids(str(slow)), 5, "the cancelled ffmpeg to die")
    sandbox.wait_until(lambda: not sandbox.temps(), 5, "the cancelled job's temp file to go")
    assert worker.wait(timeout=60) == 0
    cancelled = sandbox.job(slow_id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.outputs == ()
    assert sandbox.outputs("slow", "paced") == []
    assert_one_good_output(sandbox, quick_id, "quick", "fast")


def test_input_that_is_not_media_fails_at_once_and_succeeds_when_retried_after_a_fix(
    sandbox: Sandbox,
) -> None:
    clip = sandbox.clip()
    [job_id] = sandbox.submit([clip], "fast")
    # Submitting probes the input, so it turns into something else afterwards.
    clip.write_bytes(b"this is not a video\n" * 50)
    assert sandbox.run_burst() == 0

    failed = sandbox.job(job_id)
    assert (failed.status, failed.attempts) == (JobStatus.FAILED, 1)
    assert failed.error and "\n" not in failed.error and str(clip) in failed.error
    assert clip.read_bytes() == b"this is not a video\n" * 50

    # A retry checks the input as submit does: still not media, so not queued.
    too_soon = sandbox("retry", job_id)
    assert too_soon.code == ExitCode.INPUT
    assert str(clip) in too_soon.err and sandbox.job(job_id).status is JobStatus.FAILED
    sandbox.clip("clip.mp4")  # the user fixes the input in place

    done = sandbox("retry", job_id)

    assert (done.code, done.out.strip()) == (0, f"job {job_id} queued again")
    queued = sandbox.job(job_id)
    assert (queued.status, queued.attempts, queued.error) == (JobStatus.QUEUED, 0, None)

    assert sandbox.run_burst() == 0

    assert sandbox.job(job_id).attempts == 1
    assert_one_good_output(sandbox, job_id, "clip", "fast")


def test_retry_failed_queues_every_failed_job_and_only_those(sandbox: Sandbox) -> None:
    bad = [sandbox.clip("bad-1.mp4"), sandbox.clip("bad-2.mp4")]
    bad_ids = sandbox.submit(bad, "fast")
    for path in bad:
        path.write_bytes(b"garbage" * 100)
    [good_id] = sandbox.submit([sandbox.clip("good.mp4")], "fast")
    assert sandbox.run_burst() == 0
    assert [sandbox.job(i).status for i in bad_ids] == [JobStatus.FAILED] * 2
    for path in bad:  # fixed: a retry checks the input as submit does
        sandbox.clip(path.name)

    done = sandbox("retry", "--failed")

    assert done.code == 0, done.err
    assert done.out.splitlines() == [f"job {i} queued again" for i in bad_ids]
    assert [sandbox.job(i).status for i in bad_ids] == [JobStatus.QUEUED] * 2
    assert sandbox.job(good_id).status is JobStatus.SUCCEEDED
    assert JobQueue(sandbox.load_config()).pending_job_ids() == set(bad_ids)
    again = sandbox("retry", "--failed")
    assert (again.code, again.out.strip()) == (0, "no failed jobs")
    refused = sandbox("retry", good_id)
    assert refused.code == 1
    assert f"job {good_id} is succeeded; only failed or cancelled jobs" in refused.err


def test_an_ffmpeg_failure_is_retried_after_a_growing_backoff_until_attempts_run_out(
    sandbox: Sandbox,
) -> None:
    backoff = 0.3
    sandbox.set_worker(max_attempts=3, retry_backoff=backoff)
    [job_id] = sandbox.submit([sandbox.clip()], "broken")

    assert sandbox.run_burst() == 0

    job = sandbox.job(job_id)
    assert (job.status, job.attempts, job.max_attempts) == (JobStatus.FAILED, 3, 3)
    assert job.error == "ffmpeg exited with code 1: Error setting profile nosuchprofile."
    assert job.log_tail and "invalid profile: nosuchprofile" in job.log_tail
    assert sandbox.outputs("clip", "broken") == [] and sandbox.temps() == []
    # Each attempt starts at least its backoff after the previous one failed.
    events = []
    for record in sandbox.log_records():
        when = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        if record["message"].startswith(f"job {job_id}: "):
            events.append(("start", when))
        elif record["message"].startswith(f"job {job_id} attempt "):
            events.append(("retry", when))
    assert [kind for kind, _ in events] == ["start", "retry", "start", "retry", "start"]
    gaps = [events[i + 1][1] - events[i][1] for i in (1, 3)]
    assert gaps[0] >= backoff and gaps[1] >= 2 * backoff, gaps


def test_an_ffmpeg_that_stalls_is_killed_and_the_attempt_counts_as_a_transient_failure(
    sandbox: Sandbox,
) -> None:
    # A hung NAS read cannot be made here on purpose; an arealtime filter that
    # sleeps for minutes between audio frames stalls a real ffmpeg just as well.
    sandbox.set_worker(stall_timeout=2, max_attempts=2)
    [job_id] = sandbox.submit([sandbox.clip()], "stalls")

    assert sandbox.run_burst() == 0

    job = sandbox.job(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert job.error == "ffmpeg made no progress for 2 s and was killed"
    assert sandbox.ffmpeg_pids() == []
    assert sandbox.outputs("clip", "stalls") == [] and sandbox.temps() == []


# -- stopping --------------------------------------------------------------------


def assert_handed_back(box: Sandbox, job_id: int) -> None:
    job = box.job(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.QUEUED, 0, None), box.logs()
    assert job_id in JobQueue(box.load_config()).pending_job_ids()
    assert box.ffmpeg_pids() == []
    assert box.temps() == []
    assert box.outputs("clip", "paced") == []


def test_sigterm_hands_a_running_job_back_after_the_grace_and_a_later_worker_finishes_it(
    sandbox: Sandbox,
) -> None:
    grace = 1.0
    sandbox.set_worker(shutdown_grace=grace)
    sandbox.set_pace(0.1)  # 20 s of work: far longer than the grace
    [job_id] = sandbox.submit([sandbox.clip()], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    signalled = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=grace + 10)
    took = time.monotonic() - signalled

    assert code == 0
    assert grace <= took < grace + 5
    assert_handed_back(sandbox, job_id)

    sandbox.set_pace(None)
    assert sandbox.run_burst() == 0
    assert sandbox.job(job_id).attempts == 1
    assert_one_good_output(sandbox, job_id, "clip", "paced")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_second_stop_signal_hands_the_running_job_back_at_once(
    sandbox: Sandbox, stop_signal: signal.Signals
) -> None:
    sandbox.set_worker(shutdown_grace=120)
    sandbox.set_pace(0.1)
    [job_id] = sandbox.submit([sandbox.clip()], "paced")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    worker.send_signal(stop_signal)
    sandbox.wait_until(
        lambda: "stopping: waiting up to" in sandbox.logs(),
        10,
        "the worker to start its graceful stop",
    )
    assert worker.poll() is None
    worker.send_signal(stop_signal)

    assert worker.wait(timeout=20) == 0
    assert_handed_back(sandbox, job_id)


def test_sigterm_lets_a_job_that_ends_within_the_grace_succeed_and_takes_no_more_work(
    sandbox: Sandbox,
) -> None:
    sandbox.set_worker(shutdown_grace=120)
    sandbox.set_pace(1.0)  # 2 s of work
    [job_id] = sandbox.submit([sandbox.clip()], "paced")
    [next_id] = sandbox.submit([sandbox.clip("next.mp4")], "fast")
    worker = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=60) == 0
    assert sandbox.job(job_id).attempts == 1
    assert_one_good_output(sandbox, job_id, "clip", "paced")
    untouched = sandbox.job(next_id)
    assert (untouched.status, untouched.attempts) == (JobStatus.QUEUED, 0)


# -- bursts ----------------------------------------------------------------------


def test_a_burst_worker_exits_0_at_once_on_an_empty_queue(sandbox: Sandbox) -> None:
    started = time.monotonic()
    assert sandbox.run_burst() == 0
    assert time.monotonic() - started < 20  # seconds of Python start-up, not a hang


def test_a_burst_worker_with_two_threads_runs_every_job_exactly_once(sandbox: Sandbox) -> None:
    clips = [sandbox.clip(f"clip-{n}.mp4") for n in range(6)]
    ids = sandbox.submit(clips, "fast")

    assert sandbox.run_burst("--workers", "2") == 0

    jobs = [sandbox.job(i) for i in ids]
    assert [(j.status, j.attempts) for j in jobs] == [(JobStatus.SUCCEEDED, 1)] * 6
    for n, job_id in enumerate(ids):
        assert_one_good_output(sandbox, job_id, f"clip-{n}", "fast")
    assert len({j.worker for j in jobs}) == 2, "both worker threads should have run jobs"
