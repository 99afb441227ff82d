"""A worker makes up for a lost queue: the job database, not the queue, says what is owed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import prepare_jobs
from tests.mfcli import Mediaforge


def test_a_worker_enqueues_queued_jobs_that_the_queue_lost(
    mf: Mediaforge, tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    config = mf.load_config()
    clips = [make_media(f"clip-{n}.mp4") for n in range(3)]
    # Two jobs were submitted, then their queue rows vanished (a deleted or
    # restored queue file); the third was committed by a submit that died
    # before it could enqueue.
    submitted = mf.submit(clips[:2], "h264-720p")
    with sqlite3.connect(mf.data / "queue.db") as queue_db:
        queue_db.execute("DELETE FROM task")
    [never_enqueued] = mf.store.create(prepare_jobs(config, clips[2:], "h264-720p"))
    assert JobQueue(config).pending_job_ids() == set()

    done = mf("worker", "--burst")

    assert done.code == 0, done.err
    for job_id in [*submitted, never_enqueued]:
        job = mf.store.get(job_id)
        assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), done.err
    assert len(list(tmp_path.glob("clip-*.720p*.mp4"))) == 3
