"""Huey's thread consumer, on mediaforge's terms: the one place the worker
relies on huey's consumer internals (see the notes below)."""

from __future__ import annotations

import importlib.metadata
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from huey.consumer import Consumer

from mediaforge.errors import EnvironmentProblem

SignalHandler = Callable[[int, FrameType | None], None]

# -- huey's consumer, on mediaforge's terms ------------------------------------
# Written against huey 3.5.4: the one place the worker relies on huey's
# consumer internals. Huey's public hooks (pre/post_execute, on_startup,
# on_shutdown, task signals; Consumer options such as shutdown_timeout and
# graceful_signal) cannot give our two-step shutdown:
# - start() ends by installing huey's signal handlers (SIGTERM stops at once,
#   leaving a thread worker's ffmpeg and temp files behind; a second SIGINT
#   raises KeyboardInterrupt anywhere in the main thread; SIGHUP re-executes
#   the process) and has no option to leave signals alone; installing ours
#   after start() would lose a signal that came in between. So
#   _set_signal_handlers is overridden: our handlers only set flags.
# - stop() never asks a running task to give its job back: it waits
#   (graceful) or returns at once, threads still running (immediate). So the
#   worker stops the threads itself, through stop_flag, worker_threads and
#   scheduler.
# The main loop is the worker's own (huey's loop() reads its private signal
# state); like huey's, it calls check_worker_health().

HUEY_WRITTEN_AGAINST = "3.5.4"
HUEY_REQUIREMENT = "huey>=3.5,<4"  # as in pyproject.toml


def ensure_supported_huey() -> None:
    """Refuse, in one line, a huey whose major version this worker does not know."""
    installed = importlib.metadata.version("huey")
    if installed.split(".")[0] != HUEY_WRITTEN_AGAINST.split(".")[0]:
        raise EnvironmentProblem(
            f"huey {installed} is installed, but the mediaforge worker supports "
            f"{HUEY_REQUIREMENT} (written against {HUEY_WRITTEN_AGAINST}): "
            f"pip install '{HUEY_REQUIREMENT}'"
        )


class HueyConsumer(Consumer):  # type: ignore[misc]
    """Huey's thread consumer with mediaforge's signal handlers in place of its own."""

    def __init__(self, huey: Any, on_signal: SignalHandler, **options: Any) -> None:
        super().__init__(huey, worker_type="thread", **options)
        self.mediaforge_on_signal = on_signal

    def _set_signal_handlers(self) -> None:  # called at the end of huey's start()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.mediaforge_on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def handles_signals(self) -> bool:
        """Whether the worker's handlers are the ones installed (huey called our override)."""
        return signal.getsignal(signal.SIGTERM) == self.mediaforge_on_signal

    def stop_taking_work(self) -> None:
        """Workers end once their running task (if any) returns; nothing is interrupted."""
        self.stop_flag.set()

    def working(self) -> bool:
        """Whether any worker thread is still alive."""
        return any(t.is_alive() for _, t in self.worker_threads)

    def join_threads(self) -> None:
        """Wait for the threads to end: up to 30 s for each worker, 5 s for the scheduler."""
        for _, thread in self.worker_threads:
            thread.join(timeout=30)
        self.scheduler.join(timeout=5)
