"""Logging set-up: human lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

from mediaforge.config.schema import LogConfig
from mediaforge.redact import redact_text, redact_url

# Every line about a job names it "job N" (a habit of the whole code base):
# that is where the JSON field comes from when the call did not pass job_id.
_JOB = re.compile(r"\bjob (\d+)\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)


class Scrubber:
    """Takes secrets out of a log line: URL passwords and tokens by
    ``redact_url``'s rules, and the ``secrets`` given (a server token)."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
        return redact_text(text, self.secrets) if self.secrets else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald, Loki and friends: the job and
    the worker as fields of their own, secrets taken out."""

    def __init__(self, scrub: Scrubber | None = None, worker: str | None = None) -> None:
        super().__init__()
        self.scrub = scrub or Scrubber()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        message = self.scrub(record.getMessage())
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        job = getattr(record, "job_id", None)
        if job is None and (found := _JOB.search(message)):
            job = int(found.group(1))
        if job is not None:
            entry["job"] = job
        worker = getattr(record, "worker", None) or self.worker
        if worker:
            entry["worker"] = worker
        if record.exc_info:
            entry["exception"] = self.scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for people, secrets taken out all the same."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


def setup_logging(
    config: LogConfig, *, verbose: bool = False, worker: str | None = None,
    secrets: Sequence[str] = (),
) -> None:  # fmt: skip
    """Configure the root logger once, for a long-running command; ``worker``
    names the worker in each JSON line, ``secrets`` never appear in a line."""
    handler: logging.Handler
    if config.file is not None:
        config.file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(config.file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    scrub = Scrubber(secrets)
    if config.format == "json":
        handler.setFormatter(JsonFormatter(scrub, worker))
    else:
        handler.setFormatter(TextFormatter(scrub))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else getattr(logging, config.level.upper()))
    # Huey logs every dequeue at INFO; keep that for --verbose.
    logging.getLogger("huey").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # boto3's debug lines carry request headers (a session token among them)
    # and signing details, and peewee's SQL carries download links: never
    # shown, even with --verbose.
    for name in ("botocore", "boto3", "s3transfer", "urllib3", "peewee"):
        logging.getLogger(name).setLevel(logging.WARNING)
