"""Logging set-up: human lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from mediaforge.config.schema import LogConfig


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald, Loki and friends."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: LogConfig, *, verbose: bool = False) -> None:
    """Configure the root logger once, for a long-running command."""
    handler: logging.Handler
    if config.file is not None:
        config.file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(config.file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
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
