"""mediaforge on servers, as a user runs it: ``submit`` and real workers with the
job database on PostgreSQL and the queue on PostgreSQL or Redis, real ffmpeg,
and a PostgreSQL restart in the middle of a job."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mediaforge.events import Event
from mediaforge.jobs.model import NewJob
from mediaforge.queue.backend import JobQueue
from tests.backends import PostgresServer
from tests.mfcli import Mediaforge, ffmpeg_pids
from tests.servers import Webhook

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("queue_backend", ["postgres", "redis"])
def test_submit_and_a_burst_worker_run_jobs_on_servers(
    queue_backend: str,
    request: pytest.FixtureRequest,
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres_url: str,
    webhook: Webhook,
) -> None:
    queue_url = (
        postgres_url if queue_backend == "postgres" else request.getfixturevalue("redis_url")
    )
    target = {"url": webhook.url(), "events": [Event.JOB_SUCCEEDED.value]}
    mf.configure(
        database={"url": postgres_url},
        queue={"backend": queue_backend, "url": queue_url},
        notify={"targets": [target], "window": 0, "retries": 0},
    )
    clips = [make_media("a.mp4"), make_media("b.mp4")]
    out = mf.home / "out"
    mf.ok("submit", "-p", "remux-mp4", "--priority", "5", "-o", out, *clips)
    mf.ok("submit", "-p", "remux-mp4", "-o", out, make_media("c.mp4"))
    mf.burst()
    jobs = mf.jobs()
    assert sorted(j["status"] for j in jobs) == ["succeeded"] * 3
    assert sorted(p.name for p in out.iterdir()) == [
        "a.remux.mp4", "b.remux.mp4", "c.remux.mp4"
    ]  # fmt: skip
    assert len(webhook.posts) == 3
    assert not (mf.data / "jobs.db").exists(), "the job database is on the server"


# ffmpeg works at real time on this preset's audio (arealtime), so a 6 s clip
# takes about 6 s whatever the machine's load: time to stop the server mid-job.
REALTIME = {
    "name": "realtime",
    "description": "H.264/AAC at real-time speed",
    "outputs": [
        {
            "name": "{stem}.realtime.mp4",
            "kind": "video",
            "container": "mp4",
            "video": {"codec": "libx264", "crf": 35, "options": {"preset": "ultrafast"}},
            "audio": {"codec": "aac", "options": {"filter:a": "arealtime"}},
        }
    ],
}


def start_a_realtime_job(
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres_url: str,
    tmp_path: Path,
    *,
    stale_after: float,
) -> tuple[Path, Path]:
    """A 6 s clip submitted on PostgreSQL (job database and queue) with the
    real-time preset, and a worker started: the clip and the output folder."""
    mf.configure(
        database={"url": postgres_url},
        queue={"backend": "postgres", "url": postgres_url},
        worker={"stale_after": stale_after, "recovery_interval": 1},
    )
    mf.add_preset("realtime", yaml.safe_dump(REALTIME))
    clip = make_media("long.mp4", duration=6.0)
    out = tmp_path / "out"
    mf.ok("submit", "-p", "realtime", "-o", out, clip)
    mf.start("worker")
    return clip, out


def test_a_worker_rides_out_a_postgres_restart_mid_job(
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres: PostgresServer,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    clip, out = start_a_realtime_job(mf, make_media, postgres_url, tmp_path, stale_after=15)
    mf.wait_until(
        lambda: mf.jobs()[0]["status"] == "running" and bool(ffmpeg_pids(str(clip))),
        30,
        "the job to run",
    )
    time.sleep(1.0)
    (ffmpeg,) = ffmpeg_pids(str(clip))
    postgres.stop()
    time.sleep(1.0)
    postgres.start()
    assert ffmpeg in ffmpeg_pids(str(clip)), "ffmpeg was killed during the outage"
    mf.wait_until(lambda: mf.jobs()[0]["status"] == "succeeded", 60, "the job to succeed")
    (job,) = mf.jobs()
    assert job["attempts"] == 1
    assert [p.name for p in out.iterdir()] == ["long.realtime.mp4"]
    assert "unreachable" in mf.logs()
    worker = mf.started[0].process
    assert worker.poll() is None, "the worker died"
    os.kill(worker.pid, 15)
    assert mf.finish(worker).code == 0


def test_an_outage_longer_than_stale_after_stops_ffmpeg_and_the_job_runs_again(
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres: PostgresServer,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    clip, out = start_a_realtime_job(mf, make_media, postgres_url, tmp_path, stale_after=2)
    mf.wait_until(lambda: bool(ffmpeg_pids(str(clip))), 30, "ffmpeg to start")
    (first,) = ffmpeg_pids(str(clip))
    postgres.stop()
    mf.wait_until(lambda: first not in ffmpeg_pids(str(clip)), 10, "ffmpeg to be stopped")
    postgres.start()
    mf.wait_until(lambda: mf.jobs()[0]["status"] == "succeeded", 90, "the job to succeed")
    assert [p.name for p in out.iterdir()] == ["long.realtime.mp4"]
    assert "database unreachable" in mf.logs() or "left to recovery" in mf.logs()


def test_a_job_taken_while_postgres_is_down_is_queued_again_not_dropped(
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres: PostgresServer,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    # The queue (Redis) stays up while the job database is away; no recovery
    # sweep during the test, so only the worker itself can save the message.
    mf.configure(
        database={"url": postgres_url},
        queue={"backend": "redis", "url": redis_url},
        worker={"recovery_interval": 3600},
    )
    mf.start("worker")
    mf.wait_until(lambda: "started" in mf.logs(), 30, "the worker to start")
    clip = make_media("a.mp4")
    out = tmp_path / "out"
    (job_id,) = mf.store.create([NewJob(str(clip), "remux-mp4", output_dir=str(out))])
    postgres.stop()
    queue = JobQueue(mf.load_config())
    queue.enqueue(job_id)
    mf.wait_until(lambda: queue.huey.pending_count() == 0, 30, "the worker to take the job")
    time.sleep(1.0)  # its claim meets the outage
    postgres.start()
    mf.wait_until(lambda: mf.status(job_id)["status"] == "succeeded", 60, "the job to succeed")
    assert [p.name for p in out.iterdir()] == ["a.remux.mp4"]
    assert "queued again" in mf.logs()
