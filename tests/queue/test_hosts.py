"""Several hosts on one machine: each worker in its own PID and UTS namespace
(``unshare``), all of them sharing one job database in ``tmp_path``.

What these prove: a worker's liveness is judged by its heartbeat, never by a
pid another namespace cannot see; ``mediaforge workers`` lists every worker
with its job; a worker killed with SIGKILL has its job recovered by another
host once its heartbeat is stale.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.publishing import CRASH_ENV
from tests.mfcli import MEDIAFORGE, Done, Started, ffprobe
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
        self,
        hostname: str,
        *args: str,
        config: Path | None = None,
        mounts: str = "",
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """``mediaforge worker ARGS`` in new PID, UTS and mount namespaces whose
        hostname is ``hostname``; ``mounts`` is shell run there first (bind
        mounts private to that host). Killing the returned process kills
        everything in the namespace (``--kill-child``)."""
        n = len(self.started) + 1
        out, err = (self.home / f"{hostname}-{n}.{kind}" for kind in ("out", "err"))
        env = {**self.env, **(env or {})}
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

    def on(self, config: Path, *args: object) -> Done:
        """``mediaforge ARGS`` with ``config`` in place of the installation's own."""
        done = subprocess.run(
            [*MEDIAFORGE, *map(str, args)],
            env={**self.env, "MEDIAFORGE_CONFIG": str(config)}, cwd=self.home,
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return self.record(Done(done.returncode, done.stdout, done.stderr))

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


# -- shared storage mounted at different paths ------------------------------------------

CANONICAL = "/shared/media"  # the path jobs store; no host has it as such


def host_config(box: Hosts, name: str, local: Path, **worker: float) -> Path:
    """A config for one simulated host: the installation's settings, with
    ``CANONICAL`` mapped to ``local`` (and ``worker`` settings added)."""
    box.set_worker(**worker)
    path = box.home / f"{name}.yaml"
    mapping = json.dumps([{"canonical": CANONICAL, "local": str(local)}])
    path.write_text(box.config.read_text() + f"paths: {mapping}\n", encoding="utf-8")
    return path


def share(box: Hosts, folder: str, clip: Path) -> Path:
    """``folder`` under the sandbox holding a copy of ``clip``: one host's view of the NAS."""
    local = box.root / folder
    local.mkdir()
    shutil.copy2(clip, local / clip.name)
    return local


def test_hosts_that_mount_the_share_at_different_paths_run_each_others_jobs(
    hosts: Hosts,
) -> None:
    clip = hosts.clip()
    alpha_share, beta_share = share(hosts, "alpha-nas", clip), share(hosts, "beta-nas", clip)
    alpha = host_config(hosts, "alpha", alpha_share)
    beta = host_config(hosts, "beta", beta_share)

    # Submitted on alpha, with alpha's path: the job holds the canonical one.
    submitted = hosts.on(alpha, "submit", alpha_share / "clip.mp4", "--preset", "fast", "--json")
    assert submitted.code == 0, submitted.err
    [job] = submitted.json()
    assert job["input"] == f"{CANONICAL}/clip.mp4"

    # Run on beta, which reads and writes under its own mount point.
    assert hosts.finish(hosts.start_host("beta", "--burst", config=beta), timeout=60).code == 0

    done = hosts.status(job["id"])
    assert done["status"] == "succeeded", hosts.logs()
    assert [o["path"] for o in done["outputs"]] == [f"{CANONICAL}/clip.fast.mp4"]
    assert (beta_share / "clip.fast.mp4").is_file()
    assert not (alpha_share / "clip.fast.mp4").exists()
    assert ffprobe(beta_share / "clip.fast.mp4")["format"]["duration"]


def test_a_host_that_died_while_publishing_has_its_outputs_adopted_by_a_host_with_another_mount(
    hosts: Hosts,
) -> None:
    # One share, mounted at alpha-view on alpha and beta-view on beta (bind
    # mounts in each host's own mount namespace): the same files, other paths.
    nas = share(hosts, "nas", hosts.clip())
    views = {name: hosts.root / f"{name}-view" for name in ("alpha", "beta")}
    for view in views.values():
        view.mkdir()
    alpha = host_config(hosts, "alpha", views["alpha"])
    beta = host_config(hosts, "beta", views["beta"])
    [job] = hosts.submit([nas / "clip.mp4"], "fast")  # no mapping here: a plain path
    hosts.store.db.execute_sql(
        'UPDATE "job" SET input_path = ? WHERE id = ?', (f"{CANONICAL}/clip.mp4", job)
    )

    # alpha dies right after its output is in place, before the job is marked done.
    crashed = hosts.start_host(
        "alpha", "--burst", config=alpha, mounts=f"mount --bind {nas} {views['alpha']}",
        env={CRASH_ENV: "published-1"},
    )  # fmt: skip
    assert hosts.finish(crashed, timeout=60).code == 128 + signal.SIGKILL  # as sh reports it
    assert (nas / "clip.fast.mp4").is_file()
    assert hosts.job(job).status is JobStatus.RUNNING

    hosts.start_host("beta", config=beta, mounts=f"mount --bind {nas} {views['beta']}")
    hosts.wait_until(lambda: hosts.job(job).status.finished, 60, "beta to finish the job")

    done = hosts.job(job)
    assert done.status is JobStatus.SUCCEEDED, hosts.logs()
    assert [o.path for o in done.outputs] == [f"{CANONICAL}/clip.fast.mp4"]
    assert sorted(p.name for p in nas.iterdir() if "fast" in p.name) == ["clip.fast.mp4"]
    assert "adopted 1 output(s)" in hosts.logs()


def test_a_host_without_the_mount_hands_the_job_back_and_another_host_runs_it(
    hosts: Hosts,
) -> None:
    clip = hosts.clip()
    long = hosts.clip("long.mp4")
    nas = share(hosts, "nas", clip)
    shutil.copy2(long, nas / "long.mp4")
    beta = host_config(hosts, "beta", nas)
    gamma = host_config(hosts, "gamma", hosts.root / "not-mounted", handback_delay=1.0)

    # beta is busy with a long job when the next one comes: gamma is free, and
    # cannot see the share.
    hosts.set_pace(0.25)
    busy = hosts.on(beta, "submit", nas / "long.mp4", "--preset", "paced", "--json").json()
    hosts.start_host("beta", config=beta)
    hosts.wait_for_progress(busy[0]["id"])
    hosts.start_host("gamma", config=gamma)
    hosts.wait_until(lambda: len(hosts.workers()) == 2, 30, "gamma to register")
    [job] = hosts.on(beta, "submit", nas / "clip.mp4", "--preset", "fast", "--json").json()

    note = f"host gamma cannot see {CANONICAL}; handed back for another host (refused by gamma)"
    # `status` shows why the job waits (until a worker takes it again).
    hosts.wait_until(lambda: hosts.status(job["id"])["note"] == note, 30, "gamma's hand-back")

    hosts.wait_until(lambda: hosts.status(job["id"])["status"] == "succeeded", 60, "beta to run it")
    done = hosts.job(job["id"])
    assert done.worker is not None and done.worker.startswith("beta:")
    assert done.attempts == 1 and done.handbacks >= 1  # gamma's refusals used no attempt
    # However often gamma refused, it counts once.
    assert [h.split("|")[0] for h in json.loads(done.refusals or "{}")["hosts"]] == ["gamma"]
    assert (nas / "clip.fast.mp4").is_file()
    assert not (hosts.root / "not-mounted").exists()  # nothing created in its place


def test_a_blind_host_refusing_again_and_again_never_fails_a_job_a_busy_host_can_see(
    hosts: Hosts,
) -> None:
    # gamma cannot see the share and would reach any count of hand-backs
    # while beta, which can, is busy: only distinct hosts count.
    clip = hosts.clip()
    nas = share(hosts, "nas", clip)
    shutil.copy2(hosts.clip("long.mp4"), nas / "long.mp4")
    beta = host_config(hosts, "beta", nas)
    gamma = host_config(
        hosts, "gamma", hosts.root / "not-mounted", handback_delay=0.1, handback_limit=1
    )
    hosts.set_pace(0.1)
    busy = hosts.on(beta, "submit", nas / "long.mp4", "--preset", "paced", "--json").json()
    hosts.start_host("beta", config=beta)
    hosts.wait_for_progress(busy[0]["id"])
    hosts.start_host("gamma", config=gamma)
    hosts.wait_until(lambda: len(hosts.workers()) == 2, 30, "gamma to register")
    [job] = hosts.on(beta, "submit", nas / "clip.mp4", "--preset", "fast", "--json").json()

    def refused_thrice_or_ended() -> bool:
        seen = hosts.job(job["id"])
        return seen.handbacks >= 3 or seen.status.finished

    hosts.wait_until(refused_thrice_or_ended, 60, "gamma to refuse thrice")
    assert hosts.job(job["id"]).status is JobStatus.QUEUED, hosts.job(job["id"]).error
    assert hosts.job(busy[0]["id"]).status is JobStatus.RUNNING  # beta never had a turn

    hosts.wait_until(lambda: hosts.job(job["id"]).status.finished, 120, "beta to run it")
    done = hosts.job(job["id"])
    assert done.status is JobStatus.SUCCEEDED, hosts.logs()
    assert done.worker is not None and done.worker.startswith("beta:")


def test_a_job_no_live_host_can_see_waits_then_fails_naming_the_folder_and_hosts(
    hosts: Hosts,
) -> None:
    clip = hosts.clip()
    nas = share(hosts, "nas", clip)
    beta = host_config(hosts, "beta", nas)
    blind = {"handback_delay": 0.3, "handback_limit": 2}
    gamma = host_config(hosts, "gamma", hosts.root / "gone-g", **blind)
    delta = host_config(hosts, "delta", hosts.root / "gone-d", **blind)
    hosts.start_host("gamma", config=gamma)
    hosts.start_host("delta", config=delta)
    hosts.wait_until(lambda: len(hosts.workers()) == 2, 30, "both hosts to register")

    # Submitted where the share is mounted; neither worker's host mounts it.
    [job] = hosts.on(beta, "submit", nas / "clip.mp4", "--preset", "fast", "--json").json()

    hosts.wait_until(lambda: hosts.status(job["id"])["status"] == "failed", 60, "the job to fail")
    error = hosts.status(job["id"])["error"]
    assert error.startswith(
        f"no live worker host can see {CANONICAL} (refused by delta, gamma; waited 2 round(s))"
    )
    assert "mount it on a worker's host" in error
    assert "\n" not in error


def test_doctor_names_the_mapped_folders_missing_on_this_host(hosts: Hosts) -> None:
    present = share(hosts, "nas", hosts.clip())  # a share shows its files
    config = hosts.home / "doctor.yaml"
    mapping = [
        {"canonical": "/shared/media", "local": str(present)},
        {"canonical": "/shared/archive", "local": str(hosts.root / "archive-not-mounted")},
    ]
    config.write_text(hosts.config.read_text() + f"paths: {json.dumps(mapping)}\n")

    done = hosts.on(config, "doctor")

    assert done.code != 0
    line = next(line for line in done.out.splitlines() if "paths" in line)
    assert f"{hosts.root / 'archive-not-mounted'} (for /shared/archive) is missing" in line
    assert str(present) + " " not in line


def test_a_mapping_without_its_local_folder_is_refused_naming_the_field(
    hosts: Hosts,
) -> None:
    config = hosts.home / "bad.yaml"
    config.write_text(hosts.config.read_text() + 'paths: [{"canonical": "/media"}]\n')

    done = hosts.on(config, "config", "check")

    assert done.code != 0
    assert "paths[0].local" in done.err and "is required" in done.err
    assert "Traceback" not in done.err


def test_retry_on_another_host_checks_the_input_where_that_host_mounts_it(hosts: Hosts) -> None:
    clip = hosts.clip()
    alpha_share, beta_share = share(hosts, "alpha-nas", clip), share(hosts, "beta-nas", clip)
    alpha = host_config(hosts, "alpha", alpha_share)
    beta = host_config(hosts, "beta", beta_share)
    [job] = hosts.on(alpha, "submit", alpha_share / "clip.mp4", "--preset", "fast", "--json").json()
    assert hosts.on(alpha, "cancel", job["id"]).code == 0

    retried = hosts.on(beta, "retry", job["id"])

    assert retried.code == 0, retried.err
    assert hosts.status(job["id"])["status"] == "queued"


def test_a_host_without_the_mount_hands_back_even_before_another_host_is_up(
    hosts: Hosts,
) -> None:
    # After a power cut hosts come back in any order: the first one up may not
    # have the share mounted yet. Its jobs wait for a host that sees it.
    nas = share(hosts, "nas", hosts.clip())
    beta = host_config(hosts, "beta", nas)
    gamma = host_config(hosts, "gamma", hosts.root / "not-mounted", handback_delay=0.5)
    [job] = hosts.on(beta, "submit", nas / "clip.mp4", "--preset", "fast", "--json").json()
    hosts.start_host("gamma", config=gamma)  # the only worker, blind to the share

    note = f"host gamma cannot see {CANONICAL}"
    hosts.wait_until(
        lambda: (hosts.status(job["id"])["note"] or "").startswith(note),
        30,
        "gamma to hand the job back",
    )
    assert hosts.status(job["id"])["status"] == "queued"

    hosts.start_host("beta", config=beta)
    hosts.wait_until(lambda: hosts.status(job["id"])["status"] == "succeeded", 60, "beta to run it")
    done = hosts.job(job["id"])
    assert done.worker is not None and done.worker.startswith("beta:")
    assert done.attempts == 1
    assert (nas / "clip.fast.mp4").is_file()


def test_a_host_that_can_see_the_files_takes_a_handed_back_job_as_soon_as_it_is_free(
    hosts: Hosts,
) -> None:
    # gamma cannot see the share and leaves the job's queue message parked for
    # ten hand-back delays (30 s) whenever it gets hold of it. beta, busy when
    # the job comes, must not wait for that message once it is free.
    nas = share(hosts, "nas", hosts.clip())
    shutil.copy2(hosts.clip("long.mp4"), nas / "long.mp4")
    beta = host_config(hosts, "beta", nas)
    gamma = host_config(hosts, "gamma", hosts.root / "not-mounted", handback_delay=3.0)
    hosts.set_pace(0.2)  # the busy job takes about 10 s
    busy = hosts.on(beta, "submit", nas / "long.mp4", "--preset", "paced", "--json").json()
    hosts.start_host("beta", config=beta)
    hosts.wait_for_progress(busy[0]["id"])
    hosts.start_host("gamma", config=gamma)
    hosts.wait_until(lambda: len(hosts.workers()) == 2, 30, "gamma to register")
    [job] = hosts.on(beta, "submit", nas / "clip.mp4", "--preset", "fast", "--json").json()

    hosts.wait_until(lambda: hosts.job(job["id"]).status.finished, 60, "beta to run it")
    done, freed = hosts.job(job["id"]), hosts.job(busy[0]["id"])
    assert done.status is JobStatus.SUCCEEDED, hosts.logs()
    assert done.worker is not None and done.worker.startswith("beta:")
    assert done.handbacks >= 1
    assert freed.finished_at is not None and done.started_at is not None
    # Within the 3 s hand-back delay and a few polls, not gamma's 30 s.
    assert done.started_at - freed.finished_at < 12, hosts.logs()
