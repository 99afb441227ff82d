"""Whether this worker takes new jobs now: the orders in the job database
(pause, drain; jobs/control.py) and its run windows (``worker.schedule``).

The worker's main loop calls :meth:`IntakeGate.refresh` often; the orders
are read from the database at most every ``ORDERS_POLL`` seconds, the run
windows are judged on the host's local clock each time. Worker threads read
:attr:`IntakeGate.current` only (no database work on their path).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from mediaforge.config.schema import Config
from mediaforge.jobs.control import ControlStore, Intake, Orders, PauseMode, WorkerIntake
from mediaforge.run_windows import clock_text, is_open, next_opening, parse_schedule

log = logging.getLogger(__name__)

ORDERS_POLL = 1.0  # seconds between reads of the orders

# Reasons a running job is handed back (the attempt's Interrupted.reason).
PAUSED_NOW = "paused --now"
WINDOW_CLOSED = "its run window closed"


@dataclass(frozen=True)
class Door:
    """This worker's intake now: why it takes no new jobs (None: it takes
    them), why running jobs must be handed back (None: they go on), and
    whether it must finish its running jobs and exit."""

    closed: WorkerIntake | None = None
    hand_back: str | None = None
    drain: bool = False


class IntakeGate:
    """The worker's view of pause, drain and its run windows."""

    def __init__(
        self, config: Config, control: ControlStore, worker_id: str, started_at: float
    ) -> None:
        self.control, self.worker_id, self.started_at = control, worker_id, started_at
        self.windows = parse_schedule(config.worker.schedule)
        self.hand_back_at_window_end = config.worker.schedule_end == "hand_back"
        self.current = Door()
        self._orders = Orders()
        self._next_read = 0.0
        self._recorded: WorkerIntake | None = None

    def refresh(self) -> Door:
        """Read the orders (when due), judge the run windows, record a change of
        intake on the worker's row, and return the new door. Database errors
        propagate; the door stays as it was."""
        if time.monotonic() >= self._next_read:
            self._orders = self.control.orders()
            self._next_read = time.monotonic() + ORDERS_POLL
        door = self._judge(self._orders, datetime.now())
        if door.closed != self._recorded:
            self.control.record_intake(self.worker_id, door.closed)
            self._recorded = door.closed
            log.info("worker %s %s", self.worker_id, _told(door.closed))
        self.current = door
        return door

    def _judge(self, orders: Orders, now: datetime) -> Door:
        if orders.drains(self.started_at):
            return Door(WorkerIntake(Intake.DRAINING), drain=True)
        if orders.pause is not None:
            now_too = orders.pause is PauseMode.NOW
            return Door(WorkerIntake(Intake.PAUSED), hand_back=PAUSED_NOW if now_too else None)
        if is_open(self.windows, now):
            return Door()
        opening = next_opening(self.windows, now)
        closed = WorkerIntake(
            Intake.OUTSIDE_WINDOW,
            opening.timestamp() if opening else None,
            clock_text(opening, now) if opening else None,
        )
        return Door(closed, hand_back=WINDOW_CLOSED if self.hand_back_at_window_end else None)


def _told(closed: WorkerIntake | None) -> str:
    if closed is None:
        return "takes new jobs"
    return f"takes no new jobs: {closed.describe()}"
