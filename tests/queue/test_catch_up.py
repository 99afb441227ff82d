"""The catch-up: a worker killed between a job's end and the recording of
what the job owes leaves its notifications and hooks unrecorded, and every
recovery sweep records them (``queue/aftercare.py``), up to a mark kept in the
job database (``jobs/owed_mark.py``). A database written by an earlier
version holds the mark under its old name, and it is honoured.

Real workers, real HTTP servers on 127.0.0.1 (``tests.servers``), real SQLite;
the dead worker is played by finishing its job in the database as a worker
would, and never recording anything after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.hooks.store import HookStore
from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.owed_mark import MARK_KEY, OLD_MARK_KEY, OwedMark
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import JobRow, MetaRow
from tests.mfcli import Mediaforge
from tests.servers import Webhook, recording


def ended_by_a_dead_worker(store: JobStore, media: Path, ago: float | None = None) -> int:
    """A job failed by a worker that died before it recorded anything else;
    ``ago``: it ended that many seconds ago."""
    [job_id] = store.create([NewJob(str(media), "remux-mp4")])
    assert store.claim(job_id, "dead-worker") is not None
    assert store.finish(job_id, "dead-worker", JobStatus.FAILED, error="boom")
    if ago is not None:
        JobRow.update(finished_at=time.time() - ago).where(JobRow.id == job_id).execute()
    return job_id


def test_the_hooks_of_a_job_whose_worker_died_right_after_it_ended_run_at_recovery(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        mf.configure(
            worker={"recovery_interval": 1},
            hooks=[{"name": "ci", "kind": "http", "url": server.url + "/hook",
                    "events": ["job_failed"]}],
        )  # fmt: skip
        store = mf.store
        job_id = ended_by_a_dead_worker(store, make_media("clip.mp4"))
        assert store.get(job_id).status is JobStatus.FAILED

        mf.start("worker", "--verbose")
        mf.wait_until(lambda: len(server.requests) > 0, 30, "the hook to run at recovery")
        time.sleep(2.5)  # more sweeps: the job's hook still runs once

    [call] = server.requests
    assert call.json()["id"] == job_id
    assert call.headers["x-mediaforge-event"] == "job_failed"
    [run] = mf.status(job_id)["hooks"]
    assert run["status"] == "done"
    finished_at = store.get(job_id).finished_at
    assert finished_at is not None
    recorded_until = OwedMark(store).get()
    assert recorded_until is not None and recorded_until >= finished_at


def test_the_notification_of_a_job_whose_worker_died_right_after_it_ended_is_sent(
    mf: Mediaforge, make_media: Callable[..., Path], webhook: Webhook
) -> None:
    mf.configure(
        worker={"recovery_interval": 1}, notify={"targets": [{"url": webhook.url()}], "window": 0}
    )
    ended_by_a_dead_worker(mf.store, make_media("clip.mp4"))

    mf.start("worker")
    mf.wait_until(lambda: len(webhook.posts) > 0, 30, "the notification to go out at recovery")
    time.sleep(2.5)  # more sweeps: it is sent once

    assert len(webhook.posts) == 1, webhook.posts
    [post] = webhook.posts
    assert post["title"] == "mediaforge: clip.mp4 failed" and "Error: boom" in post["message"]


def test_the_mark_an_earlier_version_left_is_honoured_for_hooks_and_notifications(
    mf: Mediaforge, make_media: Callable[..., Path], webhook: Webhook
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        mf.configure(
            worker={"recovery_interval": 1},
            notify={"targets": [{"url": webhook.url()}], "window": 0},
            hooks=[{"name": "ci", "kind": "http", "url": server.url + "/hook",
                    "events": ["job_failed"]}],
        )  # fmt: skip
        store = mf.store
        # Both ended well within the first sweep's look-back (an hour); an
        # earlier version's sweeps had got between them, under the old name.
        before = ended_by_a_dead_worker(store, make_media("before.mp4"), ago=200)
        after = ended_by_a_dead_worker(store, make_media("after.mp4"), ago=100)
        MetaRow.insert(key=OLD_MARK_KEY, value=repr(time.time() - 150)).execute()
        mf.close_store()

        mf.start("worker", "--verbose")
        mf.wait_until(
            lambda: len(server.requests) > 0 and len(webhook.posts) > 0, 30,
            "the later job's hook and notification at recovery",
        )  # fmt: skip
        time.sleep(2.5)  # more sweeps: nothing more is recorded

    assert [call.json()["id"] for call in server.requests] == [after]
    assert [post["title"] for post in webhook.posts] == ["mediaforge: after.mp4 failed"]
    store = mf.store
    assert HookStore(store).for_job(before) == []  # already the old sweeps' to record
    finished_at = store.get(after).finished_at
    mark = OwedMark(store).get()
    assert finished_at is not None and mark is not None and mark >= finished_at
    assert MetaRow.get(MetaRow.key == MARK_KEY).value == repr(mark)  # moved on, new name
    # ... and the old one: an earlier-version worker coming back reads only that
    # and would otherwise sweep again from where it stopped.
    assert MetaRow.get(MetaRow.key == OLD_MARK_KEY).value == repr(mark)


def test_the_mark_reads_the_further_of_its_two_names_and_moves_each_only_forward(
    mf: Mediaforge,
) -> None:
    mark = OwedMark(mf.store)
    assert mark.get() is None  # never swept

    def stored() -> dict[str, str]:
        return {r.key: r.value for r in MetaRow.select().where(
            MetaRow.key.in_([MARK_KEY, OLD_MARK_KEY]))}  # fmt: skip

    MetaRow.insert(key=OLD_MARK_KEY, value=repr(1000.0)).execute()
    assert mark.get() == 1000.0
    mark.advance(900.0)  # the old name is never moved back; the new one starts there
    assert mark.get() == 1000.0
    assert stored() == {OLD_MARK_KEY: repr(1000.0), MARK_KEY: repr(900.0)}

    mark.advance(1100.0)  # both names move: earlier versions read only the old one
    assert mark.get() == 1100.0
    assert stored() == {OLD_MARK_KEY: repr(1100.0), MARK_KEY: repr(1100.0)}
    # A worker of the earlier version running alongside moves the old name on.
    MetaRow.update(value=repr(1200.0)).where(MetaRow.key == OLD_MARK_KEY).execute()
    assert mark.get() == 1200.0
    mark.advance(1150.0)
    assert stored() == {OLD_MARK_KEY: repr(1200.0), MARK_KEY: repr(1150.0)}
