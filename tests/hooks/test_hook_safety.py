"""Hooks that must not break or leak: a row whose job was pruned, secrets of
other hooks and of S3 kept from a command, and credentials in a hook's URL.
(The hooks of a job whose worker died right after it ended:
tests/queue/test_catch_up.py.)

Real workers, real HTTP servers on 127.0.0.1 (``tests.servers.Recorder``),
real SQLite.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from mediaforge.hooks.delivery import Hooks
from mediaforge.jobs.model import JobStatus, NewJob
from mediaforge.jobs.tables import HookRow, JobRow
from tests.mfcli import Mediaforge
from tests.servers import recording

PLEX_TOKEN = "plex-4d3c2b1a0f9e8d7c6b5a"
AWS_SECRET = "aws-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe"
PASSWORD = "pw-6f5e4d3c2b1a0987"


def test_a_hook_row_whose_job_is_gone_fails_and_the_next_row_still_runs(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        mf.configure(hooks=[{"name": "ci", "kind": "http", "url": server.url + "/hook"}])
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
        # A row left for a job that was pruned since, due before anything else.
        store = mf.store
        with store.db.bind_ctx([HookRow]):
            HookRow.insert(
                job_id=999, key="job:999:1.0", hook="ci", kind="http", event="job_succeeded",
                due_at=1.0, created_at=1.0, updated_at=1.0,
            ).execute()  # fmt: skip

        worker = mf.burst("--verbose")

    [call] = server.requests
    assert call.json()["id"] == job_id
    [run] = mf.status(job_id)["hooks"]
    assert (run["status"], run["result"]) == ("done", "HTTP 200")
    with store.db.bind_ctx([HookRow]):
        orphan = HookRow.get(HookRow.job_id == 999)
    assert (orphan.status, orphan.attempts) == ("failed", 1)
    assert orphan.error == "job 999 no longer exists (pruned?)"
    assert "Traceback" not in worker.out + worker.err


def test_recording_the_hooks_of_a_job_that_is_gone_records_nothing(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.configure(hooks=[{"name": "ci", "kind": "http", "url": "http://127.0.0.1:1/hook"}])
    store = mf.store
    [job_id] = store.create([NewJob(str(make_media("clip.mp4")), "remux-mp4")])
    store.claim(job_id, "w1")
    store.finish(job_id, "w1", JobStatus.SUCCEEDED)
    job = store.get(job_id)
    with store.db.bind_ctx([JobRow]):
        JobRow.delete().where(JobRow.id == job_id).execute()  # pruned meanwhile

    hooks = Hooks(mf.load_config(), store)

    assert hooks.job_ended(job) is False
    assert hooks.rows.for_job(job_id) == []


SNOOP = 'env | grep -i -e token -e secret; echo "plex=$PLEX_TOKEN"; cat "$0"'


def test_a_command_hook_gets_and_records_no_other_secret(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    leaked = tmp_path / "leaked.txt"  # what a careless program might print anyway
    leaked.write_text(f"{PLEX_TOKEN}\n{AWS_SECRET}\n")
    with recording({("GET", "/library/sections/1/refresh"): (200, b"")}) as plex:
        mf.configure(
            worker={"max_attempts": 1},
            log={"level": "debug"},
            hooks=[
                {"name": "plex", "kind": "plex", "url": plex.url, "token_env": "PLEX_TOKEN",
                 "section": "1"},
                {"name": "snoop", "kind": "command", "retries": 0,
                 "command": ["/bin/sh", "-c", SNOOP, str(leaked)]},
            ],
        )  # fmt: skip
        mf.env["PLEX_TOKEN"] = PLEX_TOKEN
        mf.env["AWS_SECRET_ACCESS_KEY"] = AWS_SECRET
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

        worker = mf.burst("--verbose")

    assert plex.requests[0].headers["x-plex-token"] == PLEX_TOKEN  # its own hook has it
    runs = {h["hook"]: h for h in mf.status(job_id)["hooks"]}
    assert runs["snoop"]["status"] == "done"
    output = runs["snoop"]["output"].splitlines()
    assert "plex=" in output  # the variable was not passed
    assert not any("PLEX_TOKEN" in line or "AWS_SECRET" in line for line in output)
    assert output[-2:] == ["***", "***"]  # printed anyway: masked
    everything = "\n".join(
        [*mf.transcript, mf("status", job_id).out, worker.out, worker.err, mf.data_text()]
    )
    assert PLEX_TOKEN not in everything and AWS_SECRET not in everything


def test_a_password_in_an_http_hook_url_is_sent_as_basic_authentication(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        url = server.url.replace("http://", f"http://deploy:{PASSWORD}@") + "/hook?x=1"
        mf.configure(hooks=[{"name": "ci", "kind": "http", "url": url, "retries": 0}])
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

        worker = mf.burst("--verbose")

    [call] = server.requests
    basic = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {basic}"
    assert call.target == "/hook?x=1"  # no user:password in the request line
    [run] = mf.status(job_id)["hooks"]
    assert (run["status"], run["result"]) == ("done", "HTTP 200")
    shown = mf("status", job_id, "--json").out + mf("config", "show", "--json").out
    everything = "\n".join([*mf.transcript, shown, worker.out, worker.err, mf.data_text()])
    assert PASSWORD not in everything and basic not in everything
