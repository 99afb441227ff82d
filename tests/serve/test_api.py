"""The JSON API on a real server: its contract, errors as JSON with the
CLI's own message, the token, and uploads that cannot leave the inbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.mfcli import Mediaforge
from tests.serve.conftest import Server


def test_health_needs_no_token_and_every_other_route_does(server: Server) -> None:
    assert server.get("/health", token=None).json()["status"] == "ok"
    for path in ("/api/v1/jobs", "/api/v1/workers", "/api/v1/events", "/metrics",
                 "/api/v1/presets", "/api/v1/stats", "/api/v1/openapi.json"):  # fmt: skip
        missing = server.get(path, token=None)
        wrong = server.get(path, token="x" * 43)
        assert (missing.status, wrong.status) == (401, 401), path
        assert missing.error["code"] == wrong.error["code"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
    assert server.post("/api/v1/jobs/1/cancel", token=None).status == 401


def test_the_token_file_is_private_and_show_token_prints_it(server: Server) -> None:
    path = server.mf.data / "serve-token"
    assert path.stat().st_mode & 0o777 == 0o600
    assert server.mf.ok("serve", "--show-token").out.strip() == server.token


def test_submit_list_show_cancel_and_retry_call_the_same_core_as_the_cli(
    server: Server, clip: Path
) -> None:
    made = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "fast"})
    assert made.status == 201, made.text
    [job_id] = made.json()["ids"]

    listed = server.get("/api/v1/jobs?limit=10").json()
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    shown = server.get(f"/api/v1/jobs/{job_id}").json()
    assert shown["status"] == "queued" and shown["source"] == "api"
    assert shown["input"] == str(clip)
    assert shown["links"]["cancel"] == f"/api/v1/jobs/{job_id}/cancel"
    assert shown["notifications"] == [] and shown["uploads"] == [] and shown["hooks"] == []
    # The CLI sees the same job, from the same database.
    assert server.mf.status(job_id)["status"] == "queued"

    assert server.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    again = server.post(f"/api/v1/jobs/{job_id}/cancel")
    cli = server.mf("cancel", job_id)
    assert again.status == 409 and again.error["code"] == "job_state_error"
    assert cli.error_lines() == [f"Error: {again.error['message']}"]
    assert server.post(f"/api/v1/jobs/{job_id}/retry").json()["status"] == "queued"
    assert server.mf.status(job_id)["status"] == "queued"


def test_pages_follow_one_another(server: Server, clip: Path) -> None:
    ids = [
        server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": p}).json()["ids"][0]
        for p in ("fast", "paced", "broken")
    ]
    first = server.get("/api/v1/jobs?limit=2").json()
    second = server.get(first["next"]).json()
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == sorted(ids, reverse=True)
    assert second["next"] is None
    queued = server.get("/api/v1/jobs?status=queued&limit=50").json()["jobs"]
    assert len(queued) == 3
    paced = server.get("/api/v1/jobs?preset=paced&status=queued&limit=1").json()
    assert [j["id"] for j in paced["jobs"]] == [ids[1]]
    assert paced["next"] == "/api/v1/jobs?limit=1&offset=1&status=queued&preset=paced"
    empty = server.get(paced["next"]).json()
    assert (empty["jobs"], empty["next"]) == ([], None)
    assert isinstance(empty["cursor"], float)


def test_errors_are_json_with_a_code_and_the_cli_message(server: Server, tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    api = server.post("/api/v1/jobs", {"inputs": [str(missing)], "preset": "fast"})
    cli = server.mf("submit", missing, "--preset", "fast")
    assert api.status == 422 and api.error["code"] == "input_error"
    assert cli.error_lines() == [f"Error: {api.error['message']}"]

    text = tmp_path / "notes.mp4"
    text.write_text("not media")
    unknown = server.post("/api/v1/jobs", {"inputs": [str(text)], "preset": "nope"})
    cli = server.mf("submit", text, "--preset", "nope")
    assert unknown.status == 422 and unknown.error["code"] == "preset_error"
    assert cli.error_lines() == [f"Error: {unknown.error['message']}"]

    assert server.get("/api/v1/jobs/999").error == {
        "code": "job_not_found", "message": "no job with id 999; see 'mediaforge jobs' for the ids",
    }  # fmt: skip
    bad = server.get("/api/v1/jobs?status=lost")
    assert bad.status == 400 and "not a job status" in bad.error["message"]
    assert server.post("/api/v1/jobs", {"preset": "fast"}).status == 400
    assert server.post("/api/v1/jobs", raw=b"{nope").error["code"] == "bad_request"
    assert server.get("/api/v1/nothing-here").error["code"] == "not_found"


def test_an_upload_lands_in_the_inbox_and_is_submitted(server: Server, clip: Path) -> None:
    reply = server.post("/api/v1/uploads?name=sent.mp4&preset=fast", raw=clip.read_bytes())
    assert reply.status == 201, reply.text
    inbox = server.mf.data / "inbox"
    assert (inbox / "sent.mp4").read_bytes() == clip.read_bytes()
    assert sorted(p.name for p in inbox.iterdir()) == ["sent.mp4"]  # no temporary left
    job = server.get(f"/api/v1/jobs/{reply.json()['ids'][0]}").json()
    assert job["input"] == str(inbox / "sent.mp4")
    # The same name again would replace a file: refused.
    again = server.post("/api/v1/uploads?name=sent.mp4&preset=fast", raw=b"other")
    assert again.status == 422 and "already exists" in again.error["message"]


def test_uploads_cannot_escape_the_inbox(server: Server, clip: Path, tmp_path: Path) -> None:
    inbox = server.mf.data / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (inbox / "link.mp4").symlink_to(outside / "target.mp4")
    for name in ("../escape.mp4", "..", "/tmp/abs.mp4", "a/b.mp4", ".hidden.mp4",
                 "link.mp4", "..%2Fescape.mp4"):  # fmt: skip
        reply = server.post(f"/api/v1/uploads?name={name}&preset=fast", raw=clip.read_bytes())
        assert reply.status == 422, (name, reply.text)
        assert reply.error["code"] == "input_error"
    assert not (server.mf.data / "escape.mp4").exists()
    assert not (outside / "target.mp4").exists()
    assert sorted(p.name for p in inbox.iterdir()) == ["link.mp4"]
    assert server.get("/api/v1/jobs").json()["jobs"] == []


def test_an_upload_over_the_limit_leaves_nothing(mf: Mediaforge, clip: Path) -> None:
    from tests.serve.conftest import start_server

    mf.configure(serve={"max_upload_mb": 1})
    server = start_server(mf)
    reply = server.post("/api/v1/uploads?name=big.bin&preset=fast", raw=os.urandom(1_200_000))
    assert reply.status == 422 and "max_upload_mb" in reply.error["message"]
    assert list((mf.data / "inbox").iterdir()) == []


def test_the_dashboard_login_sets_a_strict_httponly_cookie(server: Server) -> None:
    reply = server.post("/login", {"token": server.token}, token=None)
    cookie = reply.headers["set-cookie"]
    assert reply.status == 200
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    value = cookie.split(";")[0]
    assert server.get("/api/v1/jobs", token=None, headers={"Cookie": value}).status == 200


def test_a_write_with_the_cookie_from_another_site_is_refused(server: Server, clip: Path) -> None:
    [job_id] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "fast"}).json()["ids"]
    cookie = server.post("/login", {"token": server.token}, token=None).headers["set-cookie"]
    jar = {"Cookie": cookie.split(";")[0]}
    path = f"/api/v1/jobs/{job_id}/cancel"
    evil = server.post(path, token=None, headers={**jar, "Origin": "http://evil.example"})
    unsaid = server.post(path, token=None, headers=jar)
    assert (evil.status, unsaid.status) == (403, 403)
    assert evil.error["code"] == "cross_site"
    assert server.mf.status(job_id)["status"] == "queued"
    own = {**jar, "Origin": f"http://127.0.0.1:{server.port}"}
    assert server.post(path, token=None, headers=own).json()["status"] == "cancelled"


def test_failed_logins_are_rate_limited(server: Server) -> None:
    for _ in range(5):
        assert server.post("/login", {"token": "guess"}, token=None).status == 401
    # Even the right token waits now: guessing cannot go on at full speed.
    limited = server.post("/login", {"token": server.token}, token=None)
    assert limited.status == 429 and int(limited.headers["retry-after"]) > 0


def test_the_token_never_appears_in_logs_or_data(server: Server, clip: Path) -> None:
    server.post("/login", {"token": server.token}, token=None)
    server.post("/login", {"token": server.token[:-1] + "x"}, token=None)
    server.get("/api/v1/jobs")
    server.get("/api/v1/jobs", token=server.token + "x")
    server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "nope"})
    server.mf.stop()
    logs = server.logs()
    assert "/api/v1/jobs" in logs  # requests are logged: the check below means something
    assert server.token not in logs
    assert server.token[:-1] not in logs
    data = {p: p.read_bytes() for p in server.mf.data.rglob("*") if p.is_file()}
    holders = [p.name for p, b in data.items() if server.token.encode() in b]
    assert holders == ["serve-token"]


def test_presets_workers_and_openapi(server: Server) -> None:
    names = [p["name"] for p in server.get("/api/v1/presets").json()]
    assert {"fast", "paced", "broken", "h264-720p"} <= set(names)
    assert server.get("/api/v1/workers").json() == []
    paths = server.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/jobs/{job_id}/retry" in paths and "/metrics" in paths


def test_only_loopback_addresses_count_as_this_machine() -> None:
    # Tests may only listen on 127.0.0.1, so the check behind the warning for
    # another address is tested here, on its own.
    from mediaforge.serve.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_other_commands_do_not_load_the_web_stack(mf: Mediaforge) -> None:
    # The command tree (every command's module) is what `submit` and the rest load first.
    code = (
        "import sys, mediaforge.cli.main;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'anyio'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=mf.env
    )
    assert done.stdout.strip() == "[]"


def test_a_token_file_others_can_read_is_refused(mf: Mediaforge) -> None:
    token = mf.ok("serve", "--show-token").out.strip()
    path = mf.data / "serve-token"
    path.chmod(0o644)

    done = mf("serve", "--port", "0")

    assert done.code == 7
    assert done.error_lines() == [
        f"Error: the server token {path} can be read by others (mode 644); run 'chmod 600 {path}'"
    ]
    assert token not in done.err


def test_serve_without_its_extra_names_the_extra(mf: Mediaforge) -> None:
    # Starlette is installed here: hide it from this one process to see the refusal.
    code = (
        "import sys; sys.modules['starlette'] = None; sys.argv = ['mediaforge', 'serve'];"
        "from mediaforge.cli.main import app; app()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=mf.env, check=False
    )
    assert done.returncode == 3
    assert "pipx install 'mediaforge-transcode[serve]'" in done.stderr
    assert "Traceback" not in done.stderr
