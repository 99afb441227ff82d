"""Retention through the doors users have: ``mediaforge jobs prune`` and a real
worker pruning on its own when ``jobs.retention_days`` is set. Real ffmpeg on
tiny synthesized media, a real SQLite job database."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.errors import ExitCode
from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.owed_mark import OwedMark
from mediaforge.jobs.tables import HookRow, JobRow
from mediaforge.notify.delivery import Notifier
from tests.mfcli import Mediaforge
from tests.servers import Webhook, recording

DAY = 86400.0


def done_jobs(mf: Mediaforge, make_media: Callable[..., Path], *names: str) -> list[int]:
    """One succeeded job per name (remuxed by a burst worker), oldest first."""
    media = [make_media(f"{name}.mp4", duration=1) for name in names]
    for path in media:
        mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", path)
    mf.burst()
    jobs = sorted(mf.jobs(), key=lambda j: j["id"])
    assert [j["status"] for j in jobs] == ["succeeded"] * len(names)
    return [j["id"] for j in jobs]


def age(mf: Mediaforge, job_id: int, days: float) -> None:
    """Make a job look as if it ended ``days`` ago."""
    assert mf.store.get(job_id).finished_at is not None  # opens (and binds) the job database
    JobRow.update(finished_at=time.time() - days * DAY).where(JobRow.id == job_id).execute()
    mf.close_store()


def test_prune_dry_run_counts_and_prune_removes_only_the_old_jobs(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    old, recent = done_jobs(mf, make_media, "old", "recent")
    age(mf, old, 40)

    would = mf.ok("jobs", "prune", "--older-than", "30d", "--dry-run", "--json").json()

    assert (would["jobs"], would["notifications"], would["uploads"]) == (1, 0, 0)
    assert would["dry_run"] is True
    assert {j["id"] for j in mf.jobs()} == {old, recent}
    text = mf.ok("jobs", "prune", "--older-than", "30d").out
    assert text.startswith("removed 1 finished job(s) that ended before ")
    assert [j["id"] for j in mf.jobs()] == [recent]
    gone = mf("status", old)
    assert gone.code == ExitCode.NOT_FOUND
    # The outputs are the user's: pruning the history never touches files.
    assert (mf.home / "out" / "old.remux.mp4").is_file()


def test_prune_counts_the_hook_rows_it_removes_and_removes_them(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        url = server.url + "/hook"
        mf.configure(hooks=[{"name": "ci", "kind": "http", "url": url},
                            {"name": "deploy", "kind": "http", "url": url}])  # fmt: skip
        old, recent = done_jobs(mf, make_media, "old", "recent")  # the burst runs the hooks
    assert len(server.requests) == 4
    age(mf, old, 40)

    def hook_rows() -> dict[int, int]:
        with mf.store.db.bind_ctx([HookRow]):
            rows = {job: [r for r in HookRow.select() if r.job_id == job] for job in (old, recent)}
        mf.close_store()
        return {job: len(found) for job, found in rows.items()}

    assert hook_rows() == {old: 2, recent: 2}

    would = mf.ok("jobs", "prune", "--older-than", "30d", "--dry-run", "--json").json()
    assert (would["jobs"], would["hooks"], would["dry_run"]) == (1, 2, True)
    dry = mf.ok("jobs", "prune", "--older-than", "30d", "--dry-run").out
    assert "would remove 1 finished job(s)" in dry and "and 2 hook row(s)" in dry
    assert hook_rows() == {old: 2, recent: 2}

    text = mf.ok("jobs", "prune", "--older-than", "30d").out
    assert text.startswith("removed 1 finished job(s) that ended before ")
    assert "with 0 notification, 0 upload and 2 hook row(s)" in text
    assert hook_rows() == {old: 0, recent: 2}
    assert mf.ok("jobs", "prune", "--older-than", "30d", "--json").json()["hooks"] == 0


def test_prune_without_an_age_uses_retention_days_or_says_what_to_give(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    (job,) = done_jobs(mf, make_media, "clip")
    age(mf, job, 10)

    missing = mf("jobs", "prune")
    assert missing.code == ExitCode.USAGE
    assert missing.error_lines() == [
        "Error: --older-than: give an age like 30d (jobs.retention_days is not set)"
    ]
    bad = mf("jobs", "prune", "--older-than", "lately")
    assert bad.code == ExitCode.USAGE and len(bad.err.strip().splitlines()) == 1
    mf.configure(jobs={"retention_days": 7})
    assert mf.ok("jobs", "prune", "--json").json()["jobs"] == 1
    assert mf.jobs() == []


def test_a_running_worker_prunes_old_jobs_on_its_own(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    old, recent = done_jobs(mf, make_media, "old", "recent")
    mf.configure(jobs={"retention_days": 30, "prune_interval": 1})
    worker = mf.start("worker")
    time.sleep(1.5)  # the worker's first prune, at start-up, finds nothing old
    assert {j["id"] for j in mf.jobs()} == {old, recent}

    age(mf, old, 31)  # while the worker runs: its next periodic prune takes it

    mf.wait_until(lambda: [j["id"] for j in mf.jobs()] == [recent], 30, "the old job pruned")
    worker.terminate()
    done = mf.finish(worker)
    assert done.code == 0
    assert "retention: removed 1 finished job(s) older than 30 days" in done.err


def test_without_retention_days_a_worker_keeps_every_job(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    (job,) = done_jobs(mf, make_media, "clip")
    age(mf, job, 3650)

    mf.burst()

    assert [j["id"] for j in mf.jobs()] == [job]


def test_a_retention_that_is_not_a_positive_number_is_refused_naming_the_field(
    mf: Mediaforge,
) -> None:
    mf.configure(jobs={"retention_days": 0})

    done = mf("jobs", "prune", "--dry-run")

    assert done.code == ExitCode.CONFIG
    assert "jobs.retention_days" in done.err and "must be greater than 0" in done.err
    assert "Traceback" not in done.err


def test_listing_options_before_prune_are_refused_not_ignored(mf: Mediaforge) -> None:
    done = mf("jobs", "--status", "failed", "prune", "--older-than", "1d")
    assert done.code == 2
    assert done.err.strip() == (
        "Error: --status: for the listing ('mediaforge jobs'), not for 'jobs prune'; give "
        "'jobs prune' its own options after it (see 'mediaforge jobs prune --help')"
    ), done.err


def test_a_batch_digest_still_counts_a_job_that_ended_long_before_the_rest(
    mf: Mediaforge, make_media: Callable[..., Path], webhook: Webhook
) -> None:
    mf.configure(notify={"targets": [{"url": webhook.url(), "events": ["batch_finished"]}],
                         "window": 0})  # fmt: skip
    first, second = mf.submit([make_media("a.mp4", duration=1), make_media("b.mp4", duration=1)],
                              "remux-mp4")  # fmt: skip
    store = mf.store
    assert store.claim(first, "w1") is not None
    assert store.finish(first, "w1", JobStatus.FAILED, error="boom")
    notifier = Notifier(mf.load_config(), store)
    assert notifier.job_ended(store.get(first)) is None  # the digest waits for the batch
    age(mf, first, 2)

    held = mf.ok("jobs", "prune", "--older-than", "1d", "--json").json()

    assert (held["jobs"], held["held"]) == (0, 1)
    store = mf.store
    assert store.claim(second, "w1") is not None
    assert store.finish(second, "w1", JobStatus.FAILED, error="boom too")
    notifier = Notifier(mf.load_config(), store)
    assert notifier.job_ended(store.get(second)) == 0
    notifier.deliver_due("w1")
    [post] = webhook.posts
    assert post["title"] == "mediaforge: 2 jobs finished (2 failed)"


def test_prune_keeps_a_job_that_ended_after_the_last_recovery_sweep_until_a_sweep_passes_it(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    # The host lost power three days ago: the last sweep had got to T, then a
    # job ended and its worker died before recording its hooks. A cron prune
    # runs before any worker is back.
    with recording({("POST", "/hook"): (200, b"")}) as server:
        mf.configure(worker={"recovery_interval": 1},
                     hooks=[{"name": "ci", "kind": "http", "url": server.url + "/hook",
                             "events": ["job_failed"]}])  # fmt: skip
        store = mf.store
        [job_id] = store.create([NewJob(str(make_media("clip.mp4", duration=1)), "remux-mp4")])
        assert store.claim(job_id, "dead-worker") is not None
        assert store.finish(job_id, "dead-worker", JobStatus.FAILED, error="boom")
        swept_until = time.time() - 3 * DAY
        OwedMark(store).advance(swept_until)
        JobRow.update(finished_at=swept_until + 10).where(JobRow.id == job_id).execute()
        mf.close_store()

        held = mf.ok("jobs", "prune", "--older-than", "1d", "--json").json()

        assert (held["jobs"], held["held"]) == (0, 1)
        assert "1 older job(s)" in mf.ok("jobs", "prune", "--older-than", "1d").out
        worker = mf.start("worker")
        mf.wait_until(lambda: len(server.requests) > 0, 30, "the hook to run at recovery")
        worker.terminate()
        assert mf.finish(worker).code == 0

    [call] = server.requests
    assert call.json()["id"] == job_id
    pruned = mf.ok("jobs", "prune", "--older-than", "1d", "--json").json()
    assert (pruned["jobs"], pruned["hooks"], pruned["held"]) == (1, 1, 0)
