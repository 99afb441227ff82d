"""The job database: compare-and-set transitions, ownership and recovery, on real SQLite."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from mediaforge.errors import JobStateError
from mediaforge.jobs.database import SCHEMA_VERSION, connect
from mediaforge.jobs.model import JobStatus, NewJob, Output
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import JobRow, WorkerRow
from tests.mfcli import Mediaforge

HOST = socket.gethostname()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(connect(None, tmp_path / "data"), max_attempts=3)
    yield jobs
    jobs.close()


def new_jobs(store: JobStore, n: int = 1) -> list[int]:
    return store.create(
        [NewJob(input_path=f"/media/clip-{i}.mp4", preset="h264-720p") for i in range(n)]
    )


def registered_worker(store: JobStore, pid: int, namespace: str | None = None) -> str:
    """The id of a worker registered as process ``pid`` (in this PID namespace,
    or in ``namespace``), as a worker registers itself at start-up."""
    worker_id = f"{HOST}:{pid}:{pid:08x}"
    store.workers.register(worker_id)
    fields: dict[str, object] = {"pid": pid}
    if namespace is not None:
        fields["namespace"] = namespace
    WorkerRow.update(**fields).where(WorkerRow.id == worker_id).execute()
    return worker_id


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


# -- claiming and owning -----------------------------------------------------------


def test_only_one_of_many_racing_processes_claims_a_job(tmp_path: Path, store: JobStore) -> None:
    [job_id] = new_jobs(store)
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from mediaforge.jobs.store import JobStore, connect\n"
        f"store = JobStore(connect(None, Path({str(tmp_path / 'data')!r})))\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        f"print('won' if store.claim({job_id}, sys.argv[1]) else 'lost')\n"
    )
    racers = [
        subprocess.Popen([sys.executable, "-c", script, f"p{n}"], stdout=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    go.touch()
    results = [r.communicate(timeout=60)[0].strip() for r in racers]

    assert sorted(results) == ["lost", "lost", "lost", "won"]
    winner = f"p{results.index('won')}"
    assert store.get(job_id).worker == winner


def test_a_job_that_is_not_queued_cannot_be_claimed(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.cancel(job_id)

    assert store.claim(job_id, "w1") is None
    assert store.get(job_id).status is JobStatus.CANCELLED


def test_heartbeat_tells_the_worker_to_stop_once_its_job_is_cancelled(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")
    assert store.heartbeat(job_id, "w1", 0.25) is True
    assert store.get(job_id).progress == 0.25

    store.cancel(job_id)

    assert store.heartbeat(job_id, "w1", 0.5) is False
    job = store.get(job_id)
    assert (job.status, job.progress) == (JobStatus.CANCELLED, 0.25)


def test_heartbeat_of_a_worker_that_lost_its_job_is_refused(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")
    store.release(job_id, "w1")
    store.claim(job_id, "w2")

    assert store.heartbeat(job_id, "w1", 0.5) is False
    assert store.heartbeat(job_id, "w2", 0.5) is True


def test_a_job_is_finished_only_by_the_worker_that_holds_it(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")

    assert store.finish(job_id, "w2", JobStatus.SUCCEEDED) is False
    assert store.release(job_id, "w2") is False
    assert store.get(job_id).status is JobStatus.RUNNING

    assert store.finish(job_id, "w1", JobStatus.SUCCEEDED) is True
    assert store.finish(job_id, "w1", JobStatus.FAILED, error="again") is False
    job = store.get(job_id)
    assert (job.status, job.error, job.progress) == (JobStatus.SUCCEEDED, None, 1.0)


def test_the_store_finds_the_job_that_published_a_path_and_no_other(store: JobStore) -> None:
    first, second = new_jobs(store, 2)
    for job_id, path in ((first, "/out/a [1].mp4"), (second, "/out/a.hls")):
        store.claim(job_id, "w1")
        store.finish(
            job_id, "w1", JobStatus.SUCCEEDED, outputs=[Output(path=path, kind="video", size=1)]
        )

    assert store.job_with_output(["/out/a [1].mp4"]) == first
    assert store.job_with_output(["/out/a.hls/720p/seg_1.ts", "/out/a.hls"]) == second
    # a path that only contains a published one is not it
    assert store.job_with_output(["/out/a"]) is None
    assert store.job_with_output(["/out/a [1].mp4.part"]) is None
    assert store.job_with_output([]) is None


def test_decisions_are_recorded_by_the_holder_and_start_afresh_each_attempt(
    store: JobStore,
) -> None:
    (job_id,) = new_jobs(store)
    assert store.claim(job_id, "w1") is not None
    assert store.decide(job_id, "w1", "streams", "kept eng; dropped 1 commentary")
    assert store.decide(job_id, "w1", "encoder", "nvenc failed; libx264")
    assert store.decide(job_id, "w1", "streams", "kept eng, fre")
    assert not store.decide(job_id, "w2", "encoder", "not the holder")
    job = store.get(job_id)
    assert job.decided == {"streams": "kept eng, fre", "encoder": "nvenc failed; libx264"}
    assert job.to_dict()["decisions"] == job.decided
    store.release(job_id, "w1")
    assert store.claim(job_id, "w2") is not None
    assert store.get(job_id).decided == {}


def test_a_hand_back_does_not_use_up_an_attempt(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")

    assert store.release(job_id, "w1", count_attempt=False) is True

    job = store.get(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.QUEUED, 0, None)


# -- illegal transitions -------------------------------------------------------------


def succeeded_job(store: JobStore) -> int:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")
    store.finish(job_id, "w1", JobStatus.SUCCEEDED)
    return job_id


def test_retrying_a_succeeded_job_is_refused_with_a_clear_message(store: JobStore) -> None:
    job_id = succeeded_job(store)

    with pytest.raises(JobStateError) as caught:
        store.retry(job_id)

    assert str(caught.value) == (
        f"job {job_id} is succeeded; only failed or cancelled jobs can be retried"
    )
    assert store.get(job_id).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_retrying_a_job_that_has_not_ended_is_refused(store: JobStore, status: JobStatus) -> None:
    [job_id] = new_jobs(store)
    if status is JobStatus.RUNNING:
        store.claim(job_id, "w1")

    with pytest.raises(JobStateError, match=f"job {job_id} is {status.value}; only failed"):
        store.retry(job_id)


@pytest.mark.parametrize("ending", ["succeeded", "cancelled", "failed"])
def test_cancelling_a_finished_job_is_refused_with_a_clear_message(
    store: JobStore, ending: str
) -> None:
    [job_id] = new_jobs(store)
    if ending == "cancelled":
        store.cancel(job_id)
    else:
        store.claim(job_id, "w1")
        store.finish(job_id, "w1", JobStatus(ending), error="x" if ending == "failed" else None)

    with pytest.raises(JobStateError) as caught:
        store.cancel(job_id)

    assert str(caught.value) == (
        f"job {job_id} is already {ending}; only queued or running jobs can be cancelled"
    )
    assert store.get(job_id).status.value == ending


def test_retry_gives_a_failed_job_a_fresh_set_of_attempts(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, "w1")
    store.finish(job_id, "w1", JobStatus.FAILED, error="broken", log_tail="tail")

    job = store.retry(job_id)

    assert (job.status, job.attempts, job.error, job.log_tail) == (JobStatus.QUEUED, 0, None, None)


# -- recovery ----------------------------------------------------------------------


def test_recover_requeues_a_job_whose_worker_process_is_gone(store: JobStore) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, f"{registered_worker(store, dead_pid())}/Worker-1")

    # The heartbeat is fresh: only the missing process gives the worker away.
    requeued, failed = store.recover(stale_after=3600)

    assert (requeued, failed) == ([job_id], [])
    job = store.get(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.QUEUED, 1, None)
    assert job.error == "worker stopped while running it"


def test_recover_leaves_a_live_worker_with_a_fresh_heartbeat_alone(
    store: JobStore, live_pid: int
) -> None:
    [job_id] = new_jobs(store)
    store.claim(job_id, f"{registered_worker(store, live_pid)}/Worker-1")

    assert store.recover(stale_after=3600) == ([], [])
    assert store.get(job_id).status is JobStatus.RUNNING


@pytest.mark.parametrize("registered", ["in another pid namespace", "not at all"])
def test_recover_never_judges_a_worker_it_cannot_see_by_its_pid(
    store: JobStore, registered: str
) -> None:
    # Same hostname, a pid that does not exist here: another container's worker.
    pid = dead_pid()
    if registered == "not at all":
        worker = f"{HOST}:{pid}:0badc0de"
    else:
        worker = registered_worker(store, pid, namespace="other-boot/4026531836")
    [job_id] = new_jobs(store)
    store.claim(job_id, f"{worker}/Worker-1")

    assert store.recover(stale_after=3600) == ([], [])
    assert store.get(job_id).status is JobStatus.RUNNING
    assert store.recover(stale_after=0.000001)[0] == [job_id]


def test_recover_requeues_a_job_whose_heartbeat_went_stale(store: JobStore) -> None:
    # Another host: its pid means nothing here, only the heartbeat counts.
    [job_id] = new_jobs(store)
    store.claim(job_id, "elsewhere:1/Worker-1")
    assert store.recover(stale_after=3600) == ([], [])

    requeued, _ = store.recover(stale_after=0.000001)

    assert requeued == [job_id]
    assert store.get(job_id).status is JobStatus.QUEUED


@pytest.mark.parametrize("max_attempts", [3, 1], ids=["requeue", "last-attempt"])
def test_recover_leaves_a_job_whose_heartbeat_lands_after_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_attempts: int
) -> None:
    # The worker was silent (a slow disk, a short database outage) and beats
    # again between recovery's read of the running jobs and its release.
    store = JobStore(connect(None, tmp_path / "data"), max_attempts=max_attempts)
    [job_id] = new_jobs(store)
    worker = "elsewhere:1/Worker-1"
    store.claim(job_id, worker)
    JobRow.update(heartbeat_at=store.now() - 100).where(JobRow.id == job_id).execute()
    judge = store.workers.proven_dead

    def heartbeat_lands_meanwhile(workers: Iterable[str | None]) -> set[str]:
        assert store.heartbeat(job_id, worker, 0.5)
        return judge(workers)

    monkeypatch.setattr(store.workers, "proven_dead", heartbeat_lands_meanwhile)

    assert store.recover(stale_after=10) == ([], [])
    job = store.get(job_id)
    assert (job.status, job.worker) == (JobStatus.RUNNING, worker)
    assert store.heartbeat(job_id, worker, 0.6)  # the worker still holds its job
    store.close()


def test_recover_fails_a_job_whose_worker_died_on_its_last_attempt(tmp_path: Path) -> None:
    store = JobStore(connect(None, tmp_path / "data"), max_attempts=1)
    [job_id] = new_jobs(store)
    store.claim(job_id, f"{registered_worker(store, dead_pid())}/Worker-1")

    requeued, failed = store.recover(stale_after=3600)

    assert (requeued, failed) == ([], [job_id])
    job = store.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.error == (
        "the worker running it died 1 time(s); look at the worker's log, then 'mediaforge retry'"
    )
    store.close()


# -- listing ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mediaforge]:
    """An installation whose job database has 600 jobs in every state.

    Job n is cancelled when n % 3 == 0, else succeeded when n % 5 == 0, else
    failed when n % 7 == 0, else running when n % 11 == 0, else queued.
    """
    with Mediaforge(tmp_path_factory.mktemp("crowded")) as mf:
        mf.configure(worker={"max_attempts": 1})
        store = JobStore(connect(None, mf.data))
        for job_id in new_jobs(store, 600):
            if job_id % 3 == 0:
                store.cancel(job_id)
            elif job_id % 5 == 0:
                store.claim(job_id, "w1")
                store.finish(job_id, "w1", JobStatus.SUCCEEDED)
            elif job_id % 7 == 0:
                store.claim(job_id, "w1")
                store.finish(job_id, "w1", JobStatus.FAILED, error="broken")
            elif job_id % 11 == 0:
                store.claim(job_id, "w1")
        store.close()
        yield mf


def test_jobs_lists_the_newest_first_up_to_the_limit(
    crowded: Mediaforge,
) -> None:
    done = crowded("jobs", "--json", "--limit", "50")

    assert done.code == 0, done.err
    assert [j["id"] for j in done.json()] == list(range(600, 550, -1))


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "failed", "cancelled"])
def test_jobs_status_filter_lists_exactly_the_jobs_in_that_state(
    crowded: Mediaforge, status: str
) -> None:
    expected = {
        "cancelled": [i for i in range(600, 0, -1) if i % 3 == 0],
        "succeeded": [i for i in range(600, 0, -1) if i % 3 and i % 5 == 0],
        "failed": [i for i in range(600, 0, -1) if i % 3 and i % 5 and i % 7 == 0],
        "running": [i for i in range(600, 0, -1) if i % 3 and i % 5 and i % 7 and i % 11 == 0],
        "queued": [i for i in range(600, 0, -1) if i % 3 and i % 5 and i % 7 and i % 11],
    }[status]

    done = crowded("jobs", "--json", "--status", status, "--limit", "1000")

    assert done.code == 0, done.err
    listed = done.json()
    assert [j["id"] for j in listed] == expected
    assert {j["status"] for j in listed} == {status}


def test_jobs_text_listing_shows_the_newest_job_on_top(
    crowded: Mediaforge,
) -> None:
    done = crowded("jobs", "--status", "failed", "--limit", "3")

    assert done.code == 0, done.err
    rows = [line.split()[:2] for line in done.out.splitlines()[1:]]
    assert rows == [["581", "failed"], ["574", "failed"], ["553", "failed"]]


def test_jobs_rejects_an_unknown_status_and_names_the_valid_ones(
    crowded: Mediaforge,
) -> None:
    done = crowded("jobs", "--status", "done")

    assert done.code == 2
    assert "'done' is not a job status; use one of queued, running" in " ".join(done.err.split())


def test_a_database_of_schema_version_3_gains_the_publish_plan_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = JobStore(connect(None, data))
    [job_id] = new_jobs(store)
    store.close()
    # Make it a version 3 database, as a release before the publish plan left it.
    with closing(sqlite3.connect(data / "jobs.db")) as db:
        db.execute('ALTER TABLE "job" DROP COLUMN publishing')
        db.execute("UPDATE mediaforge_meta SET value = '3' WHERE key = 'schema_version'")
        db.commit()

    store = JobStore(connect(None, data))
    try:
        assert store.get(job_id).status is JobStatus.QUEUED
        assert store.publishing(job_id) == []
        store.claim(job_id, "w1")
        assert store.plan_publishing(job_id, "w1", [{"final": "/media/clip.720p.mp4"}])
        assert store.publishing(job_id) == [{"final": "/media/clip.720p.mp4"}]
        assert store.finish(job_id, "w1", JobStatus.SUCCEEDED)
        assert store.publishing(job_id) == []
    finally:
        store.close()
    with closing(sqlite3.connect(data / "jobs.db")) as db:
        [(version,)] = db.execute("SELECT value FROM mediaforge_meta WHERE key = 'schema_version'")
    assert version == str(SCHEMA_VERSION)


def test_a_database_without_stored_probes_gains_them_and_keeps_its_jobs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = JobStore(connect(None, data))
    [job_id] = new_jobs(store)
    store.close()
    # Make it a version 4 database, as a release before submit-time probes were kept.
    with closing(sqlite3.connect(data / "jobs.db")) as db:
        db.execute('ALTER TABLE "job" DROP COLUMN input_probe')
        db.execute("UPDATE mediaforge_meta SET value = '4' WHERE key = 'schema_version'")
        db.commit()

    store = JobStore(connect(None, data))
    try:
        assert store.get(job_id).input_probe is None
        [new_id] = store.create(
            [NewJob(input_path="/media/b.mp4", preset="h264-720p", input_probe='{"x":1}')]
        )
        assert store.get(new_id).input_probe == '{"x":1}'
        assert store.get(job_id).status is JobStatus.QUEUED
    finally:
        store.close()
    with closing(sqlite3.connect(data / "jobs.db")) as db:
        [(version,)] = db.execute("SELECT value FROM mediaforge_meta WHERE key = 'schema_version'")
    assert version == str(SCHEMA_VERSION)
