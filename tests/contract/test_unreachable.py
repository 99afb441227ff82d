"""Servers that are up are reported healthy; servers that are away are one clear
line and exit 7, never a client library's traceback, and nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from tests.backends import PostgresServer
from tests.mfcli import Mediaforge, free_port, wait_until

pytestmark = pytest.mark.slow


def test_doctor_reports_the_servers_healthy(
    mf: Mediaforge, postgres_url: str, redis_url: str
) -> None:
    mf.configure(database={"url": postgres_url}, queue={"backend": "redis", "url": redis_url})
    text = mf("doctor").out
    assert "job database" in text and "no jobs yet" in text
    assert "redis: 0 job(s) waiting" in text


def test_a_job_database_that_is_away_is_one_line(mf: Mediaforge) -> None:
    mf.configure(database={"url": f"postgresql://mediaforge@127.0.0.1:{free_port()}/none"})
    done = mf("jobs")
    assert done.code == ExitCode.ENVIRONMENT
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert "cannot open the job database" in done.err and "Traceback" not in done.err


@pytest.mark.parametrize("backend", ["redis", "postgres"])
def test_a_queue_that_is_away_keeps_the_job_for_recovery(
    backend: str,
    request: pytest.FixtureRequest,
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres_url: str,
) -> None:
    scheme = "redis" if backend == "redis" else "postgresql"
    away = f"{scheme}://127.0.0.1:{free_port()}/0"
    mf.configure(database={"url": postgres_url}, queue={"backend": backend, "url": away})
    clip = make_media("a.mp4")
    done = mf("submit", "-p", "remux-mp4", "-o", mf.home / "out", clip)
    assert done.code == ExitCode.ENVIRONMENT
    assert len(done.err.strip().splitlines()) == 1, done.err
    assert f"cannot reach the {backend} queue" in done.err and "Traceback" not in done.err

    up = request.getfixturevalue("redis_url") if backend == "redis" else postgres_url
    mf.configure(
        database={"url": postgres_url},
        queue={"backend": backend, "url": up},
        worker={"recovery_interval": 1},
    )
    # Redis is reached at the first enqueue: the job was made and stays queued.
    # PostgreSQL is reached when the queue is opened, before any job is made.
    made = backend == "redis"
    assert [j["status"] for j in mf.jobs()] == (["queued"] if made else [])
    mf.burst()
    assert [j["status"] for j in mf.jobs()] == (["succeeded"] if made else [])


@pytest.mark.parametrize("waiting", ["status", "submit"])
def test_a_job_database_that_goes_away_mid_command_is_one_line(
    waiting: str,
    mf: Mediaforge,
    postgres: PostgresServer,
    postgres_url: str,
    make_media: Callable[..., Path],
) -> None:
    mf.configure(database={"url": postgres_url})
    clip = make_media("a.mp4")
    # No worker runs: the job stays queued, and the command waits on it.
    if waiting == "status":
        [job_id] = mf.submit([clip], "remux-mp4")
        mf.close_store()
        following = mf.start("status", job_id, "--follow")
    else:
        following = mf.start("submit", "-p", "remux-mp4", "--wait", clip)
    # Following: it has shown the job's state on stderr.
    said = mf.home / f"{waiting}-1.err"
    wait_until(lambda: said.stat().st_size > 0, 30, "the command to follow the job", mf.logs)

    before = said.read_text()
    postgres.stop()  # a server restart, or the network to it cut
    done = mf.finish(following, timeout=60)

    assert done.code == ExitCode.ENVIRONMENT, done.err
    assert "Traceback" not in done.err
    lines = done.err[len(before) :].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: lost the job database"), done.err
