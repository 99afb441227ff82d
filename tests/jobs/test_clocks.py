"""Every time that another worker judges is taken on the database's clock.

The machine running the tests has one clock, so a database whose clock
disagrees with a worker's cannot be had for real here: these tests move the
database's clock (``database_time``, the one function that reads it) by
``SKEW`` seconds, as a PostgreSQL server whose clock is off would, and check
that what is stamped and judged follows it, not the local clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from mediaforge.events import Event
from mediaforge.jobs.database import connect
from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import NotificationRow
from mediaforge.notify.store import NewNotification, NotificationStatus, NotificationStore

SKEW = -1000.0  # the database's clock is 1000 s behind this machine's


def skewed_time(db: peewee.Database) -> float:
    return time.time() + SKEW


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStore]:
    # Every module that reads the database's clock, with its own reference to it.
    readers = ("mediaforge.jobs.store", "mediaforge.jobs.owed", "mediaforge.storage.s3.rows")
    for module in readers:
        monkeypatch.setattr(f"{module}.database_time", skewed_time, raising=False)
    jobs = JobStore(connect(None, tmp_path / "data"), max_attempts=3)
    yield jobs
    jobs.close()


def on_database_clock(stamp: float | None) -> bool:
    return stamp is not None and abs(stamp - (time.time() + SKEW)) < 60


def test_a_job_ends_on_the_clock_it_started_on(store: JobStore) -> None:
    finished, cancelled, failed = store.create(
        [NewJob(input_path=f"/media/{n}.mp4", preset="h264-720p") for n in "abc"]
    )
    assert store.claim(finished, "w") is not None
    assert store.finish(finished, "w", JobStatus.SUCCEEDED)
    store.cancel(cancelled)
    assert store.fail_queued(failed, "gone")

    job = store.get(finished)
    assert on_database_clock(job.started_at) and on_database_clock(job.finished_at)
    assert job.finished_at is not None and job.started_at is not None
    assert 0 <= job.finished_at - job.started_at < 60  # a run time, not the skew
    assert on_database_clock(store.get(cancelled).finished_at)
    assert on_database_clock(store.get(failed).finished_at)


def test_notification_claims_are_stamped_and_judged_on_the_database_clock(
    store: JobStore,
) -> None:
    rows = NotificationStore(store)
    rows.add([NewNotification("k", Event.JOB_SUCCEEDED, "t", rows.now())])
    [claimed] = rows.claim("t", "alive#1")
    stamp = NotificationRow.get_by_id(claimed.id).claimed_at
    assert on_database_clock(stamp) and on_database_clock(claimed.created_at)

    # A worker judging claims a minute old on its own clock would take this
    # fresh claim (1000 s "old" by the local clock) from the live sender.
    assert rows.release_stale(rows.now() - 60) == 0
    assert NotificationRow.get_by_id(claimed.id).status == NotificationStatus.SENDING.value
    assert rows.release_stale(rows.now() + 1) == 1
