"""Live job events as Server-Sent Events.

Each event is a job's state after a change, its id that change's time
(``updated_at``). One ``EventHub`` per server reads the changes for all
streams. A client that reconnects sends the last id it saw
(``Last-Event-ID``, as browsers do by themselves) and gets every job that
changed since, at its latest state: a job's end is never missed, though
progress steps in between may be folded into one. A change stamped before
its transaction committed, or on a host whose clock is a little behind, is
still seen: every read looks ``LATE_SECONDS`` back and skips the states it
already handed out.
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
# A change is stamped (updated_at) before its transaction commits, and by the
# clock of the host that made it: one can become visible after a later-stamped
# one. Each read looks this far back and skips what it already handed out.
LATE_SECONDS = 30.0
HUB_PAGE = 5000
SEEN_KEPT = 1000  # states a stream remembers before it forgets the old ones


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
        seen = Seen()
        while self.queues:
            since = cursor - LATE_SECONDS
            changed = await run_in_threadpool(self.store.changed_since, since, None, HUB_PAGE)
            for job in changed:
                cursor = max(cursor, job.updated_at)
                if not seen.first(job):
                    continue
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
            seen.forget_before(cursor - 2 * LATE_SECONDS)
            await asyncio.sleep(POLL_SECONDS)


class Seen:
    """Which state of each job was handed out already (its ``updated_at``):
    a window read again must not repeat it, and a state older than one handed
    out is not news."""

    def __init__(self) -> None:
        self.stamps: dict[int, float] = {}

    def first(self, job: Job) -> bool:
        """Whether this state of ``job`` is new here; remembers it if so."""
        if self.stamps.get(job.id, float("-inf")) >= job.updated_at:
            return False
        self.stamps[job.id] = job.updated_at
        return True

    def forget_before(self, stamp: float) -> None:
        """Drop states too old to be read again."""
        self.stamps = {i: t for i, t in self.stamps.items() if t >= stamp}


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
    sent = Seen()
    try:
        yield "retry: 1000\n\n"
        # From a little before the cursor: a change that committed late may
        # carry an earlier stamp than the last one the client saw.
        for job in await _catch_up(hub.store, cursor - LATE_SECONDS, job_id):
            if sent.first(job):
                yield format_event(job)
        while not await request.is_disconnected():
            try:
                change = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if change is None:
                return  # dropped for falling behind: the client reconnects and catches up
            if job_id is not None and change.id != job_id:
                continue
            if sent.first(change):  # not a state this stream sent already
                yield format_event(change)
                if len(sent.stamps) > SEEN_KEPT:
                    sent.forget_before(change.updated_at - 2 * LATE_SECONDS)
    finally:
        hub.unsubscribe(queue)
