"""A beat that keeps a claim alive while work blocks on something slow.

Heartbeats (a running job's, an upload's claim) are normally sent from
progress callbacks, but a request to a store that does not answer blocks for
up to its timeout and its retries with no progress at all: long enough for
the recovery sweep to take a live worker's work away. A ``Pulse`` calls its
function from a thread of its own every ``interval`` seconds for as long as
its ``with`` block runs, whatever the block is waiting on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from mediaforge.jobs.outage import CONNECTION_ERRORS

log = logging.getLogger(__name__)


class Pulse:
    """``with Pulse(beat, interval):`` calls ``beat()`` every ``interval`` seconds.

    ``beat`` returns False when the work was taken away (cancelled, claimed by
    another worker); ``lost`` is then set and the beating stops. A beat that
    raises is logged and the beating goes on (a locked database now and then
    must not stop it).
    """

    def __init__(self, beat: Callable[[], bool], interval: float) -> None:
        self.beat, self.interval = beat, interval
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pulse", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                alive = self.beat()
            except CONNECTION_ERRORS as exc:  # an outage: no traceback every beat
                log.warning("a heartbeat failed (%s); trying again", " ".join(str(exc).split()))
                continue
            except Exception:  # the next beat may well work; the work goes on
                log.exception("a heartbeat failed; trying again")
                continue
            if not alive:
                self.lost.set()
                return

    def __enter__(self) -> Pulse:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()
