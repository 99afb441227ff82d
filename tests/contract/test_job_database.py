"""The job database contract, on SQLite and on PostgreSQL: the same store, the
same answers. Real servers (tests/backends.py), no mocks."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from mediaforge.hooks.store import HookStatus, HookStore, NewHookRun
from mediaforge.jobs.clock import database_time
from mediaforge.jobs.database import SCHEMA_VERSION, connect
from mediaforge.jobs.model import JobStatus, NewJob, Output
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import MetaRow, WorkerRow
from mediaforge.jobs.upload_rows import NewUpload
from mediaforge.jobs.workers import WorkerState
from mediaforge.notify.store import NewNotification, NotificationStore
from mediaforge.storage.s3.rows import UploadStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(connect(database_url, tmp_path), max_attempts=2)
    yield jobs
    jobs.close()


def new_jobs(store: JobStore, n: int = 1, priority: int = 0) -> list[int]:
    return store.create(
        [
            NewJob(input_path=f"/media/clip-{i}.mp4", preset="h264-720p", priority=priority)
            for i in range(n)
        ]
    )


def test_created_jobs_are_queued_with_increasing_ids(store: JobStore) -> None:
    ids = new_jobs(store, 3)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [store.get(i).status for i in ids] == [JobStatus.QUEUED] * 3
    assert store.count_by_status()[JobStatus.QUEUED] == 3
    assert [j.id for j in store.list_jobs()] == ids[::-1]


def test_only_one_of_many_racing_threads_claims_each_job(store: JobStore) -> None:
    ids = new_jobs(store, 10)
    wins: dict[str, list[int]] = {f"w{n}": [] for n in range(4)}
    start = threading.Barrier(len(wins))

    def race(worker: str) -> None:
        start.wait()
        for job_id in ids:
            if store.claim(job_id, worker) is not None:
                wins[worker].append(job_id)

    threads = [threading.Thread(target=race, args=(w,)) for w in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(i for won in wins.values() for i in won) == ids
    for worker, won in wins.items():
        for job_id in won:
            job = store.get(job_id)
            assert (job.status, job.worker, job.attempts) == (JobStatus.RUNNING, worker, 1)


def test_heartbeat_holds_only_the_workers_own_running_job(store: JobStore) -> None:
    (job_id,) = new_jobs(store)
    claimed = store.claim(job_id, "w1")
    assert claimed is not None and claimed.status is JobStatus.RUNNING
    assert store.claim(job_id, "w2") is None
    assert store.heartbeat(job_id, "w1", 0.5)
    assert store.get(job_id).progress == pytest.approx(0.5)
    assert not store.heartbeat(job_id, "w2", 0.9)
    store.cancel(job_id)
    assert not store.heartbeat(job_id, "w1", 0.6)


def test_status_transitions_compare_and_set(store: JobStore) -> None:
    done, retried = new_jobs(store, 2)
    store.claim(done, "w1")
    output = Output(kind="file", path="/out/clip.mp4", size=10)
    assert store.finish(done, "w1", JobStatus.SUCCEEDED, outputs=[output])
    assert not store.finish(done, "w1", JobStatus.FAILED, error="late")
    job = store.get(done)
    assert job.status is JobStatus.SUCCEEDED and job.progress == 1.0
    assert store.job_with_output(["/out/clip.mp4"]) == done

    store.claim(retried, "w1")
    assert store.finish(retried, "w1", JobStatus.FAILED, error="broken input")
    assert store.retry(retried).status is JobStatus.QUEUED


def test_recovery_gives_back_jobs_with_stale_heartbeats(store: JobStore) -> None:
    stale, fresh = new_jobs(store, 2)
    store.claim(stale, "ghost-host/1/w")
    store.claim(fresh, "ghost-host/2/w")
    time.sleep(0.3)
    store.heartbeat(fresh, "ghost-host/2/w", 0.1)
    requeued, failed = store.recover(stale_after=0.2)
    assert (requeued, failed) == ([stale], [])
    assert store.get(stale).status is JobStatus.QUEUED
    assert store.get(fresh).status is JobStatus.RUNNING


def test_notification_rows_are_recorded_once(store: JobStore) -> None:
    notes = NotificationStore(store)
    item = NewNotification(key="job:1:1", event="job_succeeded", target="ops", due_at=0.0)
    assert notes.add([item]) == 1
    assert notes.add([item]) == 0
    assert notes.add([item, NewNotification("job:2:1", "job_failed", "ops", 0.0)]) == 1
    assert notes.due_targets(time.time()) == ["ops"]
    claimed = notes.claim("ops", "w1")
    assert len(claimed) == 2
    assert notes.claim("ops", "w2") == []


def test_upload_rows_are_written_with_the_finished_job(store: JobStore) -> None:
    (job_id,) = new_jobs(store)
    store.claim(job_id, "w1")
    upload = NewUpload("output", "/out/a.mp4", "a.mp4", "bucket", "a.mp4", 10, "video/mp4")
    assert store.finish(job_id, "w1", JobStatus.SUCCEEDED, uploads=[upload, upload])
    uploads = UploadStore(store)
    assert [u.key for u in uploads.for_job(job_id)] == ["a.mp4"]
    assert not uploads.settled(job_id)
    assert uploads.add(job_id, [upload]) == 0


def test_opening_again_keeps_the_schema_and_the_jobs(database_url: str, tmp_path: Path) -> None:
    first = JobStore(connect(database_url, tmp_path))
    ids = new_jobs(first, 2)
    first.close()
    again = JobStore(connect(database_url, tmp_path))
    assert [j.id for j in again.list_jobs()] == ids[::-1]
    assert MetaRow.get(MetaRow.key == "schema_version").value == str(SCHEMA_VERSION)
    again.close()


OPEN_AND_CREATE = """
import sys
from pathlib import Path
from mediaforge.jobs.database import connect
from mediaforge.jobs.model import NewJob
from mediaforge.jobs.store import JobStore
url, folder, barrier = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
while not barrier.exists():
    pass
store = JobStore(connect(url, folder))
store.create([NewJob(input_path="/media/x.mp4", preset="p")])
"""


def test_many_processes_open_a_fresh_database_at_once(database_url: str, tmp_path: Path) -> None:
    barrier = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_CREATE, database_url, str(tmp_path), str(barrier)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    time.sleep(1.0)  # every process is spinning on the barrier by now
    barrier.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, "\n".join(errors)
    store = JobStore(connect(database_url, tmp_path))
    assert store.count_by_status()[JobStatus.QUEUED] == 8
    store.close()


def test_the_database_clock_is_unix_seconds(store: JobStore) -> None:
    before = time.time()
    now = database_time(store.db)
    # The same machine here: the server's clock agrees with ours.
    assert before - 1 <= now <= time.time() + 1


def test_a_connection_the_server_closed_is_reopened_on_the_next_use(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg

    store = JobStore(connect(postgres_url.replace("postgresql://", "postgres://"), tmp_path))
    (job_id,) = new_jobs(store)
    (pid,) = store.db.execute_sql("SELECT pg_backend_pid()").fetchone()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # The statement that meets the break fails (it may or may not have run)...
    with pytest.raises((peewee.OperationalError, peewee.InterfaceError)):
        store.get(job_id)
    # ...and the next one runs on a new connection.
    assert store.get(job_id).status is JobStatus.QUEUED
    assert store.claim(job_id, "w1") is not None
    store.close()


# -- the worker table (``mediaforge workers``) ---------------------------------------------


def test_workers_register_beat_and_are_listed_with_the_jobs_they_hold(store: JobStore) -> None:
    workers = store.workers
    alive, gone = workers.register("alpha:10:aa"), workers.register("beta:20:bb")
    (job_id,) = new_jobs(store)
    assert store.claim(job_id, f"{alive}/Worker-1") is not None
    store.heartbeat(job_id, f"{alive}/Worker-1", 0.25)
    time.sleep(0.6)
    assert workers.beat(alive)

    listed = {w.id: w for w in workers.list_workers(stale_after=0.5)}
    assert set(listed) == {alive, gone}
    assert listed[alive].state is WorkerState.RUNNING
    assert [(j.id, j.progress) for j in listed[alive].jobs] == [(job_id, pytest.approx(0.25))]
    assert listed[gone].state is WorkerState.STALE and listed[gone].jobs == ()
    assert listed[alive].age < 0.5 <= listed[gone].age  # ages on the database's clock
    assert listed[alive].host == socket.gethostname()

    assert workers.prune(older_than=0.5) == 1
    assert [w.id for w in workers.list_workers(stale_after=0.5)] == [alive]
    workers.deregister(alive)
    assert workers.list_workers(stale_after=0.5) == []


def test_a_pruned_worker_registers_again_at_its_next_beat(store: JobStore) -> None:
    worker = store.workers.register("alpha:10:aa")
    time.sleep(0.2)
    assert store.workers.prune(older_than=0.1) == 1
    assert store.workers.beat(worker)
    assert [w.id for w in store.workers.list_workers(stale_after=5)] == [worker]


def test_only_a_live_worker_on_another_host_could_see_differently(store: JobStore) -> None:
    workers = store.workers
    me = workers.register("alpha:10:aa")
    assert not workers.others_could_see_differently(me, stale_after=5)
    other = workers.register("beta:20:bb")
    WorkerRow.update(host="beta.example").where(WorkerRow.id == other).execute()
    assert workers.others_could_see_differently(me, stale_after=5)
    time.sleep(0.3)
    workers.beat(me)
    assert not workers.others_could_see_differently(me, stale_after=0.2)  # beta went stale
    assert not workers.others_could_see_differently("unregistered:1:x", stale_after=5)


def test_a_job_released_without_counting_the_attempt_is_queued_as_before(
    store: JobStore,
) -> None:
    # A claim whose answer the outage swallowed: the worker gives the job back.
    (job_id,) = new_jobs(store)
    store.claim(job_id, "w1")
    assert not store.release(job_id, "w2", count_attempt=False)  # not w2's to give
    assert store.release(job_id, "w1", count_attempt=False)
    job = store.get(job_id)
    assert (job.status, job.attempts, job.worker) == (JobStatus.QUEUED, 0, None)
    assert not store.release(job_id, "w1", count_attempt=False)  # once only


# -- uploads of files on one host's disk ------------------------------------------------------


def test_uploads_of_a_hosts_local_files_are_left_to_that_host(store: JobStore) -> None:
    here = socket.gethostname()
    local, shared = new_jobs(store, 2)
    for job_id, on_share in ((local, False), (shared, True)):
        store.claim(job_id, "w1")
        upload = NewUpload(
            "output", f"/out/{job_id}.mp4", f"{job_id}.mp4", "bucket", f"{job_id}.mp4", 10,
            "video/mp4", shared=on_share,
        )  # fmt: skip
        assert store.finish(job_id, "w1", JobStatus.SUCCEEDED, uploads=[upload])
    uploads = UploadStore(store)
    later = time.time() + 1

    assert uploads.due_job_ids(later, host=here) == [local, shared]
    assert uploads.due_job_ids(later, host="elsewhere.example") == [shared]
    assert uploads.waiting_elsewhere(local, host="elsewhere.example")
    assert not uploads.waiting_elsewhere(shared, host="elsewhere.example")
    assert uploads.claim(local, "elsewhere/w", everything=True, host="elsewhere.example") == []
    claimed = uploads.claim(shared, "elsewhere/w", everything=True, host="elsewhere.example")
    assert [u.key for u in claimed] == [f"{shared}.mp4"]
    mine = uploads.claim(local, "here/w", everything=True, host=here)
    assert [(u.key, u.host) for u in mine] == [(f"{local}.mp4", here)]


def test_hook_rows_are_recorded_once_claimed_once_and_given_back_when_stale(
    store: JobStore,
) -> None:
    [job_id] = new_jobs(store)
    rows = HookStore(store)
    run = NewHookRun(job_id, f"job:{job_id}:1.0", "plex", "plex", "job_succeeded", 0.0)
    assert rows.add([run]) == 1
    assert rows.add([run]) == 0
    [row_id] = rows.due_ids(rows.now())

    first, second = rows.claim(row_id, "a#1"), rows.claim(row_id, "b#1")
    assert first is not None and first.status is HookStatus.RUNNING
    assert second is None
    assert not rows.refresh(row_id, "b#1")  # not b's claim
    rows.settle(row_id, "b#1", done=True, result="HTTP 200")  # not b's to settle
    assert rows.for_job(job_id)[0].status is HookStatus.RUNNING
    assert rows.refresh(row_id, "a#1")
    assert rows.release_stale(rows.now() - 60) == 0  # refreshed just now
    assert rows.release_stale(rows.now() + 1) == 1
    assert rows.due_ids(rows.now()) == [row_id]

    assert rows.claim(row_id, "c#1") is not None
    rows.settle(row_id, "c#1", done=False, result="HTTP 503", error="HTTP 503", retry_at=1e12)
    [retrying] = rows.for_job(job_id)
    assert (retrying.status, retrying.attempts, retrying.error) == (
        HookStatus.PENDING, 1, "HTTP 503"
    )  # fmt: skip
    assert rows.due_ids(rows.now()) == [] and rows.next_due() == 1e12
