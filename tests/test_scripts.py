"""The setup scripts and the test settings: .ci/run installs the test extra once,
scripts/test.sh alone still sets everything up, and only apprise's imghdr
DeprecationWarning is hidden from test output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def stub_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A venv whose python, ruff and mypy only log how they were called."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "ruff", "mypy"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    return tmp_path / "venv", log


def run_script(script: str, venv: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VENV": str(venv), "PYTHON": sys.executable}
    return subprocess.run(["bash", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def installs(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " pip install " in line]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the scripts install ffmpeg first")
def test_ci_run_installs_the_test_extra_once_then_runs_the_tests(tmp_path: Path) -> None:
    venv, log = stub_venv(tmp_path)
    done = run_script(".ci/run", venv)
    assert done.returncode == 0, done.stderr
    assert len(installs(log)) == 1, log.read_text()
    assert "[test]" in installs(log)[0]
    assert "python -m pytest -q" in log.read_text().splitlines()[-1]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the scripts install ffmpeg first")
def test_scripts_test_sh_alone_installs_the_test_extra_then_runs_the_tests(
    tmp_path: Path,
) -> None:
    venv, log = stub_venv(tmp_path)
    done = run_script("scripts/test.sh", venv)
    assert done.returncode == 0, done.stderr
    assert len(installs(log)) == 1, log.read_text()
    assert "[test]" in installs(log)[0]
    assert log.read_text().splitlines()[-1].startswith("python -m pytest")


def test_only_apprises_imghdr_deprecation_warning_is_filtered(tmp_path: Path) -> None:
    # A fresh pytest with this project's settings: apprise's imghdr warning is
    # hidden, any other DeprecationWarning still shows.
    (tmp_path / "test_warns.py").write_text(
        "import warnings\n"
        "def test_apprise_pgp():\n"
        "    import apprise.utils.pgp  # noqa: F401\n"
        "def test_other():\n"
        "    warnings.warn('some other thing is deprecated', DeprecationWarning)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p",
         "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_warns.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "'imghdr' is deprecated" not in done.stdout
    assert "some other thing is deprecated" in done.stdout


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the scripts install ffmpeg first")
def test_quickstart_reuses_its_sample_and_leaves_nothing_behind_on_a_second_run(
    tmp_path: Path,
) -> None:
    # The venv's mediaforge is this checkout's (a real one, on a data folder in
    # tmp_path); its python is the real one, and nothing is installed.
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "activate").write_text("")
    (bin_dir / "mediaforge").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mediaforge "$@"\n')
    (bin_dir / "mediaforge").chmod(0o755)
    folder, scratch = tmp_path / "quickstart", tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFORGE_")}
    env |= {
        "VENV": str(tmp_path / "venv"), "MEDIAFORGE_INSTALLED": str(tmp_path / "venv"),
        "PYTHON": sys.executable, "QUICKSTART_DIR": str(folder), "TMPDIR": str(scratch),
        "MEDIAFORGE_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }  # fmt: skip

    def quickstart() -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["bash", "scripts/quickstart.sh"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    first, second = quickstart(), quickstart()

    assert "synthesizing" in first.stdout and "synthesizing" not in second.stdout
    made = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert made == ["outputs", "outputs/sample clip.720p.mp4", "sample clip.mov"]
    assert list(scratch.iterdir()) == []
    assert f"the output is in {folder / 'outputs'}" in second.stdout
    assert f"the command is {bin_dir}/mediaforge" in second.stdout
