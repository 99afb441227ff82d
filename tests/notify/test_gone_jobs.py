"""Notifications about a job that no longer exists (pruned between its end and
the recording or the sending of its message): none is recorded, and a row
left for one anyway fails alone while the target's other messages go out.

A real worker, a real JSON webhook on 127.0.0.1, real SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.tables import JobRow, NotificationRow
from mediaforge.notify.delivery import Notifier
from mediaforge.notify.targets import target_label
from tests.mfcli import Mediaforge
from tests.servers import Webhook


def test_a_message_whose_job_is_gone_fails_and_the_targets_other_messages_go_out(
    mf: Mediaforge, make_media: Callable[..., Path], webhook: Webhook
) -> None:
    mf.configure(worker={"max_attempts": 1}, notify={"targets": [{"url": webhook.url()}],
                                                     "window": 0})  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
    # A message left for a job pruned since (a prune that committed between
    # the recording's check and its insert), due before anything else.
    store = mf.store
    with store.db.bind_ctx([NotificationRow]):
        NotificationRow.insert(
            key="job:999:1.0", event="job_failed", target=target_label(webhook.url()),
            job_id=999, due_at=1.0, created_at=1.0, updated_at=1.0,
        ).execute()  # fmt: skip
    mf.close_store()

    worker = mf.burst("--verbose")

    [post] = webhook.posts
    assert post["title"] == "mediaforge: clip.mp4 succeeded"
    assert mf.status(job_id)["status"] == "succeeded"
    store = mf.store
    with store.db.bind_ctx([NotificationRow]):
        orphan = NotificationRow.get(NotificationRow.job_id == 999)
        mine = NotificationRow.get(NotificationRow.job_id == job_id)
    assert (orphan.status, orphan.attempts) == ("failed", 1)
    assert orphan.error == "job 999 no longer exists (pruned?)"
    assert orphan.claimed_by is None and mine.status == "sent"
    assert "Traceback" not in worker.out + worker.err


def test_recording_the_message_of_a_job_that_is_gone_records_nothing(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.configure(notify={"targets": [{"url": "json://127.0.0.1:9/hook"}], "window": 0})
    store = mf.store
    [job_id] = store.create([NewJob(str(make_media("clip.mp4")), "remux-mp4")])
    store.claim(job_id, "w1")
    store.finish(job_id, "w1", JobStatus.FAILED, error="boom")
    job = store.get(job_id)  # what a recovery sweep read ...
    with store.db.bind_ctx([JobRow]):
        JobRow.delete().where(JobRow.id == job_id).execute()  # ... before a prune took it

    notifier = Notifier(mf.load_config(), store)

    assert notifier.job_ended(job) is None
    with store.db.bind_ctx([NotificationRow]):
        assert NotificationRow.select().count() == 0
