"""``mediaforge db migrate``: a SQLite job database moved into PostgreSQL, with
its notification and upload rows, the SQLite file untouched, and queued jobs
run by a worker on the new database and queue."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaforge.errors import EnvironmentProblem, ExitCode
from mediaforge.hooks.store import HookStore, NewHookRun
from mediaforge.jobs import transfer
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.owed_mark import OwedMark
from mediaforge.jobs.retention import remembered_job, remembered_output
from mediaforge.jobs.tables import HookRow, JobRow
from mediaforge.jobs.upload_rows import NewUpload
from mediaforge.notify.store import NewNotification, NotificationStore
from mediaforge.queue.moving import migrate_to_postgres
from mediaforge.storage.s3.rows import UploadStatus, UploadStore
from tests.mfcli import Mediaforge

pytestmark = pytest.mark.slow


def files_digest(data: Path) -> tuple[str, int]:
    """The job database's bytes, and what its write-ahead log holds (a reader
    may create an empty one)."""
    wal = data / "jobs.db-wal"
    wal_size = wal.stat().st_size if wal.exists() else 0
    return hashlib.sha256((data / "jobs.db").read_bytes()).hexdigest(), wal_size


def sqlite_history(mf: Mediaforge, make_media: Callable[..., Path]) -> tuple[int, int]:
    """One succeeded job with a notification and an upload row, one queued job
    and one waiting for its retry; the SQLite files closed."""
    out = mf.home / "out"
    mf.ok("submit", "-p", "remux-mp4", "-o", out, make_media("done.mp4"))
    mf.burst()
    (done,) = [j["id"] for j in mf.jobs()]
    store = mf.store
    NotificationStore(store).add([NewNotification(f"job:{done}:1", "job_succeeded", "ops", 0.0)])
    HookStore(store).add([NewHookRun(done, f"job:{done}:1", "plex", "plex", "job_succeeded", 0.0)])
    upload = NewUpload("output", str(out / "done.remux.mp4"), "done.remux.mp4", "b", "k", 1, "v")
    uploads = UploadStore(store)
    uploads.add(done, [upload])
    # Uploaded already: the workers later have nothing to send to S3 (not reachable here).
    (row,) = uploads.claim(done, "test")
    assert uploads.settle(row.id, "test", UploadStatus.UPLOADED)
    mf.ok("submit", "-p", "remux-mp4", "-o", out, make_media("queued.mp4"))
    queued = max(j["id"] for j in mf.jobs())
    mf.stop()  # closes the job database opened here
    return done, queued


def test_migrate_copies_everything_and_workers_carry_on_on_postgres(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str
) -> None:
    done, queued = sqlite_history(mf, make_media)
    before = files_digest(mf.data)

    moved = mf.ok("db", "migrate", "--to", postgres_url, "--json").json()

    assert moved["copied"] == {
        "job": 2, "notification": 1, "upload": 1, "pruned_job": 0, "hook": 1
    }
    assert moved["requeued"] == [queued]
    assert moved["queue"]["backend"] == "postgres"
    assert files_digest(mf.data) == before, "the SQLite job database was written to"
    mf.configure(database={"url": postgres_url}, queue={"backend": "postgres", "url": postgres_url})
    mf.burst()
    jobs = {j["id"]: j for j in mf.jobs()}
    assert {i: j["status"] for i, j in jobs.items()} == {done: "succeeded", queued: "succeeded"}
    assert mf.store.get(done).outputs[0].path.endswith("done.remux.mp4")
    assert [u.key for u in UploadStore(mf.store).for_job(done)] == ["k"]
    assert NotificationStore(mf.store).get(f"job:{done}:1", "job_succeeded", "ops") is not None
    assert [h.hook for h in HookStore(mf.store).for_job(done)] == ["plex"]
    # New ids continue after the copied ones.
    mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", make_media("new.mp4"))
    assert max(j["id"] for j in mf.jobs()) == queued + 1


def test_migrate_carries_the_memory_of_pruned_jobs(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str
) -> None:
    done, queued = sqlite_history(mf, make_media)
    notes = NotificationStore(mf.store)
    (row,) = notes.claim("ops", "test")
    notes.settle([row.id], "test", sent=True)  # owed nothing more: it may be pruned
    HookRow.update(status="done").where(HookRow.job_id == done).execute()
    fingerprint = mf.store.get(done).input_hash
    JobRow.update(finished_at=1.0).where(JobRow.id == done).execute()
    mf.stop()
    mf.ok("jobs", "prune", "--older-than", "30d")

    moved = mf.ok("db", "migrate", "--to", postgres_url, "--json").json()

    # The notification row names no job (job_id): it is not the pruned job's and stays.
    assert moved["copied"] == {
        "job": 1, "notification": 1, "upload": 0, "pruned_job": 1, "hook": 0
    }  # fmt: skip
    mf.configure(database={"url": postgres_url})
    assert mf.store.get(queued).status is JobStatus.QUEUED  # the store now reads PostgreSQL
    remembered = remembered_job(fingerprint or "", "remux-mp4")
    assert remembered is not None and remembered.id == done
    assert remembered_output([str(mf.home / "out" / "done.remux.mp4")]) == done


def test_migrate_carries_how_far_recovery_recorded_what_jobs_owe(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str
) -> None:
    sqlite_history(mf, make_media)  # its worker's recovery sweeps set the mark
    swept_until = OwedMark(mf.store).get()
    assert swept_until is not None
    mf.stop()

    mf.ok("db", "migrate", "--to", postgres_url)

    mf.configure(database={"url": postgres_url})
    assert OwedMark(mf.store).get() == pytest.approx(swept_until)  # the store reads PostgreSQL


def test_migrate_onto_redis_with_the_queue_option(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str, redis_url: str
) -> None:
    _, queued = sqlite_history(mf, make_media)
    text = mf.ok("db", "migrate", "--to", postgres_url, "--queue", redis_url).out
    assert "copied 2 job row(s)" in text and "backend: redis" in text
    mf.configure(database={"url": postgres_url}, queue={"backend": "redis", "url": redis_url})
    mf.burst()
    assert mf.status(queued)["status"] == "succeeded"


def test_migrate_refuses_a_database_that_holds_jobs(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str
) -> None:
    sqlite_history(mf, make_media)
    mf.ok("db", "migrate", "--to", postgres_url)
    again = mf("db", "migrate", "--to", postgres_url)
    assert again.code == ExitCode.ENVIRONMENT
    assert len(again.err.strip().splitlines()) == 1
    assert "already holds 2 job row(s)" in again.err


def test_migrate_refuses_while_a_job_runs(
    mf: Mediaforge, make_media: Callable[..., Path], postgres_url: str
) -> None:
    mf.ok("submit", "-p", "remux-mp4", make_media("a.mp4"))
    (job,) = mf.jobs()
    assert mf.store.claim(job["id"], "elsewhere/1/w") is not None
    mf.stop()
    refused = mf("db", "migrate", "--to", postgres_url)
    assert refused.code == ExitCode.ENVIRONMENT
    assert f"job {job['id']} is running" in refused.err and "Traceback" not in refused.err
    assert mf.store.get(job["id"]).status is JobStatus.RUNNING


def test_migrate_keeps_nothing_when_the_sqlite_database_is_written_meanwhile(
    mf: Mediaforge,
    make_media: Callable[..., Path],
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqlite_history(mf, make_media)
    late = make_media("late.mp4")
    read_snapshot = transfer._read

    def a_submit_lands_after_the_snapshot(path: Path) -> Any:
        rows = read_snapshot(path)
        # A watcher or a submit in another process, as the snapshot is being copied.
        mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", late)
        return rows

    monkeypatch.setattr(transfer, "_read", a_submit_lands_after_the_snapshot)
    with pytest.raises(EnvironmentProblem) as refused:
        migrate_to_postgres(mf.load_config(), postgres_url, None)

    assert "changed while it was copied (job rows were written); nothing was kept" in str(
        refused.value
    )
    assert "stop every watcher and worker" in str(refused.value)
    monkeypatch.undo()
    # Nothing was kept: once the writers are stopped, the migration runs whole.
    moved = mf.ok("db", "migrate", "--to", postgres_url, "--json").json()
    assert moved["copied"]["job"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "mysql://x/db"], "--to: 'mysql://x/db' is not a PostgreSQL URL"),
        (["--to", "postgresql://u@127.0.0.1:1/d", "--queue", "amqp://x"], "--queue: "),
    ],
)
def test_migrate_reports_bad_urls_in_one_line(
    mf: Mediaforge, args: list[str], message: str
) -> None:
    done = mf("db", "migrate", *args)
    assert done.code == ExitCode.CONFIG
    assert len(done.err.strip().splitlines()) == 1 and message in done.err


def test_migrate_without_a_sqlite_database_says_so(mf: Mediaforge, postgres_url: str) -> None:
    done = mf("db", "migrate", "--to", postgres_url)
    assert done.code == ExitCode.ENVIRONMENT
    assert "no job database at" in done.err
