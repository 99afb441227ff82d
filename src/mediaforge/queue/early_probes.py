"""Input probes started before the submission path is even imported.

``submit`` probes every input before it makes a job, so that a file that is
not media is refused at once. ffprobe spends most of its life starting up
(tens of milliseconds, on a core of its own), and the command needs about as
long again to import the job database, the queue and the presets. Started as
soon as the config is read, the first probes run while that happens: one
file's ``submit`` costs the longer of the two instead of their sum.

This module imports only what starting a probe needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from mediaforge.config.schema import Config
from mediaforge.errors import MediaforgeError
from mediaforge.media.probe import Probing, check_readable
from mediaforge.storage.inputs import Fingerprint, fingerprint


def probe_workers(inputs: int) -> int:
    """How many inputs to probe at once: one per core this process may use.
    ffprobe is busy on a CPU nearly all its life (most of it starting up), so
    more at once only queue for the same cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, min(cores, inputs))


class EarlyProbes:
    """The probes of the first inputs (as many as :func:`probe_workers`
    allows), each started right after its input's fingerprint was taken, as
    the submission path would do it. An input that cannot be started (gone,
    unreadable) is left to the submission path, which reports it; a probe
    nobody took is stopped when the ``with`` block ends."""

    def __init__(self, config: Config, inputs: Sequence[Path]) -> None:
        self._started: dict[Path, tuple[Fingerprint, Probing]] = {}
        try:
            for path in inputs[: probe_workers(len(inputs))]:
                if path not in self._started:
                    self._start(config, path)
        except BaseException:  # Ctrl-C while a slow share is read: stop what runs
            self.close()
            raise

    def _start(self, config: Config, path: Path) -> None:
        try:
            check_readable(path)  # a FIFO would block the fingerprint's read
            fp = fingerprint(path)
            probing = Probing(path, ffprobe=config.ffprobe, timeout=config.probe_timeout)
        except (MediaforgeError, OSError):
            return
        self._started[path] = (fp, probing)

    def take(self, path: Path) -> tuple[Fingerprint, Probing] | None:
        """The fingerprint and running probe of ``path``, once; None if not started."""
        return self._started.pop(path, None)

    def close(self) -> None:
        for _, probing in self._started.values():
            probing.cancel()
        self._started.clear()

    def __enter__(self) -> EarlyProbes:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
