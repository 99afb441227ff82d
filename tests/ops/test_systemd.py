"""systemd units: the shipped templates, what `systemd install` writes, and
`systemd-analyze verify` on the result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaforge.ops.systemd import (
    UNIT_NAMES,
    find_executable,
    install_units,
    render_units,
    template,
    writable_paths,
)
from tests.mfcli import REPO, Mediaforge

PACKAGED = REPO / "src/mediaforge/data/systemd"
VARIANTS = ["system", "user"]


def settings(unit_text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit (comments skipped), values in order."""
    found: dict[str, list[str]] = {}
    for line in unit_text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture(scope="module")
def systemd_analyze() -> Iterator[str]:
    program = shutil.which("systemd-analyze")
    if program is None:
        pytest.skip("systemd-analyze is not installed (apt install systemd)")
    yield program


def verify(program: str, unit_dir: Path, *, user: bool, tmp_path: Path) -> str:
    """Run ``systemd-analyze verify`` on every unit in ``unit_dir``; returns its output."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True, mode=0o700)
    # A user manager needs a runtime folder; verify needs no running systemd.
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"}
    command = [program, *(["--user"] if user else []), "verify",
               *(str(unit_dir / name) for name in UNIT_NAMES)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0 and "Failed to initialize manager" in output:
        pytest.skip(f"systemd-analyze cannot run in this container: {output.strip()}")
    assert done.returncode == 0, output
    return output


# -- the shipped templates ------------------------------------------------------------------


def test_the_repository_systemd_folder_is_a_link_to_the_packaged_units() -> None:
    link = REPO / "systemd"

    assert link.is_symlink() and os.readlink(link) == "src/mediaforge/data/systemd"
    for variant in VARIANTS:
        for name in UNIT_NAMES:
            shipped = template(name, user=variant == "user")
            assert (link / variant / name).read_text(encoding="utf-8") == shipped


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_every_unit_stops_gently_restarts_on_failure_and_is_hardened(
    variant: str, name: str
) -> None:
    unit = settings(template(name, user=variant == "user"))

    assert unit["KillMode"] == ["mixed"]  # SIGTERM to mediaforge alone, not to its ffmpeg
    assert unit["Restart"] == ["on-failure"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["PrivateTmp"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"]
    assert unit["EnvironmentFile"][0].startswith("-")  # optional
    assert unit["ExecStart"][0].endswith("/mediaforge " + name.split("-")[1].split(".")[0])
    assert int(unit["TimeoutStopSec"][0]) >= 30
    if variant == "system":
        assert unit["EnvironmentFile"] == ["-/etc/mediaforge/env"]
        assert unit["User"] == ["mediaforge"] and unit["StateDirectory"] == ["mediaforge"]
        assert unit["WantedBy"] == ["multi-user.target"]
    else:
        assert "User" not in unit and unit["WantedBy"] == ["default.target"]


# -- rendering for this machine ---------------------------------------------------------------


@pytest.mark.parametrize("grace", [10, 100, 3600])
def test_the_worker_stop_timeout_outlasts_the_shutdown_grace(mf: Mediaforge, grace: int) -> None:
    mf.configure(worker={"shutdown_grace": grace})
    config = mf.load_config()

    units = render_units(config, user=False, executable=Path("/opt/mf/bin/mediaforge"))

    worker = settings(units[0].text)
    assert units[0].name == "mediaforge-worker.service"
    assert int(worker["TimeoutStopSec"][0]) >= grace + 30


def test_read_write_paths_are_the_folders_the_config_names(mf: Mediaforge) -> None:
    mf.configure(
        "output: {dir: /srv/out}\n"
        "log: {file: /var/log/mf/mf.log}\n"
        "watch:\n"
        "  - {path: /srv/in, presets: [x], output_dir: /srv/in/output, done_dir: /srv/done}\n"
        "  - {path: /mnt/nas share/in, presets: [x]}\n",
    )
    config = mf.load_config()

    assert writable_paths(config, user=True) == [
        Path("/mnt/nas share/in"), Path("/srv/done"), Path("/srv/in"), Path("/srv/out"),
        mf.data, Path("/var/log/mf"),
    ]
    user = settings(render_units(config, user=True, executable=Path("/x/mediaforge"))[1].text)
    assert user["ReadWritePaths"] == [
        f'"-/mnt/nas share/in" -/srv/done -/srv/in -/srv/out -{mf.data} -/var/log/mf'
    ]
    # System units keep their data in /var/lib/mediaforge (StateDirectory=).
    system = settings(render_units(config, user=False, executable=Path("/x/mediaforge"))[1].text)
    assert str(mf.data) not in system["ReadWritePaths"][0]


def test_the_serve_unit_may_write_the_upload_inbox(mf: Mediaforge, tmp_path: Path) -> None:
    mf.configure(serve={"inbox": str(tmp_path / "uploads")})
    units = render_units(mf.load_config(), user=False, executable=Path("/x/mediaforge"))
    serve = settings(next(u for u in units if u.name == "mediaforge-serve.service").text)

    assert serve["ExecStart"][0].startswith("/x/mediaforge serve")
    assert f"-{tmp_path / 'uploads'}" in serve["ReadWritePaths"][0].split()


def test_a_config_file_the_service_would_not_find_is_named_in_the_units(mf: Mediaforge) -> None:
    worker, *_ = render_units(mf.load_config(), user=True, executable=Path("/x/mediaforge"))

    assert settings(worker.text)["Environment"] == [f"MEDIAFORGE_CONFIG={mf.config}"]


def test_the_executable_is_this_installation_s_mediaforge(tmp_path: Path) -> None:
    venv_script = Path(sys.executable).parent / "mediaforge"
    link = tmp_path / "bin" / "mediaforge"  # as pipx links ~/.local/bin/mediaforge
    link.parent.mkdir()
    link.symlink_to(venv_script)

    assert find_executable(str(link)) == venv_script.resolve()
    assert find_executable("/usr/bin/python3") == venv_script  # run as python -m mediaforge


# -- install and verify --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_installed_units_pass_systemd_analyze_verify(
    mf: Mediaforge, tmp_path: Path, systemd_analyze: str, variant: str
) -> None:
    mf.configure("watch:\n  - {path: /srv/media/in, presets: [x]}\n")
    config = mf.load_config()
    dest = tmp_path / "units"

    installed = install_units(config, user=variant == "user", dest=dest)

    assert sorted(p.name for p in dest.iterdir()) == sorted(UNIT_NAMES)
    for path, unit in installed.units.items():
        assert path.read_text(encoding="utf-8") == unit.text
        assert f"ExecStart={find_executable()} " in unit.text
    output = verify(systemd_analyze, dest, user=variant == "user", tmp_path=tmp_path)
    assert "mediaforge" not in output  # no warning about our units at all


def test_verify_catches_a_unit_whose_program_does_not_exist(
    mf: Mediaforge, tmp_path: Path, systemd_analyze: str
) -> None:
    # Proves the check above can fail: a template as shipped points at /usr/local/bin.
    config = mf.load_config()
    dest = tmp_path / "units"
    install_units(config, user=False, dest=dest, executable=tmp_path / "missing" / "mediaforge")
    for path in dest.iterdir():
        path.write_text(path.read_text().replace(str(tmp_path / "missing"), "/nonexistent"))

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    done = subprocess.run([systemd_analyze, "verify", *map(str, dest.iterdir())],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})

    assert done.returncode != 0
    assert "/nonexistent/mediaforge is not executable" in done.stderr


def test_the_command_writes_user_units_and_says_how_to_enable_them(
    mf: Mediaforge, tmp_path: Path
) -> None:
    dest = tmp_path / "units"

    done = mf("systemd", "install", "--user", "--dest", dest)

    assert done.code == 0, done.err
    assert f"wrote {dest}/mediaforge-worker.service" in done.out
    assert "systemctl --user daemon-reload" in done.out
    assert "systemctl --user enable --now mediaforge-worker.service mediaforge-watch.service" \
        in done.out
    assert "journalctl --user -u mediaforge-worker -u mediaforge-watch" in done.out
    # The web door is written too, and enabled only by choice.
    assert (dest / "mediaforge-serve.service").is_file()
    assert "systemctl --user enable --now mediaforge-serve.service" in done.out
    assert mf.data.is_dir()  # ReadWritePaths needs it to exist


def test_a_dry_run_prints_the_units_and_writes_nothing(mf: Mediaforge, tmp_path: Path) -> None:
    dest = tmp_path / "units"

    done = mf("systemd", "install", "--dest", dest, "--dry-run")

    assert done.code == 0, done.err
    assert not dest.exists()
    assert f"# {dest}/mediaforge-watch.service" in done.out
    assert "KillMode=mixed" in done.out and "sudo systemctl daemon-reload" in done.out


def test_a_unit_folder_that_cannot_be_written_is_a_clear_error(
    mf: Mediaforge, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("in the way", encoding="utf-8")

    done = mf("systemd", "install", "--dest", tmp_path / "file" / "units")

    assert done.code == 1
    assert "Error: cannot write the units into" in done.err and "Traceback" not in done.err
