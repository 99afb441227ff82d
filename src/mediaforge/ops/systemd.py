"""systemd units for the worker, the watcher and the web door, written for this installation.

The units ship in the package (``data/systemd/{system,user}/``; the
repository's ``systemd/`` folder is a link to them) and work as they are for
a mediaforge at ``/usr/local/bin`` (system) or ``~/.local/bin`` (user, pipx's
default). :func:`render_units` adapts three lines to this machine: ExecStart
(the ``mediaforge`` running now, a pipx venv included), ReadWritePaths (the
folders the configuration names) and the worker's TimeoutStopSec (longer than
``worker.shutdown_grace``, so a stop can hand running jobs back).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mediaforge.config.discovery import SYSTEM_CONFIG
from mediaforge.config.schema import Config
from mediaforge.errors import EnvironmentProblem, StorageError

UNIT_NAMES = ("mediaforge-worker.service", "mediaforge-watch.service", "mediaforge-serve.service")
# Enabled by the steps printed after install; the web door is a choice.
ALWAYS_ON = UNIT_NAMES[:2]
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
# What a stop needs beyond shutdown_grace: handing jobs back, joining threads.
STOP_MARGIN = 30


@dataclass(frozen=True)
class Unit:
    """One unit file: its name and text."""

    name: str
    text: str


@dataclass(frozen=True)
class Installed:
    """What :func:`install_units` did (or, with ``dry_run``, would do)."""

    units: dict[Path, Unit]
    next_steps: list[str]
    warnings: list[str] = field(default_factory=list)


def template(name: str, *, user: bool) -> str:
    """The shipped unit ``name`` (system or user variant), unchanged."""
    variant = "user" if user else "system"
    return (
        resources.files("mediaforge")
        .joinpath(f"data/systemd/{variant}/{name}")
        .read_text(encoding="utf-8")
    )


def find_executable(argv0: str | None = None) -> Path:
    """The ``mediaforge`` program of this installation, as an absolute path.

    ``sys.argv[0]`` when it is the ``mediaforge`` script (symlinks resolved, so
    a pipx install points into its venv), else the script beside this
    Python (a venv's ``bin``), else the first ``mediaforge`` on PATH.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    candidates = []
    if Path(argv0).name == "mediaforge":
        candidates.append(Path(argv0).resolve())
    # sys.executable is not resolved: in a venv it is a symlink to the base Python.
    candidates.append(Path(sys.executable).parent / "mediaforge")
    on_path = shutil.which("mediaforge")
    if on_path:
        candidates.append(Path(on_path).resolve())
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path.absolute()
    raise EnvironmentProblem(
        "cannot find the mediaforge program of this installation; run "
        "'mediaforge systemd install' as the installed mediaforge command"
    )


def _quote(word: str) -> str:
    """``word`` as one word of a unit setting (``%`` is a specifier there)."""
    text = word.replace("\\", "\\\\").replace("%", "%%")
    return f'"{text}"' if any(c.isspace() or c in "\"'" for c in text) else text


def writable_paths(config: Config, *, user: bool) -> list[Path]:
    """The folders mediaforge writes to, as the configuration names them.

    The data folder (user units; system units set their own with
    StateDirectory), database and queue files, the log file's folder, the
    output folder, the download folder of s3:// inputs, and every watched
    folder with its output, done and failed folders. A folder inside another
    listed one is left out.
    """
    paths = [config.data_dir] if user else []
    if config.database.url and config.database.url.startswith("sqlite:"):
        paths.append(Path(config.database.url.removeprefix("sqlite:").removeprefix("//")).parent)
    if config.queue.backend == "sqlite" and config.queue.url:
        paths.append(Path(config.queue.url.removeprefix("sqlite://")).parent)
    if config.log.file is not None:
        paths.append(config.log.file.parent)
    if config.output.dir is not None:
        paths.append(config.output.dir)
    if config.s3.download_dir is not None:
        paths.append(config.s3.download_dir)
    if config.serve.inbox is not None:
        paths.append(config.serve.inbox)
    for rule in config.watch:
        paths += [p for p in (rule.path, rule.output_dir, rule.done_dir, rule.failed_dir) if p]
    unique = sorted({Path(os.path.normpath(p)) for p in paths if p.is_absolute()})
    return [p for p in unique if not any(o != p and p.is_relative_to(o) for o in unique)]


def _set(text: str, key: str, value: str) -> str:
    """``text`` with the value of every ``key=`` line replaced by ``value``."""
    line = re.compile(rf"^{re.escape(key)}=.*$", re.MULTILINE)
    if not line.search(text):
        raise ValueError(f"unit template has no {key}= line")
    return line.sub(lambda _: f"{key}={value}", text)


def render_units(config: Config, *, user: bool, executable: Path) -> list[Unit]:
    """The worker, watch and serve units for this machine (see the module docstring)."""
    folders = writable_paths(config, user=user)
    # A config file the service would not find by itself is named explicitly.
    own_config = Path("~/.config/mediaforge/config.yaml").expanduser() if user else SYSTEM_CONFIG
    units = []
    for name in UNIT_NAMES:
        text = template(name, user=user)
        command = name.removeprefix("mediaforge-").removesuffix(".service")
        exec_start = f"{_quote(str(executable))} {command}"
        if config.source is not None and config.source != own_config:
            exec_start += "\nEnvironment=" + _quote(f"MEDIAFORGE_CONFIG={config.source}")
        text = _set(text, "ExecStart", exec_start)
        if folders:
            text = _set(text, "ReadWritePaths", " ".join(_quote(f"-{p}") for p in folders))
        if command == "worker":
            stop = max(60, math.ceil(config.worker.shutdown_grace) + STOP_MARGIN)
            text = _set(text, "TimeoutStopSec", str(stop))
        units.append(Unit(name, text))
    return units


def unit_dir(*, user: bool, env: Mapping[str, str] | None = None) -> Path:
    """Where systemd looks for units: ``/etc/systemd/system``, or for ``user``
    ``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``)."""
    if not user:
        return SYSTEM_UNIT_DIR
    env = os.environ if env is None else env
    config_home = env.get("XDG_CONFIG_HOME", "")
    if not Path(config_home).is_absolute():
        config_home = str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(config_home) / "systemd" / "user"


def _warnings(executable: Path, *, user: bool) -> Iterator[str]:
    in_home = executable.is_relative_to("/root") or executable.is_relative_to("/home")
    if not user and in_home:
        yield (
            f"{executable} is in a home folder, which the 'mediaforge' service user "
            "usually cannot read; install mediaforge with 'sudo pipx install --global' "
            "(pipx >= 1.5, into /usr/local/bin) or into a venv under /opt, and run this again"
        )


def install_units(
    config: Config,
    *,
    user: bool,
    dest: Path | None = None,
    dry_run: bool = False,
    executable: Path | None = None,
) -> Installed:
    """Write the worker, watch and serve units into ``dest`` (default :func:`unit_dir`).

    Existing files of the same name are replaced (that is how an upgrade
    refreshes them). With ``dry_run`` nothing is written.
    """
    executable = executable or find_executable()
    folder = dest or unit_dir(user=user)
    units = {folder / unit.name: unit for unit in render_units(config, user=user,
                                                                 executable=executable)}
    if not dry_run:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if user:
                # ReadWritePaths skips folders that do not exist yet ("-"), and a
                # read-only data folder could not be created by the service.
                config.data_dir.mkdir(parents=True, exist_ok=True)
            for path, unit in units.items():
                path.write_text(unit.text, encoding="utf-8")
        except OSError as exc:
            raise StorageError(
                f"cannot write the units into {folder}: {exc.strerror}"
                + ("; run it with sudo, or use --user" if not user else "")
            ) from None
    systemctl = "systemctl --user" if user else "sudo systemctl"
    names = " ".join(ALWAYS_ON)
    steps = [
        f"{systemctl} daemon-reload",
        f"{systemctl} enable --now {names}",
        f"{systemctl} enable --now mediaforge-serve.service   # the web door: docs/web.md",
    ]
    if user:
        steps.append("loginctl enable-linger $USER   # keep them running after you log out")
    else:
        steps.insert(0, "sudo useradd --system --home-dir /var/lib/mediaforge "
                        "--shell /usr/sbin/nologin mediaforge   # once")
    journal = "journalctl --user" if user else "journalctl"
    steps.append(f"{journal} -u mediaforge-worker -u mediaforge-watch -f   # follow the logs")
    return Installed(units, steps, list(_warnings(executable, user=user)))
