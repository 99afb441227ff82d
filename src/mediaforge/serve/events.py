"""Live job events as Server-Sent Events.

Each event is a job's state after a change, its id that change's time
(``updated_at``). One ``EventHub`` per server reads the changes for all
streams. A client that reconnects sends the last id it saw
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
QUEUE_SIZE = 1000  # changes waiting for one client before it is dropped
CATCH_UP_PAGE = 200


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


class EventHub:
    """One reader of the job table for every open stream: it asks for what
    changed twice a second while anyone listens, and hands each change to
    every stream's queue (so 50 dashboards cost one query, not 50)."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.queues: set[asyncio.Queue[Job | None]] = set()
        self.task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[Job | None]:
        queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.queues.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(time.time()))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Job | None]) -> None:
        self.queues.discard(queue)

    async def _run(self, cursor: float) -> None:
        while self.queues:
            changed = await run_in_threadpool(self.store.changed_since, cursor, None, 500)
            for job in changed:
                cursor = max(cursor, job.updated_at)
                for queue in list(self.queues):
                    try:
                        queue.put_nowait(job)
                    except asyncio.QueueFull:
                        # A client too slow to keep up: its stream ends, and its
                        # reconnect (with the last id) catches up from the database.
                        self.queues.discard(queue)
                        while not queue.empty():
                            queue.get_nowait()
                        queue.put_nowait(None)
            await asyncio.sleep(POLL_SECONDS)


async def _catch_up(store: JobStore, cursor: float, job_id: int | None) -> list[Job]:
    """Every job changed after ``cursor``, at its latest state."""
    found: list[Job] = []
    while True:
        page = await run_in_threadpool(store.changed_since, cursor, job_id, CATCH_UP_PAGE)
        found += page
        if len(page) < CATCH_UP_PAGE:
            return found
        cursor = page[-1].updated_at


async def job_events(
    request: Request, hub: EventHub, job_id: int | None, cursor: float
) -> AsyncIterator[str]:
    """The stream: what changed since ``cursor``, then each change as the hub
    sees it; a comment now and then so that proxies keep the connection open."""
    queue = hub.subscribe()  # before catching up: nothing falls between the two
    try:
        yield "retry: 1000\n\n"
        for job in await _catch_up(hub.store, cursor, job_id):
            cursor = max(cursor, job.updated_at)
            yield format_event(job)
        while not await request.is_disconnected():
            try:
                change = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if change is None:
                return  # dropped for falling behind: the client reconnects and catches up
            # Older than what the catch-up already sent at its latest state: skip.
            if change.updated_at <= cursor or (job_id is not None and change.id != job_id):
                continue
            cursor = change.updated_at
            yield format_event(change)
    finally:
        hub.unsubscribe(queue)
