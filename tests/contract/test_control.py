"""Pause, resume and drain orders and workers' intakes, on SQLite and on
PostgreSQL: the same store, the same answers. Real servers, no mocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaforge.jobs.control import ControlStore, Intake, Orders, PauseMode, WorkerIntake
from mediaforge.jobs.database import connect
from mediaforge.jobs.store import JobStore


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[JobStore]:
    jobs = JobStore(connect(database_url, tmp_path))
    yield jobs
    jobs.close()


def test_orders_are_kept_until_resume(store: JobStore, database_url: str, tmp_path: Path) -> None:
    control = ControlStore(store.db)
    assert control.orders() == Orders()

    control.pause(PauseMode.SOFT)
    control.pause(PauseMode.NOW)  # a second order replaces the first
    ordered_at = control.drain()

    # Another connection (another process or host) sees the same orders, and
    # lifts them (from here on the tables are bound to that connection).
    elsewhere = JobStore(connect(database_url, tmp_path))
    other = ControlStore(elsewhere.db)
    try:
        seen = other.orders()
        assert seen == Orders(PauseMode.NOW, ordered_at)
        assert seen.drains(ordered_at - 1) and not seen.drains(ordered_at + 1)
        assert other.resume() == Orders(PauseMode.NOW, ordered_at)
        assert other.orders() == Orders()
    finally:
        elsewhere.close()


def test_a_queued_job_waits_only_when_every_live_worker_says_why(store: JobStore) -> None:
    control = ControlStore(store.db)
    night, day = store.workers.register("night:1:aa"), store.workers.register("day:2:bb")
    assert control.why_waiting(stale_after=60) is None

    control.record_intake(night, WorkerIntake(Intake.OUTSIDE_WINDOW, 2_000.0, "22:00"))
    assert control.why_waiting(stale_after=60) is None  # "day" takes jobs
    control.record_intake(day, WorkerIntake(Intake.OUTSIDE_WINDOW, 1_000.0, "07:00"))
    assert control.why_waiting(stale_after=60) == (
        "waits for 07:00: every worker is outside its run window"
    )
    assert {w.intake for w in store.workers.list_workers(60)} == {
        "outside its run window, opens 22:00",
        "outside its run window, opens 07:00",
    }

    control.pause(PauseMode.SOFT)
    assert control.why_waiting(stale_after=60) == "paused: waits for 'mediaforge resume'"
    control.resume()
    control.record_intake(day, None)
    assert control.why_waiting(stale_after=60) is None
