"""A job whose claim a database outage cut short is given back once the
database is back, and never from under a later run of the same job."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.worker import MediaforgeConsumer
from tests.mfcli import Mediaforge, wait_until


def test_a_job_run_again_by_the_same_thread_is_not_given_back_from_under_it(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    config = mf.load_config()
    [job_id] = mf.submit([make_media("clip.mp4", duration=4.0)], "h264-720p")
    consumer = MediaforgeConsumer(config, mf.store, JobQueue(config), workers=1, burst=True)
    # The thread's earlier claim was cut short by an outage; recovery has
    # given the job back meanwhile, so the same thread claims it again under
    # the same name, while the main loop still has the old claim to give back.
    consumer._interrupted[job_id] = f"{consumer.name}/Worker-1"
    runner = threading.Thread(target=consumer._run_one, args=(job_id,), name="Worker-1")
    runner.start()
    try:
        wait_until(lambda: mf.store.get(job_id).status is JobStatus.RUNNING, 30, "the job to start")
        consumer._release_interrupted()  # the main loop, once the database is back
    finally:
        runner.join(60)

    job = mf.store.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), job.error
