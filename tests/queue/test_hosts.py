"""Several hosts on one machine: each worker in its own PID and UTS namespace
(``unshare``), all of them sharing one job database in ``tmp_path``.

What these prove: a worker's liveness is judged by its heartbeat, never by a
pid another namespace cannot see; ``mediaforge workers`` lists every worker
with its job; a worker killed with SIGKILL has its job recovered by another
host once its heartbeat is stale.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaforge.jobs.model import JobStatus
from tests.mfcli import MEDIAFORGE, Started
from tests.queue.test_worker import Sandbox, assert_one_good_output

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="simulated hosts need root and unshare (PID, UTS and mount namespaces)",
    ),
]

# In its namespace the worker is not pid 1, and each host's pids start
# elsewhere (1000 * n): a worker's pid is one no other namespace has.
_IN_NAMESPACE = 'hostname "$0"; echo $LAST_PID > /proc/sys/kernel/ns_last_pid; "$@"; exit $?'


class Hosts(Sandbox):
    """A sandbox whose workers run as simulated hosts."""

    def start_host(
        self, hostname: str, *args: str, config: Path | None = None, mounts: str = ""
    ) -> subprocess.Popen[bytes]:
        """``mediaforge worker ARGS`` in new PID, UTS and mount namespaces whose
        hostname is ``hostname``; ``mounts`` is shell run there first (bind
        mounts private to that host). Killing the returned process kills
        everything in the namespace (``--kill-child``)."""
        n = len(self.started) + 1
        out, err = (self.home / f"{hostname}-{n}.{kind}" for kind in ("out", "err"))
        env = dict(self.env)
        if config is not None:
            env["MEDIAFORGE_CONFIG"] = str(config)
        env["LAST_PID"] = str(1000 * n + 999)
        script = (mounts + "; " if mounts else "") + _IN_NAMESPACE
        command = [
            "unshare", "--pid", "--fork", "--mount-proc", "--uts", "--mount",
            "--kill-child=SIGKILL", "--", "sh", "-c", script, hostname,
            *MEDIAFORGE, "worker", *args,
        ]  # fmt: skip
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            process = subprocess.Popen(
                command, env=env, cwd=self.home, stdin=subprocess.DEVNULL,
                stdout=stdout, stderr=stderr,
            )  # fmt: skip
        self.started.append(Started(process, out, err))
        return process

    def workers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.ok("workers", "--json").json()
        return found


@pytest.fixture
def hosts(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Hosts]:
    with Hosts(tmp_path, make_media) as box:
        yield box


def test_workers_with_one_hostname_in_two_pid_namespaces_leave_each_others_jobs_alone(
    hosts: Hosts,
) -> None:
    # Long jobs (20 s of work each) and a recovery sweep every second: on a pid
    # judged across namespaces, each worker would "recover" the other's job.
    hosts.set_pace(0.1)
    first, second = hosts.clip("first.mp4"), hosts.clip("second.mp4")
    [first_id] = hosts.submit([first], "paced")
    a = hosts.start_host("twin")
    hosts.wait_for_progress(first_id)
    [second_id] = hosts.submit([second], "paced")
    b = hosts.start_host("twin")
    hosts.wait_for_progress(second_id)

    # Many sweeps later, neither job was taken from its worker.
    hosts.wait_until(
        lambda: hosts.job(first_id).progress > 0.4 and hosts.job(second_id).progress > 0.2,
        60,
        "both jobs to get well under way",
    )
    for job_id in (first_id, second_id):
        job = hosts.job(job_id)
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1), hosts.logs()
    assert "recovery:" not in hosts.logs()

    # Both listed, on the same hostname, each with its own job.
    def both_running() -> bool:
        listed = hosts.workers()
        jobs = {w["id"]: [j["id"] for j in w["jobs"]] for w in listed}
        return len(listed) == 2 and sorted(map(tuple, jobs.values())) == [(first_id,), (second_id,)]

    hosts.wait_until(both_running, 30, "both workers to be listed with their jobs")
    listed = hosts.workers()
    assert {w["host"] for w in listed} == {"twin"}
    assert {w["state"] for w in listed} == {"running"}
    assert all(w["heartbeat_age"] < 3 for w in listed)
    assert all(0 <= w["jobs"][0]["progress"] < 1 for w in listed)
    assert len({w["id"] for w in listed}) == 2
    for process in (a, b):
        process.kill()
        process.wait(timeout=10)


def test_a_host_killed_mid_job_has_its_job_recovered_by_another_after_the_stale_timeout(
    hosts: Hosts,
) -> None:
    hosts.set_pace(0.1)
    clip = hosts.clip()
    [job_id] = hosts.submit([clip], "paced")
    doomed = hosts.start_host("doomed")
    hosts.wait_for_progress(job_id)
    survivor = hosts.start_host("survivor")
    hosts.wait_until(lambda: len(hosts.workers()) == 2, 30, "the second host to register")

    doomed.kill()  # SIGKILL to the namespace: the worker and its ffmpeg die at once
    doomed.wait(timeout=10)
    hosts.set_pace(None)

    hosts.wait_until(
        lambda: any(w["host"] == "doomed" and w["state"] == "stale" for w in hosts.workers()),
        30,
        "the killed host to be listed as stale",
    )
    hosts.wait_until(
        lambda: hosts.job(job_id).status is JobStatus.SUCCEEDED, 60, "the survivor to finish it"
    )
    job = hosts.job(job_id)
    assert job.attempts == 2
    assert job.worker is not None and job.worker.startswith("survivor:")
    assert_one_good_output(hosts, job_id, "clip", "paced")
    survivor.send_signal(signal.SIGKILL)
    survivor.wait(timeout=10)
