"""Hooks after a job ends, proven against real HTTP servers on 127.0.0.1 and
real worker processes running real (tiny) jobs.

Each server records every request in full (``tests.servers.Recorder``), and
each test checks method, path, query, headers (with the token) and body
against what Plex, Jellyfin and Emby document. The tokens are searched for
in the job database, the logs and every command's output.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaforge.queue.pipeline import run_foreground
from tests.mfcli import QUICK_WORKER, Mediaforge, free_port
from tests.servers import recording

PLEX_TOKEN = "plex-9c8b7a6d5e4f3a2b1c0d"
JELLYFIN_TOKEN = "jf-0a1b2c3d4e5f6a7b8c9d"
EMBY_TOKEN = "emby-5e4d3c2b1a0f9e8d7c6b"
HEADER_SECRET = "Bearer hdr-77a6b5c4d3e2f1a0"
SECRETS = (PLEX_TOKEN, JELLYFIN_TOKEN, EMBY_TOKEN, HEADER_SECRET)

PLEX_SECTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<MediaContainer size="2">
  <Directory key="3" type="movie" title="All"><Location id="1" path="/srv"/></Directory>
  <Directory key="7" type="movie" title="Films"><Location id="2" path="/srv/media"/></Directory>
</MediaContainer>
"""


def configure(mf: Mediaforge, hooks: list[dict[str, Any]]) -> None:
    mf.configure(worker={"max_attempts": 1}, hooks=hooks, log={"level": "debug"})


def test_media_servers_and_a_webhook_get_the_documented_requests(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    with (
        recording(
            {
                ("GET", "/library/sections"): (200, PLEX_SECTIONS),
                ("GET", "/library/sections/7/refresh"): (200, b""),
            }
        ) as plex,
        recording({("POST", "/Library/Media/Updated"): (204, b"")}) as jellyfin,
        recording({("POST", "/emby/Library/Media/Updated"): (204, b"")}) as emby,
        recording({("POST", "/done"): (200, b"ok")}) as webhook,
    ):
        # The media servers see the share at /srv/media, where this host has tmp_path.
        seen_as = [{"canonical": str(tmp_path), "local": "/srv/media"}]
        configure(
            mf,
            [
                {"name": "plex", "kind": "plex", "url": plex.url, "token_env": "PLEX_TOKEN",
                 "server_paths": seen_as},
                {"name": "jellyfin", "kind": "jellyfin", "url": jellyfin.url + "/",
                 "token": JELLYFIN_TOKEN, "server_paths": seen_as},
                {"name": "emby", "kind": "emby", "url": emby.url, "token": EMBY_TOKEN},
                {"name": "ci", "kind": "http", "url": webhook.url + "/done",
                 "headers": {"Authorization": HEADER_SECRET}},
                {"name": "failures-only", "kind": "http", "url": webhook.url + "/done",
                 "events": ["job_failed"]},
                {"name": "other-preset", "kind": "http", "url": webhook.url + "/done",
                 "presets": ["h264-720p"]},
            ],
        )  # fmt: skip
        mf.env["PLEX_TOKEN"] = PLEX_TOKEN
        [job_id] = mf.submit([make_media("new film.mp4")], "remux-mp4")

        worker = mf.burst("--verbose")

    shown = mf.status(job_id)
    assert shown["status"] == "succeeded"
    [output] = [o["path"] for o in shown["outputs"]]
    server_path = "/srv/media/" + Path(output).relative_to(tmp_path).as_posix()

    # Plex: the sections are listed, then a partial scan of the output's folder
    # in the section whose folder holds it (the deepest one).
    listing, scan = plex.requests
    assert (listing.method, listing.path) == ("GET", "/library/sections")
    assert (scan.method, scan.path) == ("GET", "/library/sections/7/refresh")
    assert scan.query == {"path": [str(Path(server_path).parent)]}
    for request in plex.requests:
        assert request.headers["x-plex-token"] == PLEX_TOKEN
        assert "X-Plex-Token" not in request.path and not request.body

    # Jellyfin and Emby: the new file, as the server sees it, reported as created.
    [jf] = jellyfin.requests
    assert (jf.method, jf.path) == ("POST", "/Library/Media/Updated")
    assert jf.headers["authorization"] == f'MediaBrowser Token="{JELLYFIN_TOKEN}"'
    assert jf.headers["content-type"] == "application/json"
    assert jf.json() == {"Updates": [{"Path": server_path, "UpdateType": "Created"}]}
    [em] = emby.requests
    assert (em.method, em.path) == ("POST", "/emby/Library/Media/Updated")
    assert em.headers["x-emby-token"] == EMBY_TOKEN
    assert em.json() == {"Updates": [{"Path": output, "UpdateType": "Created"}]}  # no mapping

    # The webhook: the job as `status --json` shows it, once (the hooks that
    # want failures or another preset did not run).
    [call] = webhook.requests
    assert (call.method, call.path) == ("POST", "/done")
    assert call.headers["authorization"] == HEADER_SECRET
    assert call.headers["x-mediaforge-event"] == "job_succeeded"
    body = call.json()
    assert (body["id"], body["status"], body["preset"]) == (job_id, "succeeded", "remux-mp4")
    assert [o["path"] for o in body["outputs"]] == [output]

    runs = {h["hook"]: h for h in shown["hooks"]}
    assert set(runs) == {"plex", "jellyfin", "emby", "ci"}
    assert all(h["status"] == "done" and h["attempts"] == 1 for h in runs.values())
    assert runs["plex"]["result"] == "scan started: section 7"
    assert runs["jellyfin"]["result"] == "HTTP 204: 1 path(s) reported"
    assert runs["ci"]["result"] == "HTTP 200"
    text = mf("status", job_id).out
    assert "done plex (plex): scan started: section 7" in text

    shown_config = mf("config", "show", "--json")
    hooks_shown = shown_config.json()["hooks"]
    assert hooks_shown[1]["token"] == "***" and hooks_shown[3]["headers"] == "***"
    assert hooks_shown[0]["headers"] == {}  # nothing to hide
    everything = "\n".join([*mf.transcript, worker.out, worker.err, mf.data_text()])
    for secret in SECRETS:
        assert secret not in everything


def test_a_hook_that_fails_twice_is_retried_with_backoff_and_recorded(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}, failures=2) as server:
        configure(
            mf,
            [{"name": "flaky", "kind": "http", "url": server.url + "/hook",
              "retries": 3, "retry_backoff": 0.2}],
        )  # fmt: skip
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

        worker = mf.burst("--verbose")

    assert len(server.requests) == 3
    assert {r.json()["id"] for r in server.requests} == {job_id}
    [run] = mf.status(job_id)["hooks"]
    assert (run["status"], run["attempts"], run["result"], run["error"]) == (
        "done", 3, "HTTP 200", None
    )  # fmt: skip
    log = worker.out + worker.err
    assert log.count("hook flaky for job 1 failed: POST /hook: HTTP 500") == 2
    assert "next attempt in 0.2 s" in log and "next attempt in 0.4 s" in log


def test_a_hook_that_keeps_failing_gives_up_and_leaves_the_job_succeeded(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    closed = free_port()  # nothing listens there
    configure(
        mf,
        [{"name": "gone", "kind": "jellyfin", "url": f"http://127.0.0.1:{closed}",
          "token": JELLYFIN_TOKEN, "retries": 1, "retry_backoff": 0.1, "timeout": 2}],
    )  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

    worker = mf.burst("--verbose")

    shown = mf.status(job_id)
    assert shown["status"] == "succeeded"
    [run] = shown["hooks"]
    assert (run["status"], run["attempts"]) == ("failed", 2)
    assert run["error"].startswith("POST /Library/Media/Updated: ")
    assert "refused" in run["error"].lower()
    assert "failed gone (jellyfin) after 2 attempt(s)" in mf("status", job_id).out
    assert "giving up" in worker.out + worker.err
    assert mf.ok("stats", "--json").json()["hooks_failed"] == 1
    assert JELLYFIN_TOKEN not in "\n".join([*mf.transcript, mf.data_text()])


SCRIPT = """
import json, os, sys
job = json.load(sys.stdin)
with open(sys.argv[1], "w") as f:
    json.dump({"stdin": job, "argv": sys.argv[2:], "id": os.environ["MEDIAFORGE_JOB_ID"],
               "event": os.environ["MEDIAFORGE_EVENT"],
               "outputs": os.environ["MEDIAFORGE_OUTPUTS"]}, f)
for n in range(30):
    print("line", n)
print("not refreshed: the library is locked", file=sys.stderr)
sys.exit(3)
"""


def test_a_command_hook_gets_the_job_and_its_exit_code_and_output_are_recorded(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    record = tmp_path / "hook record.json"
    configure(
        mf,
        [{"name": "refresh", "kind": "command", "retries": 0,
          "command": [sys.executable, "-c", SCRIPT, str(record), "{id}", "{output}", "$HOME;x"]}],
    )  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

    mf.burst("--verbose")

    shown = mf.status(job_id)
    assert shown["status"] == "succeeded"  # a failing hook does not fail its job
    [output] = [o["path"] for o in shown["outputs"]]
    seen = json.loads(record.read_text())
    assert seen["stdin"]["id"] == job_id and seen["stdin"]["status"] == "succeeded"
    assert seen["argv"] == [str(job_id), output, "$HOME;x"]  # no shell: taken as written
    assert (seen["id"], seen["event"], seen["outputs"]) == (str(job_id), "job_succeeded", output)
    [run] = shown["hooks"]
    assert (run["status"], run["attempts"], run["result"]) == ("failed", 1, "exit code 3")
    tail = run["output"].splitlines()
    assert len(tail) == 20 and tail[0] == "line 11"
    assert tail[-1] == "not refreshed: the library is locked"
    assert "exit code 3" in mf("status", job_id).out


def test_a_command_hook_that_runs_too_long_is_killed(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    sleeper = "import time; print('started', flush=True); time.sleep(60)"
    configure(
        mf,
        [{"name": "slow", "kind": "command", "retries": 0, "timeout": 1,
          "command": [sys.executable, "-c", sleeper]}],
    )  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

    mf.burst()

    [run] = mf.status(job_id)["hooks"]
    assert (run["status"], run["result"], run["output"]) == (
        "failed", "timed out after 1 s and was killed", "started"
    )  # fmt: skip


def test_hooks_test_runs_each_hook_for_a_job_and_fails_if_one_does(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    closed = free_port()
    with recording({("POST", "/hook"): (200, b"")}) as server:
        configure(mf, [{"name": "ci", "kind": "http", "url": server.url + "/hook",
                        "events": ["job_failed"]}])  # fmt: skip
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
        mf.burst()
        assert server.requests == []  # the job succeeded; this hook wants failures
        configure(
            mf,
            [{"name": "ci", "kind": "http", "url": server.url + "/hook"},
             {"name": "dead", "kind": "emby", "url": f"http://127.0.0.1:{closed}",
              "token": EMBY_TOKEN, "timeout": 2}],
        )  # fmt: skip

        one = mf("hooks", "test", "ci")
        both = mf("hooks", "test", "--job", job_id, "--json")
        unknown = mf("hooks", "test", "nope")

    assert (one.code, one.out) == (0, f"ok   ci (job {job_id}): HTTP 200\n")
    assert both.code == 1
    assert [(r["hook"], r["ok"]) for r in both.json()] == [("ci", True), ("dead", False)]
    assert unknown.code == 1
    assert unknown.error_lines() == ["Error: no hook is named 'nope'; the hooks are: ci, dead"]
    assert len(server.requests) == 2
    assert mf.status(job_id)["hooks"] == []  # trying records nothing
    assert EMBY_TOKEN not in "\n".join(mf.transcript)


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        ({"name": "p", "kind": "plex", "url": "http://127.0.0.1:32400"},
         "hooks[0].token: a plex hook needs its API token: set token or token_env"),
        ({"name": "c", "kind": "command"},
         "hooks[0].command: is required for a command hook"),
        ({"name": "h", "kind": "http", "url": "ftp://x"},
         "hooks[0].url: must start with http:// or https://"),
        ({"name": "h", "kind": "http", "url": "http://x", "events": ["worker_stalled"]},
         "hooks[0].events: 'worker_stalled' is not the end of a job"),
    ],
)  # fmt: skip
def test_a_bad_hook_is_reported_by_field(
    mf: Mediaforge, hook: dict[str, Any], problem: str
) -> None:
    configure(mf, [hook])

    done = mf("config", "check")

    assert done.code == 3
    assert problem in done.err
    assert "Traceback" not in done.err


def test_two_hooks_with_one_name_are_refused(mf: Mediaforge) -> None:
    configure(mf, [{"name": "x", "url": "http://127.0.0.1:1"}] * 2)

    done = mf("config", "check")

    assert done.code == 3
    assert "hooks: two hooks are named 'x'; give each hook its own name" in done.err


def test_a_token_variable_that_is_not_set_fails_the_hook_not_the_job(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    configure(
        mf,
        [{"name": "plex", "kind": "plex", "url": "http://127.0.0.1:1", "token_env": "NO_SUCH_VAR",
          "retries": 0}],
    )  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")

    mf.burst()

    shown = mf.status(job_id)
    assert shown["status"] == "succeeded"
    [run] = shown["hooks"]
    assert run["status"] == "failed"
    assert "the environment variable NO_SUCH_VAR is not set" in run["error"]


def test_mediaforge_run_scans_the_plex_section_given_or_every_section(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    elsewhere = b'<MediaContainer><Directory key="3"><Location path="/elsewhere"/></Directory>'
    with (
        recording({("GET", "/library/sections/12/refresh"): (200, b"")}) as given,
        recording(
            {
                ("GET", "/library/sections"): (200, elsewhere + b"</MediaContainer>"),
                ("GET", "/library/sections/all/refresh"): (200, b""),
            }
        ) as unknown,
    ):
        configure(
            mf,
            [{"name": "given", "kind": "plex", "url": given.url, "token": PLEX_TOKEN,
              "section": "12"},
             {"name": "unknown", "kind": "plex", "url": unknown.url, "token": PLEX_TOKEN}],
        )  # fmt: skip

        # `mediaforge run` runs the hooks itself: no worker may be running.
        job = run_foreground(mf.load_config(), mf.store, make_media("clip.mp4"), "remux-mp4")

    folder = str(Path(job.outputs[0].path).parent)
    [scan] = given.requests
    assert (scan.path, scan.query) == ("/library/sections/12/refresh", {"path": [folder]})
    assert [r.path for r in unknown.requests] == [
        "/library/sections", "/library/sections/all/refresh"
    ]  # fmt: skip
    results = {h["hook"]: h["result"] for h in mf.status(job.id)["hooks"]}
    assert results == {
        "given": "scan started: section 12",
        "unknown": "scan started: all sections",
    }


def test_a_cancelled_job_runs_the_hooks_that_want_cancellations(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    with recording({("POST", "/hook"): (200, b"")}) as server:
        configure(
            mf,
            [{"name": "ci", "kind": "http", "url": server.url + "/hook",
              "events": ["job_cancelled"]}],
        )  # fmt: skip
        [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
        mf.ok("cancel", job_id)

        mf.burst()

    [call] = server.requests
    assert call.headers["x-mediaforge-event"] == "job_cancelled"
    assert call.json()["status"] == "cancelled"
    assert [h["status"] for h in mf.status(job_id)["hooks"]] == ["done"]


ONCE_SLOW = """
import os, sys, time
marker = sys.argv[1]
runs = open(marker).read().splitlines() if os.path.exists(marker) else []
with open(marker, "a") as f:
    print(os.getpid(), file=f)
if not runs:
    time.sleep(60)  # the first run: its worker is killed meanwhile
print("refreshed")
"""


def test_a_hook_whose_worker_was_killed_runs_again_and_its_command_dies_with_it(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    marker = tmp_path / "runs"
    configure(
        mf,
        [{"name": "slow", "kind": "command", "timeout": 120,
          "command": [sys.executable, "-c", ONCE_SLOW, str(marker)]}],
    )  # fmt: skip
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
    worker = mf.start("worker")
    mf.wait_until(lambda: marker.exists() and marker.read_text().strip() != "", 30, "the hook")
    first_pid = int(marker.read_text().split()[0])

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    mf.wait_until(lambda: not _alive(first_pid), 10, "the hook's command to die with its worker")
    [held] = mf.status(job_id)["hooks"]
    assert (held["status"], held["attempts"]) == ("running", 0)
    time.sleep(QUICK_WORKER["stale_after"] + 1)  # its claim goes stale
    done = mf.burst("--verbose")

    assert "recovery: 1 hook run(s) of dead workers given back" in done.err
    assert len(marker.read_text().split()) == 2
    [run] = mf.status(job_id)["hooks"]
    assert (run["status"], run["attempts"], run["output"]) == ("done", 1, "refreshed")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has died; its parent (init) reaps it later


def test_doctor_names_an_unset_token_variable_and_a_missing_program(mf: Mediaforge) -> None:
    configure(
        mf,
        [{"name": "plex", "kind": "plex", "url": "http://127.0.0.1:1", "token_env": "NO_SUCH_VAR"},
         {"name": "tag", "kind": "command", "command": ["/nonexistent/tag-it", "{output}"]},
         {"name": "ok", "kind": "command", "command": [sys.executable, "-c", "pass"]}],
    )  # fmt: skip

    done = mf("doctor")

    assert done.code == 1
    [failed] = [line for line in done.out.splitlines() if line.startswith("FAIL")]
    assert failed == (
        "FAIL hooks: plex: the environment variable NO_SUCH_VAR is not set; "
        "tag: the program /nonexistent/tag-it is not found or not runnable"
    )


def test_a_command_that_cannot_start_is_one_line(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    configure(mf, [])
    [job_id] = mf.submit([make_media("clip.mp4")], "remux-mp4")
    mf.burst()
    configure(mf, [{"name": "tag", "kind": "command", "command": ["/nonexistent/tag-it"]}])

    done = mf("hooks", "test", "tag", "--job", job_id)

    assert done.code == 1
    assert done.out == (
        f"FAIL tag (job {job_id}): cannot run /nonexistent/tag-it: No such file or directory\n"
    )
