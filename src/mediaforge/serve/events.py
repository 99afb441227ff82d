"""Live job events as Server-Sent Events.

Each event is a job's state after a change, its id that change's time
(``updated_at``). A client that reconnects sends the last id it saw
(``Last-Event-ID``, as browsers do by themselves) and gets every job that
changed since, at its latest state: a job's end is never missed, though
progress steps in between may be folded into one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


def event_kind(job: Job) -> str:
    """``progress`` while it runs, ``end`` once it ended, ``job`` otherwise (queued)."""
    if job.status is JobStatus.RUNNING:
        return "progress"
    return "end" if job.status.finished else "job"


def format_event(job: Job) -> str:
    data = json.dumps(job.to_dict(), separators=(",", ":"))
    return f"id: {job.updated_at!r}\nevent: {event_kind(job)}\ndata: {data}\n\n"


def start_cursor(last_event_id: str | None, job_id: int | None) -> float:
    """Where a stream starts: after the last event the client saw; for one job,
    its current state; for all jobs, changes from now on."""
    if last_event_id:
        try:
            return float(last_event_id)
        except ValueError:
            pass
    return 0.0 if job_id is not None else time.time()


async def job_events(
    request: Request, store: JobStore, job_id: int | None, cursor: float
) -> AsyncIterator[str]:
    """The stream: new states as they are written, a comment now and then so
    that proxies keep the connection open."""
    yield "retry: 1000\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        changed = await run_in_threadpool(store.changed_since, cursor, job_id)
        for job in changed:
            cursor = max(cursor, job.updated_at)
            yield format_event(job)
        if changed:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
