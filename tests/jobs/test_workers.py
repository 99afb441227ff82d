"""The worker table on a real SQLite job database: registration, heartbeats,
states, pruning, and what proves a worker dead."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaforge.jobs.database import connect
from mediaforge.jobs.identity import namespace_key, process_id, this_worker_prefix
from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import WorkerRow
from mediaforge.jobs.workers import WorkerState


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(connect(None, tmp_path / "data"))
    yield jobs
    jobs.close()


def age(store: JobStore, worker_id: str, seconds: float) -> None:
    """Make a worker's last heartbeat ``seconds`` old."""
    WorkerRow.update(heartbeat_at=store.now() - seconds).where(WorkerRow.id == worker_id).execute()


def test_worker_ids_are_unique_per_process_and_name_host_and_pid() -> None:
    here = this_worker_prefix()
    host, pid, nonce = here.split(":")
    assert (host, int(pid), len(nonce)) == (socket.gethostname(), os.getpid(), 8)
    assert this_worker_prefix() == here  # one id for the whole process
    code = "from mediaforge.jobs.identity import this_worker_prefix as p; print(p())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() != here
    assert process_id(f"{here}/Worker-1#ab12cd34") == here


def test_a_worker_is_idle_then_running_then_stale_then_forgotten(store: JobStore) -> None:
    worker = store.workers.register("host-a:10:0000000a")
    [info] = store.workers.list_workers(stale_after=60)
    assert (info.host, info.state, info.jobs) == (socket.gethostname(), WorkerState.IDLE, ())

    [job_id] = store.create([NewJob(input_path="/media/a.mp4", preset="h264-720p")])
    store.claim(job_id, f"{worker}/Worker-1")
    store.heartbeat(job_id, f"{worker}/Worker-1", 0.25)
    [info] = store.workers.list_workers(stale_after=60)
    assert info.state is WorkerState.RUNNING
    assert [(j.id, j.progress) for j in info.jobs] == [(job_id, 0.25)]
    assert info.to_dict()["jobs"] == [
        {"id": job_id, "input": "/media/a.mp4", "preset": "h264-720p", "progress": 0.25}
    ]

    age(store, worker, 61)
    [info] = store.workers.list_workers(stale_after=60)
    assert info.state is WorkerState.STALE and info.age >= 61
    assert store.workers.prune(older_than=3600) == 0

    age(store, worker, 3601)
    assert store.workers.prune(older_than=3600) == 1
    assert store.workers.list_workers(stale_after=60) == []


def test_a_beat_after_being_pruned_registers_the_worker_again(store: JobStore) -> None:
    worker = store.workers.register("host-a:10:0000000b")
    store.workers.deregister(worker)
    assert store.workers.beat(worker)
    assert [w.id for w in store.workers.list_workers(stale_after=60)] == [worker]


def test_only_a_live_worker_on_another_host_or_namespace_counts_as_seeing_differently(
    store: JobStore,
) -> None:
    me = store.workers.register("here:1:00000001")
    twin = store.workers.register("here:2:00000002")  # same host, same namespace
    assert not store.workers.others_could_see_differently(me, stale_after=60)
    other = store.workers.register("there:3:00000003")
    WorkerRow.update(host="there").where(WorkerRow.id == other).execute()
    assert store.workers.others_could_see_differently(me, stale_after=60)
    age(store, other, 61)
    assert not store.workers.others_could_see_differently(me, stale_after=60)
    WorkerRow.update(namespace="other-boot/1").where(WorkerRow.id == twin).execute()
    assert store.workers.others_could_see_differently(me, stale_after=60)
    # Not a registered worker (`mediaforge run`): nobody to hand its job to.
    assert not store.workers.others_could_see_differently("run:9:00000009", stale_after=60)


def test_a_pid_proves_nothing_without_this_namespace(store: JobStore) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = store.workers.register(f"h:{dead.pid}:0000000c")
    there = store.workers.register(f"h:{dead.pid}:0000000d")
    WorkerRow.update(pid=dead.pid).execute()
    WorkerRow.update(namespace="another/1").where(WorkerRow.id == there).execute()
    assert namespace_key()
    claims = [f"{here}/Worker-1", f"{there}/Worker-1", f"h:{dead.pid}:0000000e/Worker-1", None]
    assert store.workers.proven_dead(claims) == {f"{here}/Worker-1"}


def test_retry_gives_a_job_a_fresh_count_of_hand_backs(store: JobStore) -> None:
    [job_id] = store.create([NewJob(input_path="/media/a.mp4", preset="h264-720p")])
    store.claim(job_id, "w")
    refusals = '{"hosts": ["x|boot/1"], "rounds": 1}'
    assert store.hand_over(
        job_id, "w", note="host x cannot see /media", retry_at=0, refusals=refusals
    )
    job = store.get(job_id)
    assert (job.status, job.attempts, job.handbacks) == (JobStatus.QUEUED, 0, 1)
    assert job.refusals == refusals
    assert job.note == "host x cannot see /media"
    store.claim(job_id, "w")
    store.finish(job_id, "w", JobStatus.FAILED, error="no worker could see /media")

    retried = store.retry(job_id)
    assert (retried.handbacks, retried.refusals) == (0, None)
