"""Database servers the tests start themselves, on 127.0.0.1 only: a throwaway
PostgreSQL cluster (``initdb`` into a temporary folder, ``postgres`` as a child
process) and a ``redis-server`` that keeps nothing on disk.

PostgreSQL refuses to run as root: as root the cluster belongs to the
``postgres`` system user (the postgresql package creates it) and its programs
run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.mfcli import free_port

PG_USER = "mediaforge"  # the cluster's superuser; trust authentication on 127.0.0.1


def postgres_bindir() -> Path | None:
    """The folder holding initdb and postgres, or None when PostgreSQL is not installed."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    return None


def _wait_for(ready: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {seconds:g} s")


class PostgresServer:
    """A PostgreSQL cluster of its own on 127.0.0.1:``port``; ``stop`` and
    ``start`` again simulate an outage (same data, same port)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # Not under pytest's tmp_path: that sits in a folder only root may enter,
        # and the cluster belongs to the postgres user when the tests run as root.
        self.root = Path(tempfile.mkdtemp(prefix="mediaforge-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(str(bindir / "initdb"), "-D", str(self.data), "-U", PG_USER, "-A", "trust")

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self._as,
                str(self.bindir / "postgres"),
                "-D", str(self.data),
                "-k", str(self.root),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                # Throwaway data: durability costs time and buys nothing here.
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=300",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )  # fmt: skip
        _wait_for(self._accepts, "PostgreSQL")

    def _accepts(self) -> bool:
        import psycopg

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"postgres exited:\n{self.log()}")
        try:
            psycopg.connect(self.url("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Fast shutdown: every client connection is cut, as in a server restart."""
        pid = self._postmaster_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class RedisServer:
    """A redis-server on 127.0.0.1:``port`` that writes nothing to disk; each
    test takes a database number of its own."""

    DATABASES = 1000

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mediaforge-redis-"))
        self.port = free_port()
        self._numbers = itertools.count(0)
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--databases", str(self.DATABASES),
                "--dir", str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_for(self._accepts, "redis-server")

    def _accepts(self) -> bool:
        import redis

        if self.process.poll() is not None:
            raise RuntimeError("redis-server exited")
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port).ping())
        except redis.ConnectionError:
            return False

    def new_database(self) -> str:
        """The URL of a database no earlier test used, emptied."""
        import redis

        number = next(self._numbers) % self.DATABASES
        url = f"redis://127.0.0.1:{self.port}/{number}"
        redis.Redis.from_url(url).flushdb()
        return url

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
