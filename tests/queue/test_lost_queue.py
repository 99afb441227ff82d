"""A worker makes up for a lost queue: the job database, not the queue, says what is owed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mediaforge.config.schema import load_config
from mediaforge.jobs.store import JobStatus, JobStore
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import prepare_jobs, submit


def test_a_worker_enqueues_queued_jobs_that_the_queue_lost(
    tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text("worker: {heartbeat_interval: 0.5, stale_after: 3}\n")
    env = {
        **os.environ,
        "MEDIAFORGE_DATA_DIR": str(tmp_path / "data"),
        "MEDIAFORGE_CONFIG": str(config_file),
    }
    config = load_config(None, env)
    store = JobStore.open(config)
    clips = [make_media(f"clip-{n}.mp4") for n in range(3)]
    # Two jobs were submitted, then their queue rows vanished (a deleted or
    # restored queue file); the third was committed by a submit that died
    # before it could enqueue.
    submitted = submit(config, store, JobQueue(config), clips[:2], "h264-720p")
    with sqlite3.connect(tmp_path / "data" / "queue.db") as queue_db:
        queue_db.execute("DELETE FROM task")
    [never_enqueued] = store.create(prepare_jobs(config, clips[2:], "h264-720p"))
    assert JobQueue(config).pending_job_ids() == set()

    done = subprocess.run(
        [sys.executable, "-m", "mediaforge", "worker", "--burst"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    for job_id in [*submitted, never_enqueued]:
        job = store.get(job_id)
        assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), done.stderr
    assert len(list(tmp_path.glob("clip-*.720p*.mp4"))) == 3
    store.close()
