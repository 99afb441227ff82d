"""The PostgreSQL set-up of docs/scale-out.md, as written there: a role and a
database made with ``createuser`` and ``createdb`` (not the superuser), then
every host's config pointing at them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends import PG_USER, PostgresServer
from tests.mfcli import Mediaforge

pytestmark = pytest.mark.slow


def client(postgres: PostgresServer, program: str, *args: str) -> None:
    done = subprocess.run(
        [str(postgres.bindir / program), "-h", "127.0.0.1", "-p", str(postgres.port),
         "-U", PG_USER, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_role_and_database_made_with_createuser_and_createdb_serve_the_farm(
    mf: Mediaforge, make_media: Callable[..., Path], postgres: PostgresServer, tmp_path: Path
) -> None:
    role, database = f"mf_{tmp_path.name[-12:].lower().replace('-', '_')}", f"jobs_{id(mf)}"
    client(postgres, "createuser", role)  # no superuser, no createdb, no createrole
    client(postgres, "createdb", "--owner", role, database)
    url = f"postgresql://{role}@127.0.0.1:{postgres.port}/{database}"
    mf.configure(database={"url": url}, queue={"backend": "postgres", "url": url})

    # The owner of the database may create mediaforge's tables (and huey's) in it.
    mf.ok("submit", "-p", "remux-mp4", "-o", tmp_path / "out", make_media("a.mp4"))
    mf.burst()
    assert [j["status"] for j in mf.jobs()] == ["succeeded"]
    assert mf.ok("workers", "--json").json() == []  # the burst worker deregistered
