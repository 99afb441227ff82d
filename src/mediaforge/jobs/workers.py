"""The worker table: which worker processes exist on every host, and whether
each is alive, judged by its heartbeat on the database's clock.

A worker registers when it starts, beats while it runs and deregisters when
it stops cleanly; a row whose heartbeat went stale stays visible (``stale``)
for ``FORGET_AFTER`` seconds, then the recovery sweep prunes it.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import peewee

from mediaforge import __version__
from mediaforge.jobs.clock import database_time
from mediaforge.jobs.control import WorkerIntake
from mediaforge.jobs.identity import namespace_key, pid_alive, process_id, this_worker_prefix
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.tables import JobRow, WorkerRow
from mediaforge.units import iso_time

# How long a dead worker's row stays listed (as stale) before it is pruned.
FORGET_AFTER = 3600.0


class WorkerState(enum.StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STALE = "stale"  # no heartbeat for stale_after seconds: gone, or cut off


@dataclass(frozen=True)
class HeldJob:
    """A running job as ``mediaforge workers`` shows it."""

    id: int
    input_path: str
    preset: str
    progress: float


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as ``mediaforge workers`` shows it; ``age`` is seconds since
    its last heartbeat, on the database's clock."""

    id: str
    host: str
    pid: int
    version: str
    started_at: float
    age: float
    state: WorkerState
    jobs: tuple[HeldJob, ...]
    intake: str | None = None  # why it takes no new jobs (paused, draining, run window)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "state": self.state.value,
            "started_at": iso_time(self.started_at),
            "heartbeat_age": round(self.age, 1),
            "intake": self.intake,
            "jobs": [
                {"id": j.id, "input": j.input_path, "preset": j.preset, "progress": j.progress}
                for j in self.jobs
            ],
        }


def host_key(host: str, namespace: str) -> str:
    """One host as far as mounts go: its name and its boot and PID namespace
    (two containers on one machine may mount different folders)."""
    return f"{host}|{namespace}"


class WorkerStore:
    """Reads and writes of the worker table."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db

    def now(self) -> float:
        return database_time(self.db)

    def register(self, worker_id: str | None = None) -> str:
        """Record this process as a live worker; returns its id."""
        worker_id = worker_id or this_worker_prefix()
        now = self.now()
        with self.db.atomic():
            WorkerRow.delete().where(WorkerRow.id == worker_id).execute()
            WorkerRow.insert(
                id=worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                namespace=namespace_key(),
                version=__version__,
                started_at=now,
                heartbeat_at=now,
            ).execute()
        return worker_id

    def beat(self, worker_id: str) -> bool:
        """Refresh a worker's heartbeat; registers it again if its row was pruned
        (a worker cut off from the database for longer than FORGET_AFTER)."""
        with self.db.atomic():
            found = WorkerRow.update(heartbeat_at=self.now()).where(WorkerRow.id == worker_id)
            if found.execute():
                return True
        self.register(worker_id)
        return True

    def deregister(self, worker_id: str) -> None:
        with self.db.atomic():
            WorkerRow.delete().where(WorkerRow.id == worker_id).execute()

    def prune(self, older_than: float = FORGET_AFTER) -> int:
        """Forget workers whose last heartbeat is older than ``older_than`` seconds."""
        cutoff = self.now() - older_than
        with self.db.atomic():
            return int(WorkerRow.delete().where(WorkerRow.heartbeat_at < cutoff).execute())

    def proven_dead(self, claimed_by: Iterable[str | None]) -> set[str]:
        """The claimers (``host:pid:nonce/...``) whose process is provably gone:
        registered in this process's PID namespace, with a pid that no longer
        exists. Anything else (another host, another container, no row) is
        judged by its heartbeat alone."""
        claimers = [c for c in claimed_by if c]
        ids = {process_id(c) for c in claimers}
        here = namespace_key()
        if not ids or not here:
            return set()
        rows = WorkerRow.select(WorkerRow.id, WorkerRow.pid).where(
            WorkerRow.id.in_(sorted(ids)) & (WorkerRow.namespace == here)
        )
        dead = {r.id for r in rows if r.pid != os.getpid() and not pid_alive(r.pid)}
        return {c for c in claimers if process_id(c) in dead}

    def others_could_see_differently(self, worker_id: str, stale_after: float) -> bool:
        """Whether a live worker on another host or in another container exists
        (one that may mount other folders than this one)."""
        me = WorkerRow.get_or_none(WorkerRow.id == worker_id)
        if me is None:
            return False  # not a registered worker (`mediaforge run`): nobody to hand to
        cutoff = self.now() - stale_after
        query = WorkerRow.select().where(
            (WorkerRow.id != worker_id) & (WorkerRow.heartbeat_at >= cutoff)
        )
        return any((r.host, r.namespace) != (me.host, me.namespace) for r in query)

    def live_hosts(self, stale_after: float) -> set[str]:
        """The hosts (``host_key``) with a live worker on them."""
        cutoff = self.now() - stale_after
        query = WorkerRow.select(WorkerRow.host, WorkerRow.namespace).where(
            WorkerRow.heartbeat_at >= cutoff
        )
        return {host_key(r.host, r.namespace) for r in query}

    def list_workers(self, stale_after: float) -> list[WorkerInfo]:
        """Every known worker on every host with the jobs it holds, oldest first."""
        now = self.now()
        running = JobRow.select(
            JobRow.id, JobRow.worker, JobRow.input_path, JobRow.preset, JobRow.progress
        ).where(JobRow.status == JobStatus.RUNNING.value)
        held: dict[str, list[HeldJob]] = {}
        for job_row in running.order_by(JobRow.id):
            job = HeldJob(job_row.id, job_row.input_path, job_row.preset, job_row.progress)
            held.setdefault(process_id(job_row.worker or ""), []).append(job)
        found = []
        for row in WorkerRow.select().order_by(WorkerRow.started_at, WorkerRow.id):
            age = max(0.0, now - row.heartbeat_at)
            jobs = tuple(held.get(row.id, []))
            if age > stale_after:
                state = WorkerState.STALE
            else:
                state = WorkerState.RUNNING if jobs else WorkerState.IDLE
            intake = WorkerIntake.from_json(row.intake)
            found.append(
                WorkerInfo(
                    row.id,
                    row.host,
                    row.pid,
                    row.version,
                    row.started_at,
                    age,
                    state,
                    jobs,
                    intake.describe() if intake is not None else None,
                )
            )
        return found
