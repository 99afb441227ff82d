"""A configured hook made ready to run: its token found, its secrets known,
and the job's paths as the hook's side sees them; and what one run gave."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

from mediaforge.config.schema import HookConfig
from mediaforge.errors import HookError
from mediaforge.jobs.model import Job
from mediaforge.redact import scrub_text, url_secrets
from mediaforge.storage.paths import PathMap


@dataclass(frozen=True)
class Outcome:
    """One run of one hook. ``result`` is one line (an HTTP status, an exit
    code), ``output`` a command's last lines; both redacted by ``Hook.scrub``.
    ``gone``: the job no longer exists, so a retry cannot help."""

    ok: bool
    result: str
    output: str | None = None
    gone: bool = False


CLOUD_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
"""The environment variables holding S3 secrets (boto3 reads them): never
given to a command hook, and masked in everything a hook records."""


@dataclass(frozen=True)
class Hook:
    """A hook from the config, with its token resolved (never shown).
    ``shared_secrets``: the other hooks' secrets and mediaforge's own, masked
    in this hook's records too; ``hidden_variables``: the environment variables
    holding them, kept from a command hook."""

    config: HookConfig
    token: str | None
    shared_secrets: tuple[str, ...] = ()
    hidden_variables: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        assert self.config.name is not None  # the config validator requires it
        return self.config.name

    @property
    def secrets(self) -> list[str]:
        """Everything that must not reach a log, a row or a terminal."""
        found = [self.token] if self.token else []
        found.extend(_own_secrets(self.config))
        found.extend(self.shared_secrets)
        return found

    def scrub(self, text: str) -> str:
        """``text`` with every secret this hook knows of masked, and the
        passwords and tokens of any URL in it."""
        return scrub_text(text, self.secrets)

    def server_path(self, canonical: str) -> str:
        """Where the media server sees the canonical ``path`` (``server_paths``)."""
        return PathMap(self.config.server_paths).to_local(canonical)


def _own_secrets(config: HookConfig) -> list[str]:
    """What a hook's config holds that must stay hidden: header values, the
    URL's password (and its Basic credentials as sent) and secret parameters."""
    found = [value for value in config.headers.values() if value]
    if config.url:
        found.extend(url_secrets(config.url))
        basic = basic_auth(config.url)[1]
        if basic is not None:
            found.append(basic)
    return found


def basic_auth(url: str) -> tuple[str, str | None]:
    """``url`` without its ``user:password@`` part, and the ``Authorization``
    header value that carries them instead (None when the URL has none):
    urllib would take them for part of the host name."""
    split = urlsplit(url)
    if "@" not in split.netloc:
        return url, None
    userinfo, _, host = split.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    header = "Basic " + base64.b64encode(pair).decode("ascii")
    return urlunsplit(split._replace(netloc=host)), header


def resolve(
    config: HookConfig,
    environ: Mapping[str, str] | None = None,
    every: Sequence[HookConfig] = (),
) -> Hook:
    """``config`` made ready to run, knowing the secrets of ``every`` hook
    configured and mediaforge's own S3 secrets. Raises HookError when
    ``token_env`` names a variable that is not set."""
    env = os.environ if environ is None else environ
    hidden = set(CLOUD_SECRET_VARIABLES)
    shared: list[str] = []
    for other in every:
        shared.extend(_own_secrets(other))
        if other.token:
            shared.append(other.token)
        if other.token_env is not None and other.name != config.name:
            hidden.add(other.token_env)
    tokens = {other.token_env for other in every if other.token_env is not None}
    shared.extend(env[name] for name in sorted(hidden | tokens) if env.get(name))
    token = config.token
    if config.token_env is not None:
        token = env.get(config.token_env) or None
        if token is None:
            raise HookError(
                f"hooks.{config.name}.token_env: the environment variable {config.token_env} "
                "is not set; set it for the worker (e.g. in its systemd unit)"
            )
    return Hook(config, token, tuple(shared), frozenset(hidden))


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
