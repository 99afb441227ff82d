"""Work queued by an earlier release runs after an upgrade: the queue's task
names on the wire do not follow the code when it moves."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

from huey.registry import Message

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import prepare_jobs
from tests.mfcli import Mediaforge

# What a release before the package layout put on the queue for one job.
OLD_RUN_JOB = "mediaforge.queue.mediaforge.run_job"


def test_a_job_enqueued_under_the_released_task_name_runs(
    mf: Mediaforge, tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    config = mf.load_config()
    clip = make_media("clip.mp4")
    [job_id] = mf.store.create(prepare_jobs(config, [clip], "h264-720p"))
    huey = JobQueue(config).huey
    message = Message(
        "old-release-message", OLD_RUN_JOB, None, 0, 0, 0, (job_id,), {}, None, None,
        None, None, None, None, None,
    )
    # huey's default serializer: pickle (the queue file is ours, written by ourselves)
    huey.storage.enqueue(pickle.dumps(message, pickle.HIGHEST_PROTOCOL), 0)

    # The worker reads the message as a job it knows; nothing had to be
    # re-enqueued by recovery for the job to run.
    assert JobQueue(config).pending_job_ids() == {job_id}
    done = mf("worker", "--burst")

    assert done.code == 0, done.err
    assert "re-enqueued" not in done.err
    job = mf.store.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1), done.err
    assert len(list(tmp_path.glob("clip.720p*.mp4"))) == 1
