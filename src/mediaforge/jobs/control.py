"""Pause, resume and drain: orders to every worker that shares the job database.

The orders live in the job database (rows of ``mediaforge_meta``), so they
reach workers on every host, under systemd or not, and outlast a worker's
restart. Workers read them on their main loop (queue/intake.py).

- ``pause``: take no new jobs; running jobs finish. ``pause --now``: running
  jobs are handed back as well (ffmpeg stopped, no attempt used).
- ``drain``: workers running at the time of the order finish their running
  jobs and exit (status 0); a worker started after it runs as usual.
- ``resume``: lifts a pause, and a drain that workers have not finished yet.

Each worker also records on its own row why it takes no new jobs (its
``intake``), for ``mediaforge workers`` and for ``status`` of a queued job.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

import peewee

from mediaforge.jobs.clock import database_time
from mediaforge.jobs.tables import MetaRow, WorkerRow

PAUSE_KEY = "control.pause"
DRAIN_KEY = "control.drain_before"


class PauseMode(enum.StrEnum):
    SOFT = "soft"  # running jobs finish
    NOW = "now"  # running jobs are handed back


class Intake(enum.StrEnum):
    """Why a worker takes no new jobs."""

    PAUSED = "paused"
    DRAINING = "draining"
    OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True)
class Orders:
    """The orders in force: a pause (or None), and the time (database clock)
    before which started workers drain (or None)."""

    pause: PauseMode | None = None
    drain_before: float | None = None

    def drains(self, started_at: float) -> bool:
        """Whether a worker started at ``started_at`` must finish and exit."""
        return self.drain_before is not None and started_at < self.drain_before


@dataclass(frozen=True)
class WorkerIntake:
    """Why one worker takes no new jobs, as it recorded it; ``opens_at`` and
    ``opens`` (the time on its host's clock, e.g. "22:00") for a run window."""

    state: Intake
    opens_at: float | None = None
    opens: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"state": self.state.value, "opens_at": self.opens_at, "opens": self.opens}
        )

    @classmethod
    def from_json(cls, text: str | None) -> WorkerIntake | None:
        if not text:
            return None
        data: dict[str, Any] = json.loads(text)
        return cls(Intake(data["state"]), data.get("opens_at"), data.get("opens"))

    def describe(self) -> str:
        if self.state is Intake.OUTSIDE_WINDOW:
            return f"outside its run window, opens {self.opens}" if self.opens else "outside window"
        return self.state.value


class ControlStore:
    """Reads and writes of the orders and of each worker's intake."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db

    def orders(self) -> Orders:
        rows = {
            r.key: r.value for r in MetaRow.select().where(MetaRow.key.in_([PAUSE_KEY, DRAIN_KEY]))
        }
        pause = rows.get(PAUSE_KEY)
        drain = rows.get(DRAIN_KEY)
        return Orders(PauseMode(pause) if pause else None, float(drain) if drain else None)

    def _put(self, key: str, value: str) -> None:
        with self.db.atomic():
            MetaRow.insert(key=key, value=value).on_conflict(
                conflict_target=[MetaRow.key], update={MetaRow.value: value}
            ).execute()

    def pause(self, mode: PauseMode) -> None:
        self._put(PAUSE_KEY, mode.value)

    def drain(self) -> float:
        """Order the workers running now to finish and exit; returns the order's time."""
        now = database_time(self.db)
        self._put(DRAIN_KEY, repr(now))
        return now

    def resume(self) -> Orders:
        """Lift the pause and the drain; returns the orders that were in force."""
        before = self.orders()
        with self.db.atomic():
            MetaRow.delete().where(MetaRow.key.in_([PAUSE_KEY, DRAIN_KEY])).execute()
        return before

    def record_intake(self, worker_id: str, intake: WorkerIntake | None) -> None:
        """Record on a worker's row why it takes no new jobs (None: it takes them)."""
        text = intake.to_json() if intake is not None else None
        with self.db.atomic():
            WorkerRow.update(intake=text).where(WorkerRow.id == worker_id).execute()

    def live_intakes(self, stale_after: float) -> list[WorkerIntake | None]:
        """The intake of every live worker (None for one that takes new jobs)."""
        cutoff = database_time(self.db) - stale_after
        rows = WorkerRow.select(WorkerRow.intake).where(WorkerRow.heartbeat_at >= cutoff)
        return [WorkerIntake.from_json(r.intake) for r in rows]

    def why_waiting(self, stale_after: float) -> str | None:
        """Why a queued job is not being taken, when every live worker says why
        (None when some live worker takes new jobs, or none is running)."""
        if self.orders().pause is not None:
            return "paused: waits for 'mediaforge resume'"
        intakes = self.live_intakes(stale_after)
        if not intakes or any(i is None for i in intakes):
            return None
        windows = [i for i in intakes if i is not None and i.opens_at is not None]
        if windows:
            first = min(windows, key=lambda i: i.opens_at or 0.0)
            return f"waits for {first.opens}: every worker is outside its run window"
        return "every worker is draining"
