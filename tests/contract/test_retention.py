"""Retention on SQLite and on PostgreSQL: old finished jobs go with their
notification, upload and hook rows (and say how many of each), nothing still
owed goes, and what a pruned job did is remembered. Real databases (tests/backends.py), no mocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaforge.hooks.store import HookStore, NewHookRun
from mediaforge.jobs import retention
from mediaforge.jobs.database import connect
from mediaforge.jobs.model import JobStatus, NewJob, Output
from mediaforge.jobs.owed_mark import OwedMark
from mediaforge.jobs.retention import prune, remembered_job, remembered_output
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import HookRow, JobRow, NotificationRow, PrunedJobRow, UploadRow
from mediaforge.jobs.upload_rows import NewUpload
from mediaforge.notify.store import NewNotification, NotificationStatus, NotificationStore
from mediaforge.storage.s3.rows import UploadStatus, UploadStore

DAY = 86400.0


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(connect(database_url, tmp_path), max_attempts=2)
    yield jobs
    jobs.close()


def finished_job(
    store: JobStore, name: str, status: JobStatus = JobStatus.SUCCEEDED, days_ago: float = 40,
    batch: str | None = None,
) -> int:  # fmt: skip
    """A job that ended ``days_ago`` days ago, with one output when it succeeded."""
    (job_id,) = store.create(
        [NewJob(input_path=f"/media/{name}.mp4", preset="h264-720p", input_hash=f"hash-{name}",
                batch=batch)]
    )  # fmt: skip
    if status is JobStatus.CANCELLED:
        store.cancel(job_id)
    else:
        assert store.claim(job_id, "w1") is not None
        outputs = [Output(path=f"/out/{name}.720p.mp4", kind="video", size=10)]
        ok = status is JobStatus.SUCCEEDED
        store.finish(job_id, "w1", status, outputs=outputs if ok else [], error=None if ok else "x")
    ended = time.time() - days_ago * DAY
    JobRow.update(finished_at=ended).where(JobRow.id == job_id).execute()
    return job_id


def notify(store: JobStore, job_id: int | None, sent: bool, batch: str | None = None) -> None:
    notes = NotificationStore(store)
    key = f"job:{job_id}:1" if job_id is not None else f"batch:{batch}"
    notes.add([NewNotification(key, "job_succeeded", "ops", 0.0, job_id=job_id, batch=batch)])
    if sent:
        (row,) = notes.claim("ops", f"test-{key}")
        notes.settle([row.id], f"test-{key}", sent=True)


def upload(store: JobStore, job_id: int, settled: UploadStatus | None, name: str = "a") -> None:
    uploads = UploadStore(store)
    uploads.add(job_id, [NewUpload("output", f"/out/{name}.mp4", f"{name}.mp4", "b",
                                   f"k/{name}", 1, "video/mp4")])  # fmt: skip
    if settled is not None:
        (row,) = uploads.claim(job_id, "test")
        assert uploads.settle(row.id, "test", settled)


def hook_run(store: JobStore, job_id: int, status: str | None) -> None:
    """A hook run owed for the job; ``status`` sets where it ended (None: still to run)."""
    run = NewHookRun(job_id, f"job:{job_id}:1", "plex", "plex", "job_succeeded", 0.0)
    HookStore(store).add([run])
    if status is not None:
        HookRow.update(status=status).where(HookRow.job_id == job_id).execute()


def job_ids() -> set[int]:
    return {r.id for r in JobRow.select(JobRow.id)}


def test_old_finished_jobs_go_with_their_rows_and_recent_or_unfinished_ones_stay(
    store: JobStore,
) -> None:
    old = {s: finished_job(store, s.value, s) for s in
           (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)}  # fmt: skip
    recent = finished_job(store, "recent", days_ago=5)
    (queued,) = store.create([NewJob(input_path="/media/q.mp4", preset="h264-720p")])
    (running,) = store.create([NewJob(input_path="/media/r.mp4", preset="h264-720p")])
    store.claim(running, "w1")
    # A running job that started long ago is not finished: it stays.
    JobRow.update(updated_at=time.time() - 90 * DAY).where(JobRow.id == running).execute()
    done = old[JobStatus.SUCCEEDED]
    notify(store, done, sent=True)
    upload(store, done, UploadStatus.UPLOADED)
    hook_run(store, done, "done")
    hook_run(store, old[JobStatus.FAILED], "failed")
    hook_run(store, recent, "done")  # its job stays: so does its hook row

    pruned = prune(store.db, time.time() - 30 * DAY)

    counts = (pruned.jobs, pruned.notifications, pruned.uploads, pruned.hooks, pruned.held)
    assert counts == (3, 1, 1, 2, 0)
    assert job_ids() == {recent, queued, running}
    assert NotificationRow.select().count() == 0 and UploadRow.select().count() == 0
    assert [r.job_id for r in HookRow.select()] == [recent]
    assert prune(store.db, time.time() - 30 * DAY).jobs == 0  # nothing left to prune


def test_a_dry_run_counts_what_would_go_and_removes_nothing(store: JobStore) -> None:
    first, second = finished_job(store, "a"), finished_job(store, "b")
    notify(store, first, sent=True)
    upload(store, second, UploadStatus.UPLOADED)
    upload(store, second, None, name="b")  # still owed: the job stays
    hook_run(store, first, "done")
    hook_run(store, second, "done")  # goes only with its job, which stays
    before = job_ids()

    would = prune(store.db, time.time() - 30 * DAY, dry_run=True)

    assert (would.jobs, would.notifications, would.uploads, would.hooks, would.held) == (
        1, 1, 0, 1, 1
    )  # fmt: skip
    assert job_ids() == before and PrunedJobRow.select().count() == 0
    assert HookRow.select().count() == 2
    done = prune(store.db, time.time() - 30 * DAY)
    assert (done.jobs, done.notifications, done.uploads, done.hooks, done.held) == (1, 1, 0, 1, 1)
    assert [r.job_id for r in HookRow.select()] == [second]


@pytest.mark.parametrize(
    "owed",
    [
        "pending notification", "pending upload", "failed upload", "pending digest of its batch",
        "hook still to run",
    ],
)
def test_a_job_still_owed_something_is_kept_with_all_its_rows(store: JobStore, owed: str) -> None:
    job_id = finished_job(store, "owed", batch="b1")
    if owed == "pending notification":
        notify(store, job_id, sent=False)
    elif owed == "pending upload":
        upload(store, job_id, None)
    elif owed == "failed upload":  # `s3 sync --retry-failed` may still send it
        upload(store, job_id, UploadStatus.FAILED)
    elif owed == "hook still to run":
        hook_run(store, job_id, None)
    else:
        notify(store, None, sent=False, batch="b1")
    rows = NotificationRow.select().count() + UploadRow.select().count() + HookRow.select().count()

    pruned = prune(store.db, time.time() - 30 * DAY)

    assert (pruned.jobs, pruned.held) == (0, 1)
    assert job_ids() == {job_id}
    left = NotificationRow.select().count() + UploadRow.select().count() + HookRow.select().count()
    assert left == rows


@pytest.mark.parametrize("ended", ["done", "failed"])
def test_a_job_whose_hooks_have_run_goes_with_its_hook_rows(store: JobStore, ended: str) -> None:
    job_id = finished_job(store, "hooked")
    hook_run(store, job_id, ended)

    pruned = prune(store.db, time.time() - 30 * DAY)

    assert (pruned.jobs, pruned.hooks) == (1, 1)
    assert job_ids() == set() and HookRow.select().count() == 0


def test_once_settled_a_held_job_goes_at_the_next_prune(store: JobStore) -> None:
    job_id = finished_job(store, "later")
    notify(store, job_id, sent=False)
    assert prune(store.db, time.time() - 30 * DAY).jobs == 0
    notes = NotificationStore(store)
    (row,) = notes.claim("ops", "test")
    notes.settle([row.id], "test", sent=True)
    assert prune(store.db, time.time() - 30 * DAY).jobs == 1
    assert NotificationRow.select().where(NotificationRow.status == NotificationStatus.SENT.value
                                          ).count() == 0  # fmt: skip


def test_ids_of_pruned_jobs_are_never_handed_out_again(store: JobStore) -> None:
    first = finished_job(store, "first")
    newest = finished_job(store, "newest")
    assert prune(store.db, time.time() - 30 * DAY).jobs == 2
    assert job_ids() == set()

    (later,) = store.create([NewJob(input_path="/media/later.mp4", preset="h264-720p")])
    assert later > newest > first
    JobRow.update(status=JobStatus.SUCCEEDED.value, finished_at=time.time() - 40 * DAY).where(
        JobRow.id == later
    ).execute()
    assert prune(store.db, time.time() - 30 * DAY).jobs == 1
    # Every pruned job is remembered under its own id.
    remembered = {r.id: r.input_path for r in PrunedJobRow.select()}
    assert remembered == {
        first: "/media/first.mp4", newest: "/media/newest.mp4", later: "/media/later.mp4"
    }


def test_pruned_jobs_are_remembered_by_content_preset_and_outputs(store: JobStore) -> None:
    done = finished_job(store, "clip")
    failed = finished_job(store, "bad", JobStatus.FAILED)
    assert remembered_job("hash-clip", "h264-720p") is None

    prune(store.db, time.time() - 30 * DAY)

    clip = remembered_job("hash-clip", "h264-720p")
    assert clip is not None and (clip.id, clip.status) == (done, JobStatus.SUCCEEDED)
    assert clip.finished_at is not None and clip.finished_at < time.time() - 39 * DAY
    bad = remembered_job("hash-bad", "h264-720p")
    assert bad is not None and (bad.id, bad.status) == (failed, JobStatus.FAILED)
    assert remembered_job("hash-clip", "vp9") is None
    assert remembered_output(["/out/other.mp4", "/out/clip.720p.mp4"]) == done
    assert remembered_output(["/out/clip.720p"]) is None  # a prefix is not the file


def test_many_jobs_go_in_several_short_batches(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    ids = [finished_job(store, f"n{i}") for i in range(8)]

    pruned = prune(store.db, time.time() - 30 * DAY)

    assert pruned.jobs == 8 and job_ids() == set()
    assert {r.id for r in PrunedJobRow.select()} == set(ids)


def test_a_prune_asked_to_stop_leaves_the_rest_for_the_next_one(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    for i in range(8):
        finished_job(store, f"n{i}")

    assert prune(store.db, time.time() - 30 * DAY, stopping=lambda: True).jobs == 3
    assert len(job_ids()) == 5
    assert prune(store.db, time.time() - 30 * DAY).jobs == 5


def test_processes_pruning_at_once_remove_and_remember_each_job_once(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 4)
    ids = [finished_job(store, f"n{i}") for i in range(20)]
    start = threading.Barrier(3)
    removed: list[int] = []

    def race() -> None:
        start.wait()
        removed.append(prune(store.db, time.time() - 30 * DAY).jobs)

    threads = [threading.Thread(target=race) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sum(removed) == 20 and job_ids() == set()
    assert sorted(r.id for r in PrunedJobRow.select()) == ids


def test_a_finished_job_of_a_batch_not_yet_ended_is_held_for_its_digest(
    store: JobStore,
) -> None:
    # No notification target at all: held whatever is configured, since the
    # batch's digest is recorded only when its last job ends.
    done = finished_job(store, "first", batch="b2")
    alone = finished_job(store, "alone", batch="b3")
    (later,) = store.create([NewJob(input_path="/media/later.mp4", preset="h264-720p",
                                    batch="b2")])  # fmt: skip

    for still in ("queued", "running"):
        if still == "running":
            assert store.claim(later, "w1") is not None
        would = prune(store.db, time.time() - 30 * DAY, dry_run=True)
        assert (would.jobs, would.held) == (1, 1), still
    pruned = prune(store.db, time.time() - 30 * DAY)
    assert (pruned.jobs, pruned.held) == (1, 1)
    assert job_ids() == {done, later} and alone not in job_ids()

    store.finish(later, "w1", JobStatus.SUCCEEDED)
    JobRow.update(finished_at=time.time() - 40 * DAY).where(JobRow.id == later).execute()
    pruned = prune(store.db, time.time() - 30 * DAY)
    assert (pruned.jobs, pruned.held) == (2, 0)
    assert job_ids() == set()


def test_a_job_that_ended_after_the_recovery_mark_is_held_until_a_sweep_passes_it(
    store: JobStore,
) -> None:
    before = finished_job(store, "before", days_ago=50)
    after = finished_job(store, "after", days_ago=40)  # its worker may have died unrecorded
    undated = finished_job(store, "undated", days_ago=60)
    # A finished job with no end time (written long ago): judged by its last change.
    JobRow.update(finished_at=None, updated_at=time.time() - 60 * DAY).where(
        JobRow.id == undated
    ).execute()
    mark = OwedMark(store)
    mark.advance(time.time() - 45 * DAY)

    pruned = prune(store.db, time.time() - 30 * DAY)

    assert (pruned.jobs, pruned.held) == (2, 1)
    assert job_ids() == {after}
    assert {r.id for r in PrunedJobRow.select()} == {before, undated}
    mark.advance(time.time() - 35 * DAY)  # a sweep recorded what it owed
    assert prune(store.db, time.time() - 30 * DAY).jobs == 1
    assert job_ids() == set()


def test_with_no_recovery_mark_jobs_are_pruned_as_before(store: JobStore) -> None:
    job_id = finished_job(store, "never-swept")
    assert OwedMark(store).get() is None

    pruned = prune(store.db, time.time() - 30 * DAY)

    assert (pruned.jobs, pruned.held) == (1, 0) and job_id not in job_ids()
