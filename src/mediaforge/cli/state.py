"""What one invocation of ``mediaforge`` knows: the global options, and the
config, job store and queue, each opened on first use (so ``--help`` and
``--version`` open nothing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mediaforge.drivers import gate_drivers
from mediaforge.errors import MediaforgeError

if TYPE_CHECKING:
    from mediaforge.config.schema import Config
    from mediaforge.jobs.store import JobStore
    from mediaforge.queue.backend import JobQueue


class State:
    """What the global options resolved; config and store are opened on demand."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._store: JobStore | None = None
        self._wanted: set[str] = set()
        # Up to ~300 ms of imports that a SQLite database and queue never need.
        gate_drivers({"psycopg": self._uses("postgres"), "redis": self._uses("redis")})

    def want(self, *servers: str) -> None:
        """A command that talks to a server the config does not name
        (``db migrate --to postgresql://...``) says so before it imports anything."""
        self._wanted.update(servers)

    def _uses(self, server: str) -> Callable[[], bool]:
        def check() -> bool:
            if server in self._wanted:
                return True
            try:
                return server in self.config.servers
            except MediaforgeError:
                return True  # the command reads the config again and reports it

        return check

    @property
    def config(self) -> Config:
        if self._config is None:
            from mediaforge.config.discovery import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> JobStore:
        if self._store is None:
            from mediaforge.jobs.store import JobStore

            self._store = JobStore.open(self.config)
        return self._store

    def queue(self) -> JobQueue:
        from mediaforge.queue.backend import JobQueue

        return JobQueue(self.config)


def get_state(ctx: typer.Context) -> State:
    """The state the root callback put on the command's context."""
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state
