"""The queue contract, on SQLite, PostgreSQL and Redis: ids in, ids out, by
priority, delayed ones when due; what waits is visible to recovery. Real
servers (tests/backends.py), no mocks."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediaforge.config.discovery import load_config
from mediaforge.config.schema import Config
from mediaforge.queue.backend import NOTIFY, RUN_JOB, UPLOAD, JobQueue


def make_config(tmp_path: Path, queue: dict[str, str]) -> Config:
    path = tmp_path / "mediaforge.yaml"
    text = yaml.safe_dump({"data_dir": str(tmp_path / "data"), "queue": queue})
    path.write_text(text, encoding="utf-8")
    return load_config(path, {"HOME": str(tmp_path)})


@pytest.fixture
def queue(tmp_path: Path, queue_settings: dict[str, str]) -> JobQueue:
    return JobQueue(make_config(tmp_path, queue_settings))


def utc_now() -> datetime.datetime:
    """Now as huey keeps its schedule: naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def take(queue: JobQueue) -> tuple[str, tuple[Any, ...]] | None:
    task = queue.huey.dequeue()
    return None if task is None else (task.name, tuple(task.args))


def test_an_empty_queue_is_empty(queue: JobQueue) -> None:
    assert queue.is_empty()
    assert queue.pending_job_ids() == set()
    assert take(queue) is None


def test_higher_priority_goes_first_then_first_in_first_out(queue: JobQueue) -> None:
    queue.enqueue(1)
    queue.enqueue(2, priority=5)
    queue.enqueue(3)
    queue.enqueue(4, priority=5)
    queue.enqueue_notify()
    queue.enqueue_upload(9)
    assert not queue.is_empty()
    assert queue.pending_job_ids() == {1, 2, 3, 4}
    assert queue.pending_upload_job_ids() == {9}
    assert queue.notify_pending()
    taken = [take(queue) for _ in range(6)]
    # Notifications and uploads (the same high priority) before any job.
    assert sorted(taken[:2]) == sorted([(NOTIFY, ()), (UPLOAD, (9,))])
    assert taken[2:] == [(RUN_JOB, (2,)), (RUN_JOB, (4,)), (RUN_JOB, (1,)), (RUN_JOB, (3,))]
    assert queue.is_empty()


def test_delayed_tasks_wait_in_the_schedule_until_due(queue: JobQueue) -> None:
    queue.enqueue(7, delay=60)
    queue.enqueue_upload(8, delay=60)
    queue.enqueue_notify(delay=60)
    # A consumer takes a task that is not due yet and parks it in the schedule,
    # as huey's consumer does; recovery must see it in either place.
    for _ in range(3):
        task = queue.huey.dequeue()
        assert task is not None and not queue.huey.ready_to_run(task)
        queue.huey.add_schedule(task)
    assert take(queue) is None
    assert queue.pending_job_ids() == {7}
    assert queue.pending_upload_job_ids() == {8}
    assert queue.notify_pending()
    assert not queue.is_empty()
    assert queue.huey.read_schedule(utc_now()) == []
    later = utc_now() + datetime.timedelta(seconds=120)
    due = queue.huey.read_schedule(later)
    assert sorted(t.name for t in due) == sorted([RUN_JOB, UPLOAD, NOTIFY])
    assert queue.is_empty()


def test_a_taken_task_runs_the_handler_with_its_job_id(queue: JobQueue) -> None:
    ran: list[int] = []
    queue.handler = ran.append
    queue.enqueue(42, priority=3)
    task = queue.huey.dequeue()
    queue.huey.execute(task)
    assert ran == [42]


MAKE_QUEUE = """
import sys, yaml
from pathlib import Path
from mediaforge.config.discovery import load_config
from mediaforge.queue.backend import JobQueue
folder, barrier, settings = Path(sys.argv[1]), Path(sys.argv[2]), yaml.safe_load(sys.argv[3])
path = folder / "mediaforge.yaml"
while not barrier.exists():
    pass
JobQueue(load_config(path, {"HOME": str(folder)})).enqueue(int(sys.argv[4]))
"""


def test_many_processes_start_on_a_fresh_queue_at_once(
    tmp_path: Path, queue_settings: dict[str, str]
) -> None:
    make_config(tmp_path, queue_settings)
    barrier = tmp_path / "go"
    settings = yaml.safe_dump(queue_settings)
    argv = [sys.executable, "-c", MAKE_QUEUE, str(tmp_path), str(barrier), settings]
    procs = [
        subprocess.Popen([*argv, str(n)], stderr=subprocess.PIPE, text=True) for n in range(8)
    ]
    time.sleep(1.0)  # every process is spinning on the barrier by now
    barrier.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, "\n".join(errors)
    assert JobQueue(make_config(tmp_path, queue_settings)).pending_job_ids() == set(range(8))
