"""Running mediaforge as a user would, and checking its outputs with our own ffprobe.

``Mediaforge`` is the one harness every test folder uses for "a data folder,
a config file, the command and its worker processes"; the rest are small
helpers: our own ffprobe, waiting, and finding ffmpeg processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from mediaforge.config.discovery import load_config
from mediaforge.config.schema import Config
from mediaforge.jobs.store import JobStore
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import submit_inputs

# The repository: its docs, examples and packaging are checked too.
REPO = Path(__file__).resolve().parents[1]

MEDIAFORGE = [sys.executable, "-m", "mediaforge"]

# Settings that make a worker react in about a second instead of a minute.
QUICK_WORKER = {
    "heartbeat_interval": 0.5, "stale_after": 3, "retry_backoff": 0.2, "shutdown_grace": 1,
}  # fmt: skip


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


@dataclass(frozen=True)
class Started:
    """A command running in the background, and the files its output goes to."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path


class Mediaforge:
    """One mediaforge installation in ``home``: its config, presets and data,
    its commands and the processes it started.

    Commands run as users run them (``python -m mediaforge``, a real
    process), with ``home`` as their working folder and an environment that
    names the data folder, the config file, and a HOME and XDG_CONFIG_HOME
    inside ``home``: none of the machine's own settings are read, and
    mediaforge's own files (config, data, logs) stay in ``home``. The output
    of every command is kept in ``transcript``; ``stop`` ends whatever is
    still running.
    """

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.data = home / "data"
        self.config = home / "mediaforge.yaml"
        self.presets = home / "presets"
        self.presets.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFORGE_")}
        self.env = {
            **env,
            "MEDIAFORGE_DATA_DIR": str(self.data),
            "MEDIAFORGE_CONFIG": str(self.config),
            "XDG_CONFIG_HOME": str(home / "xdg"),
            "HOME": str(home / "home"),
        }
        self.transcript: list[str] = []
        self.started: list[Started] = []
        self._store: JobStore | None = None
        self.configure()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if self.started:
            print(self.logs())  # pytest shows it when the test failed

    # -- setting up ------------------------------------------------------------------------

    def configure(self, extra: str = "", **sections: Any) -> None:
        """Write the config file: the presets folder, quick worker settings and
        ``sections`` (a ``worker`` section adds to the quick settings), one line
        each, then ``extra`` as it is."""
        settings: dict[str, Any] = {"presets_dir": str(self.presets), "worker": dict(QUICK_WORKER)}
        for name, value in sections.items():
            if name == "worker":
                settings["worker"].update(value)
            else:
                settings[name] = value
        # JSON is YAML: one line per section.
        lines = "".join(f"{name}: {json.dumps(value)}\n" for name, value in settings.items())
        self.config.write_text(lines + extra, encoding="utf-8")

    def add_preset(self, name: str, text: str) -> Path:
        path = self.presets / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    # -- commands ----------------------------------------------------------------------------

    def __call__(self, *args: object, cwd: Path | None = None) -> Done:
        """``mediaforge ARGS`` to its end."""
        done = subprocess.run(
            [*MEDIAFORGE, *map(str, args)],
            env=self.env, cwd=cwd or self.home, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return self.record(Done(done.returncode, done.stdout, done.stderr))

    def record(self, done: Done) -> Done:
        """Keep what a command wrote in the transcript."""
        self.transcript.append(done.out + done.err)
        return done

    def ok(self, *args: object, cwd: Path | None = None) -> Done:
        """``mediaforge ARGS``, which must exit 0."""
        done = self(*args, cwd=cwd)
        assert done.code == 0, done.err
        return done

    def burst(self, *args: object) -> Done:
        """``mediaforge worker --burst ARGS``: run the queue empty; it must exit 0."""
        return self.ok("worker", "--burst", *args)

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.ok("jobs", "--json", "--limit", "1000").json()
        return jobs

    def status(self, job_id: object) -> dict[str, Any]:
        """``mediaforge status JOB --json``."""
        job: dict[str, Any] = self.ok("status", job_id, "--json").json()
        return job

    # -- processes -----------------------------------------------------------------------------

    def start(self, *args: object) -> subprocess.Popen[bytes]:
        """``mediaforge ARGS`` in the background (a worker, a watcher, a waiting
        submit). Its output goes to ``home/COMMAND-N.out`` and ``.err``."""
        n = len(self.started) + 1
        out, err = (self.home / f"{args[0]}-{n}.{kind}" for kind in ("out", "err"))
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            process = subprocess.Popen(
                [*MEDIAFORGE, *map(str, args)], env=self.env, cwd=self.home,
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            )  # fmt: skip
        self.started.append(Started(process, out, err))
        return process

    def finish(self, process: subprocess.Popen[bytes], timeout: float = 60) -> Done:
        """Wait for a started process to end; what it wrote, and its exit code."""
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{process.args!r} still running after {timeout} s\n{self.logs()}")
        [started] = [s for s in self.started if s.process is process]
        out, err = (path.read_text(errors="replace") for path in (started.out, started.err))
        return self.record(Done(code, out, err))

    def logs(self) -> str:
        """What the started processes have written so far, file by file."""
        parts = []
        for started in self.started:
            for path in (started.out, started.err):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def wait_until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        """``wait_until``, showing the started processes' logs if it fails."""
        wait_until(condition, seconds, what, detail=self.logs)

    def close_store(self) -> None:
        """Close this process's connection to the job database (before a server restart)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def stop(self) -> None:
        """Kill the started processes still running, then any ffmpeg working on
        a file in ``home``; close the job database."""
        for started in self.started:
            if started.process.poll() is None:
                started.process.kill()
                started.process.wait(timeout=10)
        for pid in ffmpeg_pids(str(self.home)):
            with suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- the same installation, in this process ---------------------------------------------------

    def load_config(self) -> Config:
        """The configuration the commands see."""
        return load_config(None, self.env)

    @property
    def store(self) -> JobStore:
        """The job database, opened here (closed by ``stop``)."""
        if self._store is None:
            self._store = JobStore.open(self.load_config())
        return self._store

    def submit(self, inputs: Sequence[Path], preset: str) -> list[int]:
        """Queue jobs through the same door as ``mediaforge submit``, without a process."""
        config = self.load_config()
        return submit_inputs(config, self.store, JobQueue(config), list(inputs), preset).ids

    def database_dump(self) -> str:
        """Every database in the data folder, as SQL."""
        parts: list[str] = []
        for path in sorted(self.data.glob("*.db")):
            with closing(sqlite3.connect(path)) as db:
                parts.extend(db.iterdump())
        return "\n".join(parts)

    def data_text(self) -> str:
        """Everything the data folder holds: the databases as SQL, then every file's bytes."""
        files = sorted(p for p in self.data.rglob("*") if p.is_file())
        return "\n".join([self.database_dump(), *(p.read_bytes().decode("latin-1") for p in files)])


def ffprobe(path: Path, *entries: str) -> dict[str, Any]:
    """Our own ffprobe call (JSON), independent of mediaforge.probe."""
    # "-pattern_type none": the image2 demuxer would read "%d.jpg" as a numbered
    # sequence even behind "file:".
    command = ["ffprobe", "-v", "error", "-pattern_type", "none", "-of", "json", *entries]
    if not entries:
        command += ["-show_format", "-show_streams"]
    done = subprocess.run(
        [*command, f"file:{path.absolute()}"], capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        s for s in info["streams"]
        if s["codec_type"] == kind and not s.get("disposition", {}).get("attached_pic")
    ]  # fmt: skip


def display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """What a player shows: stored size turned by the display matrix."""
    width, height = stream["width"], stream["height"]
    for side in stream.get("side_data_list", []):
        if side.get("side_data_type") == "Display Matrix" and abs(side["rotation"]) % 180 == 90:
            width, height = height, width
    return width, height


def wait_until(
    condition: Callable[[], bool], seconds: float, what: str,
    detail: Callable[[], str] | None = None,
) -> None:  # fmt: skip
    """Poll ``condition`` every 50 ms; fail the test after ``seconds``, with ``detail()``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}" + (f"\n{detail()}" if detail else ""))
        time.sleep(0.05)


def ffmpeg_pids(marker: str) -> list[int]:
    """Live ffmpeg processes whose command line mentions ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited while we looked
        # A zombie's cmdline is empty: it has died and only waits to be reaped.
        if Path(os.fsdecode(argv[0])).name == "ffmpeg" and marker.encode() in b" ".join(argv):
            pids.append(int(entry.name))
    return pids


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hidden_leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]
