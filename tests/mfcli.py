"""Running mediaforge as a user would, and checking its outputs with our own ffprobe.

Shared by the CLI, preset and pipeline tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The repository: its docs, examples and packaging are checked too.
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


class Mediaforge:
    """Runs ``python -m mediaforge`` as a user would, with data and config in a tmp folder."""

    def __init__(self, home: Path) -> None:
        home.mkdir(exist_ok=True)
        self.home = home
        self.config = home / "mediaforge.yaml"
        self.presets = home / "presets"
        self.presets.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFORGE_")}
        self.env = {
            **env,
            "MEDIAFORGE_DATA_DIR": str(home / "data"),
            "MEDIAFORGE_CONFIG": str(self.config),
            "XDG_CONFIG_HOME": str(home / "xdg"),
        }
        self.configure()

    def configure(self, extra: str = "") -> None:
        self.config.write_text(
            f"presets_dir: {self.presets}\n"
            "worker: {heartbeat_interval: 0.5, stale_after: 3, retry_backoff: 0.2,"
            " shutdown_grace: 1}\n" + extra,
            encoding="utf-8",
        )

    def add_preset(self, name: str, text: str) -> Path:
        path = self.presets / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def __call__(self, *args: object, cwd: Path | None = None) -> Done:
        done = subprocess.run(
            [sys.executable, "-m", "mediaforge", *map(str, args)],
            env=self.env, cwd=cwd or self.home, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return Done(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mediaforge", *map(str, args)],
            env=self.env, cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def jobs(self) -> list[dict[str, Any]]:
        done = self("jobs", "--json", "--limit", "1000")
        assert done.code == 0, done.err
        jobs: list[dict[str, Any]] = done.json()
        return jobs


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


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
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


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hidden_leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]
