"""The optional drivers: the database drivers, imported only where they are used,
and the web stack of ``mediaforge serve``.

A missing driver is one line naming the extra that brings it, never an
ImportError from deep inside peewee or huey (``psycopg``, ``redis``).

huey and peewee try ``import psycopg`` and ``import redis`` when they are
imported, to offer PostgreSQL and Redis whenever those are installed. With
both installed that costs ~85 ms (psycopg 3) and ~100-200 ms (redis-py) of
imports, more than a one-shot command like ``submit`` may take in all. A
process whose job database and queue are SQLite needs neither: the CLI puts a
gate before those imports (``gate_drivers``), which asks the config (read at
that moment, as the command would read it next anyway) whether the driver is
used, and when it is not, answers as if it were not installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

from mediaforge.errors import ConfigError

DIST = "mediaforge-transcode"


def _hint(what: str, extra: str, package: str) -> str:
    return (
        f"{what} needs the {package!r} driver, which is not installed; install mediaforge "
        f"with the {extra} extra: pipx install '{DIST}[{extra}]' "
        f"(or: pipx inject {DIST} '{package}'; pip install '{DIST}[{extra}]')"
    )


def psycopg(what: str) -> ModuleType:
    """psycopg 3 (PostgreSQL: the job database and the queue), or ConfigError naming the extra."""
    try:
        import psycopg as module
    except ImportError:
        raise ConfigError(_hint(what, "postgres", "psycopg[binary]")) from None
    return module


def redis(what: str) -> ModuleType:
    """redis-py (the Redis queue), or ConfigError naming the extra."""
    try:
        import redis as module
    except ImportError:
        raise ConfigError(_hint(what, "redis", "redis")) from None
    return module


# The modules that choose their drivers when they are imported.
CHOOSERS = ("peewee", "huey")


class _DriverGate(MetaPathFinder):
    """Consulted first for a gated driver: lets its import through only when it is needed."""

    def __init__(self, needed: Mapping[str, Callable[[], bool]]) -> None:
        self.needed = dict(needed)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        check = self.needed.pop(fullname, None)
        if check is None:
            return None
        if not self.needed:
            sys.meta_path.remove(self)  # every driver asked about once: done
        if check():
            return None  # the usual finders load it
        # None in sys.modules is Python's own "not installed": this import and
        # every later one raise ImportError, which peewee and huey expect.
        sys.modules[fullname] = None  # type: ignore[assignment]
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def gate_drivers(needed: Mapping[str, Callable[[], bool]]) -> None:
    """Import each driver named in ``needed`` only if its check says so when
    something first imports it.

    Does nothing once peewee, huey or one of the drivers is imported: the
    choice is made already (a test process, or a library caller)."""
    if any(name in sys.modules for name in (*CHOOSERS, *needed)):
        return
    sys.meta_path.insert(0, _DriverGate(needed))


def require_serve() -> None:
    """Starlette and uvicorn (``mediaforge serve``), or ConfigError naming the extra."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(
            "'mediaforge serve' needs Starlette and uvicorn, which are not installed; install "
            f"mediaforge with the serve extra: pipx install '{DIST}[serve]' (or: pipx inject "
            f"{DIST} starlette uvicorn; pip install '{DIST}[serve]')"
        ) from None
