"""Several hosts, one farm: three ``mediaforge worker`` processes, each in its
own UTS, PID and mount namespace (``unshare``) with its own hostname and data
folder, share one job database on PostgreSQL and one queue (PostgreSQL, or
Redis) on 127.0.0.1, and run 60 jobs while things go wrong:

- one host's worker is killed with SIGKILL in the middle of a job, then
  started again (a new worker on the same host);
- PostgreSQL is restarted in the middle of the run;
- one host does not have the share mounted: it hands its jobs back.

At the end every job succeeded once, with one output beside its input and no
temporary file, and nothing is left running.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaforge.jobs.model import Job, JobStatus
from mediaforge.queue.backend import JobQueue
from tests.backends import PostgresServer
from tests.mfcli import ffmpeg_pids
from tests.queue.test_hosts import CANONICAL, Hosts
from tests.queue.test_worker import WORKER

pytestmark = pytest.mark.slow  # unshare and root are checked in test_hosts' own marks

JOBS = 60
# Each job runs at real time on a 2 s clip (2 s of wall time, little CPU): long
# enough to be caught mid-job (ffmpeg reports progress about every 0.5 s),
# short enough for 60 jobs on a small machine.
PACE = 1.0
# Outages of a second or two are ridden out; a killed host is noticed in 5 s.
FARM_WORKER = {
    **WORKER,
    "heartbeat_interval": 0.5,
    "stale_after": 5,
    "recovery_interval": 1,
    "retry_backoff": 0.2,
    "handback_delay": 0.5,
    "handback_limit": 100,
}


class Farm:
    """The hosts of one run: the NAS folder, each host's config and its worker."""

    def __init__(self, box: Hosts, database: str, queue: dict[str, str]) -> None:
        self.box = box
        box.configure(database={"url": database}, queue=queue, worker=FARM_WORKER,
                      log={"format": "json"})  # fmt: skip
        box.set_pace(PACE)
        # The NAS, as the machine the jobs are submitted from sees it...
        self.nas = box.root / "nas"
        (self.nas / "in").mkdir(parents=True)
        # ...and the mount point every worker host maps the share to; only the
        # hosts that mount it (a bind mount in their own namespace) see files there.
        self.mount_point = box.root / "mnt" / "media"
        self.mount_point.mkdir(parents=True)
        self.desk = self.config("desk", self.nas)
        self.worker_config = self.config("worker", self.mount_point)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def config(self, name: str, local: Path) -> Path:
        path = self.box.home / f"{name}.yaml"
        mapping = json.dumps([{"canonical": CANONICAL, "local": str(local)}])
        path.write_text(self.box.config.read_text() + f"paths: {mapping}\n", encoding="utf-8")
        return path

    def start(self, host: str, *, mounted: bool = True) -> None:
        data = self.box.root / "hosts" / host  # each host's own data folder
        data.mkdir(parents=True, exist_ok=True)
        mounts = f"mount --bind {self.nas} {self.mount_point}" if mounted else ""
        self.processes[host] = self.box.start_host(
            host, "--workers", "2", config=self.worker_config, mounts=mounts,
            env={"MEDIAFORGE_DATA_DIR": str(data)},
        )  # fmt: skip

    def kill(self, host: str) -> None:
        process = self.processes.pop(host)
        process.kill()  # SIGKILL to unshare: everything in the namespace dies
        process.wait(timeout=10)

    def jobs(self) -> list[Job]:
        return [self.box.job(i) for i in self.ids]

    def running_on(self, host: str) -> list[Job]:
        """Jobs a worker on ``host`` holds, in one query (the test acts on it at once)."""
        running = self.box.store.list_jobs(JobStatus.RUNNING, limit=JOBS)
        return [j for j in running if (j.worker or "").startswith(f"{host}:")]

    def submit(self, clip: Path) -> None:
        inputs = []
        for n in range(JOBS):
            inputs.append(self.nas / "in" / f"clip-{n:02d}.mp4")
            shutil.copy2(clip, inputs[-1])
        submitted = self.box.on(self.desk, "submit", *inputs, "--preset", "paced", "--json")
        assert submitted.code == 0, submitted.err
        self.ids = [job["id"] for job in submitted.json()]
        assert len(self.ids) == JOBS
        assert {job["input"].rsplit("/", 2)[0] for job in submitted.json()} == {CANONICAL}


@pytest.fixture
def hosts(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Hosts]:
    with Hosts(tmp_path, make_media) as box:
        yield box


@pytest.mark.parametrize("queue_backend", ["postgres", "redis"])
def test_sixty_jobs_on_three_hosts_through_a_kill_a_database_restart_and_a_missing_mount(
    queue_backend: str,
    request: pytest.FixtureRequest,
    hosts: Hosts,
    postgres: PostgresServer,
    postgres_url: str,
) -> None:
    queue_url = (
        postgres_url if queue_backend == "postgres" else request.getfixturevalue("redis_url")
    )
    farm = Farm(hosts, postgres_url, {"backend": queue_backend, "url": queue_url})
    farm.submit(hosts.make_media("clip.mp4", duration=2.0, size="160x120"))
    for host in ("alpha", "beta"):
        farm.start(host)
    farm.start("gamma", mounted=False)  # the share is not mounted on gamma
    hosts.wait_until(lambda: len(hosts.workers()) == 3, 30, "the three hosts to register")

    # alpha dies with a job under way, and comes back as a new worker.
    # (A job under way, not near its end: ffmpeg has made progress, and most
    # of the job is left.)
    def alpha_mid_job() -> bool:
        return any(0 < j.progress < 0.6 for j in farm.running_on("alpha"))

    hosts.wait_until(alpha_mid_job, 60, "alpha to be in the middle of a job")
    farm.kill("alpha")
    interrupted = [j.id for j in farm.running_on("alpha")]
    assert interrupted, "alpha's job finished before the kill reached it"
    farm.start("alpha")
    hosts.wait_until(
        lambda: sum(w["host"] == "alpha" and w["state"] != "stale" for w in hosts.workers()) == 1,
        30,
        "alpha's new worker to register",
    )

    # The database goes away for a second while jobs run on every host.
    hosts.wait_until(
        lambda: sum(j.status is JobStatus.SUCCEEDED for j in farm.jobs()) >= JOBS // 4,
        90,
        "a quarter of the jobs to succeed",
    )
    hosts.close_store()
    postgres.stop()
    time.sleep(1.0)
    postgres.start()

    hosts.wait_until(
        lambda: all(j.status.finished for j in farm.jobs()), 150, "every job to finish"
    )
    jobs = farm.jobs()
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * JOBS, hosts.logs()

    # Exactly once: one attempt each, two for the jobs alpha died in.
    attempts = {j.id: j.attempts for j in jobs}
    assert attempts == {i: 2 if i in interrupted else 1 for i in farm.ids}
    for job in jobs:
        stem = Path(job.input_path).stem
        assert [o.path for o in job.outputs] == [f"{CANONICAL}/in/{stem}.paced.mp4"]
    produced = sorted(p.name for p in (farm.nas / "in").iterdir() if ".paced" in p.name)
    assert produced == sorted(f"clip-{n:02d}.paced.mp4" for n in range(JOBS))
    assert hosts.temps() == []
    assert not any((farm.mount_point).iterdir()), "a worker wrote beside the mount point"

    # gamma, which cannot see the share, ran nothing and failed nothing: it handed jobs back.
    assert not any((j.worker or "").startswith("gamma:") for j in jobs)
    assert sum(j.handbacks for j in jobs) > 0
    assert "host gamma cannot see" in hosts.logs()
    winners = {(j.worker or "").split(":")[0] for j in jobs}
    assert winners == {"alpha", "beta"}

    # The outage was ridden out: no queue message was dropped with a traceback.
    assert "Unhandled exception" not in hosts.logs()

    # Nothing left running: no job held, nothing queued, no ffmpeg.
    listed = hosts.workers()
    assert {w["host"] for w in listed if w["state"] != "stale"} == {"alpha", "beta", "gamma"}
    assert [w["jobs"] for w in listed] == [[]] * len(listed)
    assert JobQueue(hosts.load_config()).huey.pending_count() == 0
    for host in list(farm.processes):
        farm.kill(host)
    assert ffmpeg_pids(str(hosts.root)) == []
