"""Live updates and metrics with a real worker process: the event stream
carries a real job's progress and its end, and /metrics, read by
prometheus_client's own parser, says what the job database says."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediaforge.jobs.tables import JobRow
from tests.serve.conftest import Server

pytestmark = pytest.mark.slow


def read_events(
    server: Server, path: str, until: str, *, last_id: str | None = None, seconds: float = 60
) -> Iterator[dict[str, Any]]:
    """The events of one stream, as {id, event, data}, up to the first ``until`` event."""
    headers = {"Authorization": f"Bearer {server.token}"}
    if last_id is not None:
        headers["Last-Event-ID"] = last_id
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=seconds)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    deadline = time.monotonic() + seconds
    event: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith(("id: ", "event: ")):
                key, _, value = line.partition(": ")
                event[key] = value
            elif line.startswith("data: "):
                event["data"] = json.loads(line[len("data: ") :])
            elif line == "" and "data" in event:
                yield event
                if event["event"] == until:
                    return
                event = {}
        pytest.fail(f"no '{until}' event within {seconds} s\n{server.logs()}")
    finally:
        connection.close()


def test_the_event_stream_carries_a_real_jobs_progress_and_its_end(
    server: Server, clip: Path
) -> None:
    [job_id] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "paced"}).json()["ids"]
    server.mf.start("worker")
    events = list(read_events(server, f"/api/v1/events?job={job_id}", until="end"))

    assert {e["data"]["id"] for e in events} == {job_id}
    progress = [e["data"]["progress"] for e in events if e["event"] == "progress"]
    assert any(0 < p < 1 for p in progress), events
    assert progress == sorted(progress)
    end = events[-1]["data"]
    assert end["status"] == "succeeded" and end["outputs"]
    ids = [float(e["id"]) for e in events]
    assert ids == sorted(ids)
    # The worker still runs: /metrics counts it, with the age of its heartbeat.
    seen = metrics(server)
    assert seen[("mediaforge_workers", (("state", "idle"),))] == 1
    [age] = [
        v for (name, _), v in seen.items() if name == "mediaforge_worker_heartbeat_age_seconds"
    ]
    assert 0 <= age < 5
    # log.format json: one object per line, the job and the worker as fields.
    [worker] = server.get("/api/v1/workers").json()
    server.mf.stop()
    worker_lines = [json.loads(line) for line in server.mf.started[1].err.read_text().splitlines()]
    about_job = [line for line in worker_lines if line.get("job") == job_id]
    assert about_job and all(line["worker"] == worker["id"] for line in about_job)
    served = [json.loads(line) for line in server.mf.started[0].err.read_text().splitlines()]
    assert any("/api/v1/events" in line["message"] for line in served)


def test_a_reconnect_with_the_last_event_id_misses_nothing(server: Server, clip: Path) -> None:
    [job_id] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "paced"}).json()["ids"]
    path = f"/api/v1/events?job={job_id}"
    server.mf.start("worker")
    first = next(e for e in read_events(server, path, until="progress") if e["event"] == "progress")
    # Away while the job runs on and ends: the reconnect still gets its end.
    server.mf.wait_until(
        lambda: server.mf.status(job_id)["status"] == "succeeded", 60, "the job to end"
    )
    resumed = list(read_events(server, path, until="end", last_id=first["id"]))
    assert resumed[0]["event"] in ("progress", "end")
    assert float(resumed[0]["id"]) > float(first["id"])
    assert resumed[-1]["data"]["status"] == "succeeded"


def test_a_stream_opened_after_a_listing_gets_the_changes_made_in_between(
    server: Server, clip: Path
) -> None:
    listing = server.get("/api/v1/jobs").json()
    # A change after the listing was read, before the stream opens.
    [job_id] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "fast"}).json()["ids"]
    server.post(f"/api/v1/jobs/{job_id}/cancel", {})
    path = f"/api/v1/events?after={listing['cursor']}"
    events = list(read_events(server, path, until="end", seconds=30))
    assert events[-1]["data"]["id"] == job_id
    assert events[-1]["data"]["status"] == "cancelled"


def test_the_stream_of_all_jobs_shows_each_new_job(server: Server, clip: Path) -> None:
    def submit_soon() -> None:
        server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "fast"})

    threading.Timer(1.0, submit_soon).start()
    [event] = list(read_events(server, "/api/v1/events", until="job", seconds=30))
    assert event["data"]["status"] == "queued" and event["data"]["preset"] == "fast"


def metrics(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = server.get("/metrics")
    assert reply.status == 200
    found = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_say_what_the_job_database_says(server: Server, clip: Path) -> None:
    for preset in ("fast", "fast", "broken"):
        server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": preset, "force": True})
    server.mf.burst()
    server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "paced"})

    seen = metrics(server)
    with closing(sqlite3.connect(server.mf.data / "jobs.db")) as db:
        rows = db.execute(
            "SELECT status, preset, input_size, outputs, started_at, finished_at FROM job"
        ).fetchall()
    for status in ("queued", "succeeded", "failed"):
        for preset in ("fast", "broken", "paced"):
            expected = sum(1 for r in rows if r[0] == status and r[1] == preset)
            labels = (("preset", preset), ("status", status))
            assert seen[("mediaforge_jobs", labels)] == expected, (status, preset)
    succeeded = [r for r in rows if r[0] == "succeeded"]
    assert len(succeeded) == 2
    made = sum(o["size"] for r in succeeded for o in json.loads(r[3]))
    assert seen[("mediaforge_input_bytes", ())] == sum(r[2] for r in succeeded)
    assert seen[("mediaforge_output_bytes", ())] == made
    assert seen[("mediaforge_space_saved_bytes", ())] == sum(r[2] for r in succeeded) - made
    assert seen[("mediaforge_queue_depth", ())] == 1
    assert seen[("mediaforge_hook_failures", ())] == 0  # no hooks configured
    assert seen[("mediaforge_job_duration_seconds_count", ())] == 2
    took = sum(r[5] - r[4] for r in succeeded)
    assert seen[("mediaforge_job_duration_seconds_sum", ())] == pytest.approx(took)
    assert seen[("mediaforge_job_realtime_factor_count", ())] == 2
    # stats, the API and the dashboard's totals are one reading of the same table.
    cli = server.mf.ok("stats", "--json").json()
    assert cli == server.get("/api/v1/stats").json()
    assert (
        cli["by_status"]["succeeded"] == 2
        and cli["space_saved"] == seen[("mediaforge_space_saved_bytes", ())]
    )
    [failure] = cli["failures"]
    assert failure["count"] == 1 and "nosuchprofile" in failure["reason"]
    assert cli["by_preset"]["fast"]["bytes_out"] == made
    text = server.mf.ok("stats").out
    assert "2 succeeded" in text and f"failed 1x: {failure['reason']}" in text
    # The burst worker has ended and said so: none is left running.
    assert seen[("mediaforge_workers", (("state", "running"),))] == 0


def test_a_change_that_commits_late_with_an_earlier_stamp_still_reaches_the_stream(
    server: Server, clip: Path
) -> None:
    # A change is stamped before its transaction commits (and by its host's
    # clock): B commits after A although it is stamped 3 s before A.
    [first] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "fast"}).json()["ids"]
    [late] = server.post("/api/v1/jobs", {"inputs": [str(clip)], "preset": "paced"}).json()["ids"]
    store = server.mf.store

    def end(job_id: int, stamp: float) -> None:
        JobRow.update(status="cancelled", finished_at=stamp, updated_at=stamp).where(
            JobRow.id == job_id
        ).execute()

    def commit_both() -> None:
        stamp = time.time()
        end(first, stamp)
        time.sleep(1.5)  # the stream hands out A meanwhile
        end(late, stamp - 3)

    store.get(first)  # the job database is open here before the timer runs
    time.sleep(4)  # B's late stamp still comes after its own earlier change
    threading.Timer(1.0, commit_both).start()
    seen: list[tuple[int, str]] = []
    # Read until B's end; the stream failing to carry it fails the test.
    for event in read_events(server, "/api/v1/events", until="no-such-event", seconds=10):
        seen.append((event["data"]["id"], event["data"]["status"]))
        if (late, "cancelled") in seen:
            break
    assert (first, "cancelled") in seen, seen
