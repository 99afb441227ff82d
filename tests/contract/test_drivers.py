"""A missing database driver is one line naming the extra that brings it.

The drivers are installed in the test environment and cannot be removed from
it for one test, so each test hides one from ``import`` (``sys.modules[name] =
None`` makes ``import name`` raise ImportError, as if it were not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mediaforge.errors import ExitCode

HIDE_AND_RUN = """
import sys
sys.modules[sys.argv[1]] = None
from mediaforge.cli.main import app
sys.argv = ["mediaforge", *sys.argv[2:]]
app()
"""


@pytest.mark.parametrize(
    ("module", "settings", "extra"),
    [
        ("psycopg", {"database": {"url": "postgresql://u@127.0.0.1:1/db"}}, "postgres"),
        ("psycopg", {"queue": {"backend": "postgres", "url": "postgresql://127.0.0.1:1/q"}},
         "postgres"),
        ("redis", {"queue": {"backend": "redis", "url": "redis://127.0.0.1:1/0"}}, "redis"),
    ],
)  # fmt: skip
def test_a_missing_driver_names_the_extra_to_install(
    tmp_path: Path,
    make_media: Callable[..., Path],
    module: str,
    settings: dict[str, object],
    extra: str,
) -> None:
    clip = make_media("clip.mp4")
    config = tmp_path / "mediaforge.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), **settings}))
    env = {"MEDIAFORGE_CONFIG": str(config), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", HIDE_AND_RUN, module, "submit", "-p", "remux-mp4", clip],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"pipx install 'mediaforge-transcode[{extra}]'" in lines[0]
    assert "pipx inject mediaforge-transcode" in lines[0]
