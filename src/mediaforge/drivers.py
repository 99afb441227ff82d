"""The optional database drivers, imported only by the backend that needs them, and
the web stack of ``mediaforge serve``.

A missing driver is one line naming the extra that brings it, never an
ImportError from deep inside peewee or huey.
"""

from __future__ import annotations

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
