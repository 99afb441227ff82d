"""Riding out a job database that is briefly unreachable (a PostgreSQL restart,
a network cut, SQLite locked for longer than its busy timeout).

peewee raises ``OperationalError`` or ``InterfaceError`` for all of them; the
connection itself is reopened on the next use (see ``postgres.py``). What to
do meanwhile is the caller's decision: a heartbeat is simply skipped, a
compare-and-set that ends a job is tried again until the job would count as
abandoned anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import peewee

log = logging.getLogger(__name__)

CONNECTION_ERRORS: tuple[type[Exception], ...] = (peewee.OperationalError, peewee.InterfaceError)
RETRY_EVERY = 0.5  # seconds between tries while the database is away

T = TypeVar("T")


def ride_out(call: Callable[[], T], within: float, what: str) -> T:
    """``call()``, tried again while the database is unreachable, for up to
    ``within`` seconds; then the last error is raised.

    Only for writes that are safe to repeat: compare-and-set updates whose
    second run changes nothing the first one did.
    """
    deadline = time.monotonic() + within
    warned = False
    while True:
        try:
            return call()
        except CONNECTION_ERRORS as exc:
            if time.monotonic() + RETRY_EVERY > deadline:
                raise
            if not warned:
                log.warning("job database unreachable (%s); retrying %s", _one_line(exc), what)
                warned = True
            time.sleep(RETRY_EVERY)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class OutageClock:
    """How long the database has been unreachable, as seen by one worker's
    heartbeats; ``failed`` says whether it has been longer than ``limit``."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.since: float | None = None

    def reached(self) -> None:
        if self.since is not None:
            log.info("job database reachable again after %.1f s", time.monotonic() - self.since)
        self.since = None

    def failed(self, exc: BaseException) -> bool:
        """Note a failed write; True once the outage has lasted ``limit`` seconds."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning(
                "job database unreachable (%s); the job goes on, heartbeats are retried",
                _one_line(exc),
            )
        return now - self.since >= self.limit
