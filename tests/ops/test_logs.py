"""Log lines: JSON objects with the job and the worker as fields, and no secret in any line."""

from __future__ import annotations

import json
import logging

from mediaforge.ops.logs import JsonFormatter, Scrubber, TextFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("mediaforge.x", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_names_the_job_and_the_worker() -> None:
    line = JsonFormatter(worker="host:12:ab").format(record("job %s: stalled", 41))

    assert json.loads(line) == {
        "ts": json.loads(line)["ts"], "level": "warning", "logger": "mediaforge.x",
        "message": "job 41: stalled", "job": 41, "worker": "host:12:ab",
    }  # fmt: skip
    given = json.loads(JsonFormatter().format(record("claimed", job_id=7, worker="w")))
    assert (given["job"], given["worker"]) == (7, "w")
    assert "job" not in json.loads(JsonFormatter().format(record("queue is empty")))


def test_no_secret_reaches_a_line_in_either_format() -> None:
    token = "s3cr3t-server-token-value"
    scrub = Scrubber([token])
    message = "cannot reach postgresql://mf:hunter2@db/jobs with Bearer %s"
    for formatter in (JsonFormatter(scrub), TextFormatter(scrub)):
        line = formatter.format(record(message, token))
        assert "hunter2" not in line and token not in line
        assert "postgresql://mf:***@db/jobs" in line
