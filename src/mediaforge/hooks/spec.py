"""A configured hook made ready to run: its token found, its secrets known,
and the job's paths as the hook's side sees them; and what one run gave."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from mediaforge.config.schema import HookConfig
from mediaforge.errors import HookError
from mediaforge.jobs.model import Job
from mediaforge.redact import redact_text, url_secrets
from mediaforge.storage.paths import PathMap


@dataclass(frozen=True)
class Outcome:
    """One run of one hook. ``result`` is one line (an HTTP status, an exit
    code), ``output`` a command's last lines; both redacted by ``Hook.scrub``."""

    ok: bool
    result: str
    output: str | None = None


@dataclass(frozen=True)
class Hook:
    """A hook from the config, with its token resolved (never shown)."""

    config: HookConfig
    token: str | None

    @property
    def name(self) -> str:
        assert self.config.name is not None  # the config validator requires it
        return self.config.name

    @property
    def secrets(self) -> list[str]:
        """Everything that must not reach a log, a row or a terminal."""
        found = [self.token] if self.token else []
        found.extend(value for value in self.config.headers.values() if value)
        if self.config.url:
            found.extend(url_secrets(self.config.url))
        return found

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this hook masked."""
        return redact_text(text, self.secrets)

    def server_path(self, canonical: str) -> str:
        """Where the media server sees the canonical ``path`` (``server_paths``)."""
        return PathMap(self.config.server_paths).to_local(canonical)


def resolve(config: HookConfig, environ: Mapping[str, str] | None = None) -> Hook:
    """``config`` made ready to run. Raises HookError when ``token_env`` names
    a variable that is not set."""
    env = os.environ if environ is None else environ
    token = config.token
    if config.token_env is not None:
        token = env.get(config.token_env) or None
        if token is None:
            raise HookError(
                f"hooks.{config.name}.token_env: the environment variable {config.token_env} "
                "is not set; set it for the worker (e.g. in its systemd unit)"
            )
    return Hook(config, token)


def output_folders(paths: list[str]) -> list[str]:
    """The folders holding ``paths``, each once, in order (what a library scan needs)."""
    folders: list[str] = []
    for path in paths:
        folder = str(PurePosixPath(path).parent)
        if folder not in folders:
            folders.append(folder)
    return folders


def wanted(config: HookConfig, job: Job, event: str) -> bool:
    """Whether hook ``config`` runs for ``job`` ending with ``event``."""
    if event not in {e.value for e in config.events}:
        return False
    return not config.presets or job.preset in config.presets


def readiness_problems(
    configs: Sequence[HookConfig], environ: Mapping[str, str] | None = None
) -> list[str]:
    """What keeps hooks from running on this host (``mediaforge doctor``): a
    token variable that is not set, a command's program that is not found."""
    env = os.environ if environ is None else environ
    problems = []
    for config in configs:
        name = config.name
        if config.token_env is not None and not env.get(config.token_env):
            problems.append(f"{name}: the environment variable {config.token_env} is not set")
        if config.command and shutil.which(config.command[0], path=env.get("PATH")) is None:
            problems.append(f"{name}: the program {config.command[0]} is not found or not runnable")
    return problems
