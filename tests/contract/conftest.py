"""Every backend the same contract: the job database on SQLite and PostgreSQL,
the queue on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh job database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def queue_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The ``queue`` config section of a fresh queue of each kind."""
    if request.param == "sqlite":
        return {"backend": "sqlite", "url": str(tmp_path / "queue.db")}
    fixture = "postgres_url" if request.param == "postgres" else "redis_url"
    return {"backend": request.param, "url": request.getfixturevalue(fixture)}
