"""``mediaforge db backup`` and ``db check``, and the restore docs/operations.md
describes: a real worker runs jobs while the SQLite job database is copied,
and the copies are checked by SQLite itself, not by mediaforge."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge

pytestmark = pytest.mark.slow


def integrity(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [line for (line,) in db.execute("PRAGMA integrity_check")]


def statuses(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [status for (status,) in db.execute('SELECT status FROM "job" ORDER BY id')]


def test_backups_taken_while_a_worker_runs_jobs_are_sound_and_hold_every_job(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    media = [make_media(f"clip{i}.mp4", duration=2) for i in range(6)]
    for path in media:
        mf.ok("submit", "-p", "h264-720p", "-o", mf.home / "out", path)
    backups = mf.home / "backups"
    backups.mkdir()
    worker = mf.start("worker")

    taken: list[Path] = []
    while not taken or set(statuses(taken[-1])) != {"succeeded"}:
        assert len(taken) < 60, f"the jobs did not finish\n{mf.logs()}"
        path = backups / f"jobs-{len(taken)}.db"
        done = mf.ok("db", "backup", path)
        assert done.out.startswith(f"backed up {len(media)} job(s) to {path}")
        taken.append(path)
        if len(taken) == 1:  # checking the live database does not disturb the worker either
            assert mf.ok("db", "check").out.startswith(f"ok: {mf.data / 'jobs.db'}: 6 job(s)")

    for path in taken:
        assert integrity(path) == ["ok"], path
        assert len(statuses(path)) == len(media)
    # One file each: no write-ahead log or temporary name left beside the copies.
    assert sorted(p.name for p in backups.iterdir()) == sorted(p.name for p in taken)
    # At least one copy caught the worker in the middle of the queue.
    assert any(set(statuses(p)) != {"succeeded"} for p in taken)
    worker.terminate()
    assert mf.finish(worker).code == 0


def test_a_backup_restored_as_documented_is_the_job_history_at_backup_time(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", make_media("a.mp4"))
    mf.burst()
    backup = mf.home / "jobs-backup.db"
    mf.ok("db", "backup", backup)
    mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", make_media("b.mp4"))
    assert len(mf.jobs()) == 2

    # The restore in docs/operations.md: workers stopped, check the copy, put it back.
    assert mf.ok("db", "check", backup).out.startswith(f"ok: {backup}: 1 job(s), schema version")
    for leftover in mf.data.glob("jobs.db-*"):  # the live database's -wal and -shm
        leftover.unlink()
    (mf.data / "jobs.db").write_bytes(backup.read_bytes())

    assert mf.ok("db", "check").out.startswith("ok: ")
    assert [(j["status"], Path(j["input"]).name) for j in mf.jobs()] == [("succeeded", "a.mp4")]


def test_a_backup_never_replaces_a_file_unless_forced(mf: Mediaforge) -> None:
    mf.ok("jobs")  # creates the job database
    target = mf.home / "kept.db"
    target.write_text("precious", encoding="utf-8")

    refused = mf("db", "backup", target)

    assert refused.code == ExitCode.INPUT
    assert refused.error_lines() == [
        f"Error: {target} already exists; choose another name or add --force to replace it"
    ]
    assert target.read_text(encoding="utf-8") == "precious"
    mf.ok("db", "backup", target, "--force")
    assert integrity(target) == ["ok"]
    onto_itself = mf("db", "backup", mf.data / "jobs.db", "--force")
    assert onto_itself.code == ExitCode.INPUT and "is the job database itself" in onto_itself.err


def test_check_names_each_problem_on_its_own_line_and_fails(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.ok("submit", "-p", "remux-mp4", "-o", mf.home / "out", make_media("a.mp4"))
    assert mf("db", "check").code == 0
    with closing(sqlite3.connect(mf.data / "jobs.db")) as db, db:
        db.execute(
            'INSERT INTO "notification" (key, event, target, job_id, payload, status, attempts, '
            "due_at, created_at, updated_at) VALUES ('job:99:1', 'job_failed', 'ops', 99, '{}', "
            "'sent', 1, 0, 0, 0)"
        )
        db.execute("UPDATE \"job\" SET status = 'lost'")

    found = mf("db", "check")

    assert found.code == ExitCode.FAILURE
    assert found.err.splitlines() == [
        "problem: jobs: 1 job(s) have a status mediaforge does not know",
        "problem: notification: 1 notification row(s) belong to no job",
    ]
    data = mf("db", "check", "--json").json()
    assert len(data["problems"]) == 2 and data["jobs"] == 1


def test_check_reports_a_damaged_file(mf: Mediaforge) -> None:
    mf.ok("jobs")
    copy = mf.home / "copy.db"
    mf.ok("db", "backup", copy)
    raw = bytearray(copy.read_bytes())
    page = 4096
    raw[page + 8 : page * 3] = b"\xff" * (page * 2 - 8)  # scribble over b-tree pages
    copy.write_bytes(bytes(raw))

    found = mf("db", "check", copy)

    assert found.code == ExitCode.FAILURE
    assert found.err.startswith("problem: ") and "Traceback" not in found.err
    missing = mf("db", "check", mf.home / "nothing.db")
    assert missing.code == ExitCode.INPUT and len(missing.err.strip().splitlines()) == 1


def test_on_postgresql_backup_and_check_point_to_the_server_tools(
    mf: Mediaforge, postgres_url: str, tmp_path: Path
) -> None:
    mf.configure(database={"url": postgres_url})
    for args in (("backup", tmp_path / "jobs.db"), ("check",)):
        done = mf("db", *args)
        assert done.code == ExitCode.ENVIRONMENT
        (line,) = done.err.strip().splitlines()
        assert line.startswith("Error: the job database is on PostgreSQL") and "pg_dump" in line
    assert not (tmp_path / "jobs.db").exists()
