"""The core behind ``cancel``, ``retry`` and ``s3 sync``, called as the watch
daemon or an HTTP server would call it, and the command's ``--debug`` switch.

Jobs live in a real SQLite job database and queue in tmp_path; uploads go to
a real S3-compatible server (moto's, on 127.0.0.1) and messages to a real
webhook on 127.0.0.1. ``--debug`` is checked on ``python -m mediaforge`` as
users run it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from mediaforge.config.discovery import load_config
from mediaforge.config.schema import Config
from mediaforge.errors import InputError, JobNotFound, JobStateError
from mediaforge.events import Event
from mediaforge.jobs.model import JobStatus, NewJob, Output
from mediaforge.jobs.store import JobStore
from mediaforge.notify.store import NotificationStatus, NotificationStore
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.control import cancel_job, retry_job, retry_jobs
from mediaforge.queue.sync import plan_sync, sync_owed
from mediaforge.storage.s3.plan import planned_uploads
from mediaforge.storage.s3.rows import UploadStatus
from tests.mfcli import Mediaforge
from tests.servers import Webhook

BUCKET = "control-sync"
NOWHERE = "http://127.0.0.1:9"  # nothing listens there: every request is refused


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials for boto3 in this process; no profile or key of the machine's."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACONTROL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "control-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A local S3-compatible server for the module (each test makes its bucket)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def make_config(tmp_path: Path, **settings: Any) -> Config:
    """A config file in tmp_path (data there too) with these top-level sections."""
    path = tmp_path / "mediaforge.yaml"
    text = yaml.safe_dump({"data_dir": str(tmp_path / "data"), **settings})
    path.write_text(text, encoding="utf-8")
    return load_config(path, {"HOME": str(tmp_path)})


def hook_on(webhook: Webhook, *events: Event) -> dict[str, Any]:
    """A notify section: every message to ``webhook``, due at once."""
    target = {"url": webhook.url(), "events": [e.value for e in events]}
    return {"targets": [target], "window": 0, "retries": 0}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    """The job database of a config without extras (tests that need one pass their own)."""
    jobs = JobStore.open(make_config(tmp_path))
    yield jobs
    jobs.close()


def new_job(store: JobStore, name: str = "clip.mp4", folder: Path = Path("/media")) -> int:
    [job_id] = store.create([NewJob(input_path=str(folder / name), preset="h264-720p")])
    return job_id


def ended_job(
    store: JobStore, status: JobStatus, name: str = "clip.mp4", folder: Path = Path("/media")
) -> int:
    """A job that went through the real transitions to ``status`` (no ffmpeg needed)."""
    job_id = new_job(store, name, folder)
    if status is JobStatus.CANCELLED:
        store.cancel(job_id)
        return job_id
    assert store.claim(job_id, "w") is not None
    error = "input is not media" if status is JobStatus.FAILED else None
    assert store.finish(job_id, "w", status, error=error)
    return job_id


# -- cancel ----------------------------------------------------------------------------


@pytest.mark.parametrize("running", [False, True])
def test_cancel_job_cancels_and_records_the_message_for_a_worker_to_send(
    tmp_path: Path, webhook: Webhook, running: bool
) -> None:
    config = make_config(tmp_path, notify=hook_on(webhook, Event.JOB_CANCELLED))
    store = JobStore.open(config)
    job_id = new_job(store)
    if running:
        assert store.claim(job_id, "w") is not None

    job = cancel_job(config, store, job_id)

    assert job.status is JobStatus.CANCELLED
    assert store.get(job_id).status is JobStatus.CANCELLED
    [message] = NotificationStore(store).for_job(job)
    assert (message.event, message.status) == (Event.JOB_CANCELLED, NotificationStatus.PENDING)
    # Sending is a worker's job: a notify task waits on the queue, nothing went out yet.
    assert JobQueue(config).huey.pending_count() == 1
    assert webhook.posts == []
    store.close()


def test_cancel_job_without_targets_records_no_message_and_queues_nothing(
    tmp_path: Path, store: JobStore
) -> None:
    config = make_config(tmp_path)
    job_id = new_job(store)

    job = cancel_job(config, store, job_id)

    assert job.status is JobStatus.CANCELLED
    assert NotificationStore(store).for_job(job) == []
    assert JobQueue(config).huey.pending_count() == 0


@pytest.mark.parametrize("ending", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancel_job_refuses_a_job_that_has_ended_and_records_nothing(
    tmp_path: Path, webhook: Webhook, ending: JobStatus
) -> None:
    config = make_config(tmp_path, notify=hook_on(webhook, *Event))
    store = JobStore.open(config)
    job_id = ended_job(store, ending)

    with pytest.raises(JobStateError, match=f"job {job_id} is already {ending.value}"):
        cancel_job(config, store, job_id)

    assert store.get(job_id).status is ending
    assert NotificationStore(store).for_job(store.get(job_id)) == []
    store.close()


def test_cancel_job_of_an_unknown_id_raises_job_not_found(tmp_path: Path, store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        cancel_job(make_config(tmp_path), store, 404)


# -- retry -----------------------------------------------------------------------------


@pytest.fixture
def clips(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    """A folder of real clips (a retry probes its input again): a.mp4, f0.mp4,
    f1.mp4, first.mp4, done.mp4, last.mp4, and song.m4a, audio only."""
    folder = tmp_path / "clips"
    folder.mkdir()
    clip = make_media("clip.mp4", duration=0.3)
    for name in ("a.mp4", "f0.mp4", "f1.mp4", "first.mp4", "done.mp4", "last.mp4"):
        shutil.copy(clip, folder / name)
    shutil.copy(make_media("song.m4a", duration=0.3, video=False), folder / "song.m4a")
    return folder


def queued_ids(queue: JobQueue) -> list[int]:
    """The job ids waiting on the queue, in no particular order."""
    return [task.args[0] for task in queue.huey.pending()]


def test_retry_jobs_without_ids_queues_every_failed_job_and_nothing_else(
    tmp_path: Path, store: JobStore, clips: Path
) -> None:
    failed = [ended_job(store, JobStatus.FAILED, f"f{i}.mp4", clips) for i in range(2)]
    others = [
        ended_job(store, s, "a.mp4", clips) for s in (JobStatus.CANCELLED, JobStatus.SUCCEEDED)
    ]
    queue = JobQueue(make_config(tmp_path))

    requeued = list(retry_jobs(make_config(tmp_path), store, queue))

    assert sorted(r.job.id for r in requeued) == failed
    assert {r.refused for r in requeued} == {None}
    for job_id in failed:
        job = store.get(job_id)
        assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 0, None)
    assert [store.get(i).status for i in others] == [JobStatus.CANCELLED, JobStatus.SUCCEEDED]
    assert sorted(queued_ids(queue)) == failed


def test_retry_jobs_with_no_failed_job_yields_nothing(tmp_path: Path, store: JobStore) -> None:
    ended_job(store, JobStatus.SUCCEEDED)
    queue = JobQueue(make_config(tmp_path))

    assert list(retry_jobs(make_config(tmp_path), store, queue)) == []
    assert queue.huey.pending_count() == 0


def test_retry_job_queues_a_cancelled_job_with_its_priority(
    tmp_path: Path, store: JobStore, clips: Path
) -> None:
    clip = str(clips / "a.mp4")
    [job_id] = store.create([NewJob(input_path=clip, preset="h264-720p", priority=7)])
    store.cancel(job_id)
    queue = JobQueue(make_config(tmp_path))

    job = retry_job(make_config(tmp_path), store, queue, job_id)

    assert (job.status, job.priority) == (JobStatus.QUEUED, 7)
    [task] = queue.huey.pending()
    assert (task.args, task.priority) == ((job_id,), 7)


def test_retry_jobs_stops_at_a_job_that_cannot_be_retried_after_queueing_the_ones_before(
    tmp_path: Path, store: JobStore, clips: Path
) -> None:
    first = ended_job(store, JobStatus.FAILED, "first.mp4", clips)
    done = ended_job(store, JobStatus.SUCCEEDED, "done.mp4", clips)
    last = ended_job(store, JobStatus.FAILED, "last.mp4", clips)
    queue = JobQueue(make_config(tmp_path))
    requeued = retry_jobs(make_config(tmp_path), store, queue, [first, done, last])

    assert next(requeued).job.id == first
    with pytest.raises(JobStateError, match=f"job {done} is succeeded"):
        next(requeued)

    assert [store.get(i).status for i in (first, done, last)] == [
        JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED,
    ]  # fmt: skip
    assert queued_ids(queue) == [first]


def test_retry_job_refuses_a_job_whose_preset_cannot_apply_with_the_submit_reason(
    tmp_path: Path, store: JobStore, clips: Path
) -> None:
    song = ended_job(store, JobStatus.FAILED, "song.m4a", clips)
    queue = JobQueue(make_config(tmp_path))

    with pytest.raises(InputError) as refused:
        retry_job(make_config(tmp_path), store, queue, song)

    assert str(refused.value).startswith(f"{clips / 'song.m4a'} has no video (audio only)")
    assert store.get(song).status is JobStatus.FAILED
    assert queued_ids(queue) == []


def test_retry_jobs_leaves_failed_jobs_that_can_only_fail_again_and_queues_the_rest(
    tmp_path: Path, store: JobStore, clips: Path
) -> None:
    song = ended_job(store, JobStatus.FAILED, "song.m4a", clips)
    gone = ended_job(store, JobStatus.FAILED, "gone.mp4", clips)
    good = ended_job(store, JobStatus.FAILED, "a.mp4", clips)
    queue = JobQueue(make_config(tmp_path))

    retried = {r.job.id: r.refused for r in retry_jobs(make_config(tmp_path), store, queue)}

    assert retried[good] is None
    assert "has no video (audio only)" in (retried[song] or "")
    assert "input not found" in (retried[gone] or "")
    assert [store.get(i).status for i in (song, gone, good)] == [
        JobStatus.FAILED, JobStatus.FAILED, JobStatus.QUEUED,
    ]  # fmt: skip
    assert queued_ids(queue) == [good]


# -- s3 sync ---------------------------------------------------------------------------


def succeeded_with_outputs(store: JobStore, config: Config, folder: Path) -> tuple[int, Path]:
    """A job that succeeded with one real output file and the uploads it owes,
    recorded as the pipeline records them."""
    output = folder / "talk.720p.mp4"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(b"not really a movie, but bytes to upload" * 100)
    [job_id] = store.create([NewJob(input_path=str(folder / "talk.mov"), preset="h264-720p")])
    assert store.claim(job_id, "w") is not None
    outputs = [Output(path=str(output), kind="video", size=output.stat().st_size)]
    uploads = planned_uploads(config, str(folder / "talk.mov"), outputs)
    assert store.finish(job_id, "w", JobStatus.SUCCEEDED, outputs=outputs, uploads=uploads)
    return job_id, output


def test_plan_sync_lists_what_is_owed_and_touches_neither_the_store_nor_s3(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, s3={"bucket": BUCKET, "endpoint_url": NOWHERE})
    store = JobStore.open(config)
    job_id, output = succeeded_with_outputs(store, config, tmp_path / "media")

    plan = plan_sync(config, store)

    assert plan == [
        {"job": job_id, "path": str(output), "object": f"s3://{BUCKET}/processed/talk.720p.mp4"}
    ]
    assert plan_sync(config, store) == plan  # nothing was claimed or recorded
    store.close()


@pytest.mark.usefixtures("aws_env")
def test_sync_owed_uploads_then_sends_the_message_that_waited_for_the_uploads(
    tmp_path: Path, moto_endpoint: str, webhook: Webhook
) -> None:
    bucket = f"{BUCKET}-{tmp_path.name.lower().replace('_', '-')}"[:63]
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    config = make_config(
        tmp_path,
        s3={"bucket": bucket, "endpoint_url": moto_endpoint},
        notify=hook_on(webhook, Event.JOB_SUCCEEDED),
    )
    store = JobStore.open(config)
    job_id, output = succeeded_with_outputs(store, config, tmp_path / "media")
    seen: list[str] = []

    report = sync_owed(config, store, on_file=lambda upload: seen.append(upload.path))

    assert report.in_sync
    assert report.settled_jobs == [job_id]
    assert [u.path for u in report.round.uploaded] == [str(output)] == seen
    head = boto3.client("s3", endpoint_url=moto_endpoint).head_object(
        Bucket=bucket, Key="processed/talk.720p.mp4"
    )
    assert head["ContentLength"] == output.stat().st_size
    # The message went out at once, not to a worker: no task was queued for it.
    [message] = NotificationStore(store).for_job(store.get(job_id))
    assert (message.event, message.status) == (Event.JOB_SUCCEEDED, NotificationStatus.SENT)
    [post] = webhook.posts
    assert "talk" in json.dumps(post)
    store.close()


@pytest.mark.usefixtures("aws_env")
def test_sync_owed_reports_an_upload_to_retry_and_sends_nothing_yet(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = make_config(
        tmp_path,
        s3={"bucket": BUCKET, "endpoint_url": NOWHERE},
        notify=hook_on(webhook, Event.JOB_SUCCEEDED),
    )
    store = JobStore.open(config)
    job_id, _ = succeeded_with_outputs(store, config, tmp_path / "media")

    report = sync_owed(config, store)

    assert not report.in_sync
    assert report.settled_jobs == []
    [retrying] = report.round.retrying
    assert (retrying.job_id, retrying.status) == (job_id, UploadStatus.PENDING)
    assert NotificationStore(store).for_job(store.get(job_id)) == []
    assert webhook.posts == []
    store.close()


# -- --debug ---------------------------------------------------------------------------


def test_debug_shows_the_traceback_and_without_it_one_error_line(mf: Mediaforge) -> None:
    plain = mf("status", "404")
    debug = mf("--debug", "status", "404")

    assert plain.code == 6  # NOT_FOUND
    assert plain.err.splitlines() == [
        "Error: no job with id 404; see 'mediaforge jobs' for the ids"
    ]
    assert debug.code == 1  # an uncaught exception
    assert "Traceback" in debug.err and "JobNotFound" in debug.err


def test_mediaforge_debug_1_in_the_environment_also_shows_the_traceback(mf: Mediaforge) -> None:
    mf.env["MEDIAFORGE_DEBUG"] = "1"

    done = mf("status", "404")

    assert "Traceback" in done.err and "JobNotFound" in done.err


def test_debug_is_the_global_option_not_the_word_anywhere_on_the_command_line(
    mf: Mediaforge,
) -> None:
    # "--debug" here is the name of an input file (after "--"), not the option.
    done = mf("submit", "--preset", "remux-mp4", "--", "--debug")

    assert done.code == 4  # INPUT: no such file
    assert "Traceback" not in done.err
    assert len(done.error_lines()) == 1
