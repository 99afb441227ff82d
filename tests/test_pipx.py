"""`pipx install` gives a working mediaforge: installed into a temporary
PIPX_HOME from a copy of this repository, then a real job with that binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def has_pipx() -> bool:
    done = subprocess.run([sys.executable, "-m", "pipx", "--version"], capture_output=True,
                          check=False)
    return done.returncode == 0


@pytest.mark.slow
def test_pipx_install_gives_a_working_mediaforge(
    tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    # Asked here, not in a skipif: collecting the tests starts no process.
    if not has_pipx():
        pytest.skip("pipx is not installed (pip install -e '.[test]')")
    # A copy of the sources: building in the repository would leave build/ there.
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),  # nothing may land in the real ~/.local
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "MEDIAFORGE_DATA_DIR": str(tmp_path / "data"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("MEDIAFORGE_CONFIG", None)
    env.pop("VIRTUAL_ENV", None)

    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(source)], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    mediaforge = tmp_path / "bin" / "mediaforge"
    version = subprocess.run([str(mediaforge), "--version"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("mediaforge ")
    # The program runs from pipx's own venv, not from this test's.
    assert mediaforge.resolve().is_relative_to(tmp_path / "pipx")

    clip = make_media("clip.mp4", duration=1)
    run = subprocess.run([str(mediaforge), "run", str(clip), "-p", "aac-audio", "--json"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert '"status": "succeeded"' in run.stdout
    assert (tmp_path / "clip.m4a").stat().st_size > 0

    units = subprocess.run([str(mediaforge), "systemd", "install", "--user", "--dry-run"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           check=False)
    assert units.returncode == 0, units.stderr
    assert f"ExecStart={mediaforge.resolve()} worker" in units.stdout
