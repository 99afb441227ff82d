"""Where the configuration file is found and how it is loaded.

``load_config`` finds the YAML file (``find_config_file``), checks it against
the ``Config`` dataclass tree and returns one frozen ``Config``. Precedence:
``--config`` > environment (``MEDIAFORGE_CONFIG``, ``MEDIAFORGE_DATA_DIR``) >
file > built-in defaults. Every setting is documented in
``data/config.example.yaml`` (also the repository's ``config.example.yaml``)
and ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from mediaforge.config.reader import _resolve_path, parse_dataclass
from mediaforge.config.schema import Config
from mediaforge.errors import ConfigError

# -- finding the file ---------------------------------------------------------

SYSTEM_CONFIG = Path("/etc/mediaforge/config.yaml")


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    # The XDG spec says relative values are invalid and must be ignored.
    value = env.get(variable)
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(env) / fallback


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The built-in data folder: ``$XDG_DATA_HOME/mediaforge`` (``~/.local/share/mediaforge``)."""
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "mediaforge"


def candidate_config_files(env: Mapping[str, str]) -> list[Path]:
    """Where to look, in order, when neither ``--config`` nor ``$MEDIAFORGE_CONFIG`` is given."""
    return [
        Path.cwd() / "mediaforge.yaml",
        _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "mediaforge" / "config.yaml",
        SYSTEM_CONFIG,
    ]


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The configuration file to use, or None to run on built-in defaults.

    Order: ``explicit`` (``--config``), ``$MEDIAFORGE_CONFIG``, then
    ``candidate_config_files``. A file named explicitly or by the environment
    must exist; the others are skipped when absent. Returns an absolute path.
    """
    named: list[tuple[str, str]] = []
    if explicit is not None:
        named.append((str(explicit), "given with --config"))
    if env.get("MEDIAFORGE_CONFIG"):
        named.append((env["MEDIAFORGE_CONFIG"], "named by $MEDIAFORGE_CONFIG"))
    if named:
        text, origin = named[0]
        path = _resolve_path(text, Path.cwd(), _home(env))
        if path.is_dir():
            raise ConfigError(
                f"config file {path} ({origin}) is a folder; name a YAML file inside it"
            )
        if not path.is_file():
            raise ConfigError(
                f"config file {path} ({origin}) does not exist; fix the path, "
                f"or create it with 'mediaforge config init {path}'"
            )
        return path
    for path in candidate_config_files(env):
        if path.is_file():
            return path
    return None


# -- loading ------------------------------------------------------------------


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate the configuration (``env`` defaults to ``os.environ``).

    Raises ConfigError listing every invalid field, with file and line.
    """
    env = os.environ if env is None else env
    home = _home(env)
    path = find_config_file(explicit, env)
    if path is None:
        config = Config(source=None, data_dir=default_data_dir(env))
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
        config = parse_dataclass(
            Config,
            text,
            path,
            home=home,
            supplied={"source": path, "data_dir": default_data_dir(env)},
        )
    data_dir = env.get("MEDIAFORGE_DATA_DIR")
    if data_dir:
        try:
            resolved = _resolve_path(data_dir, Path.cwd(), home)
        except RuntimeError as e:
            raise ConfigError(f"$MEDIAFORGE_DATA_DIR: {e}") from None
        config = dataclasses.replace(config, data_dir=resolved)
    return config
