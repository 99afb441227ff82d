"""Notification targets: where messages go, what each wants, and how it is named.

Targets come from ``notify.targets`` and from the services of an Apprise
configuration file. Apprise is imported here, by ``_apprise``, only when
something is sent or such a file is read: never at module import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaforge.config.schema import NotifyConfig
from mediaforge.errors import NotifyError
from mediaforge.events import Event
from mediaforge.notify.redactor import _REDACTOR
from mediaforge.redact import redact_url, url_secrets

_EVENT_NAMES = frozenset(event.value for event in Event)


@dataclass(frozen=True)
class Target:
    """One place messages go. ``label`` is how it is shown and stored: no secrets."""

    label: str
    tags: frozenset[str]
    events: frozenset[Event]
    secrets: tuple[str, ...]
    url: str | None = None  # from notify.targets
    service: Any = None  # an Apprise service loaded from notify.apprise_config


def target_label(url: str) -> str:
    """``scheme://host[:port]`` of an Apprise URL, with any token in the host masked."""
    redacted = redact_url(url)
    scheme, _, rest = redacted.partition("://")
    authority = rest
    for stop in "/?#":
        authority = authority.split(stop, 1)[0]
    host = authority.rpartition("@")[2]
    return f"{scheme.lower()}://{host}" if host else f"{scheme.lower()}://"


def load_targets(config: NotifyConfig) -> list[Target]:
    """Every configured target: ``notify.targets``, then the services of
    ``notify.apprise_config`` (whose tags that are event names choose their events).

    Labels are made unique by a ``#2``, ``#3`` suffix. Raises NotifyError when
    the Apprise configuration file cannot be read.
    """
    default_events = frozenset(config.events)
    found: list[tuple[str, Target]] = []
    for item in config.targets:
        assert item.url is not None  # the config validator requires it
        found.append(
            (
                item.name or target_label(item.url),
                Target(
                    label="",
                    tags=frozenset(item.tags),
                    events=frozenset(item.events) if item.events is not None else default_events,
                    secrets=tuple(url_secrets(item.url)),
                    url=item.url,
                ),
            )
        )
    if config.apprise_config is not None:
        for service in _apprise_config_services(config.apprise_config):
            tags = frozenset(str(tag) for tag in getattr(service, "tags", ()))
            named = frozenset(Event(tag) for tag in tags if tag in _EVENT_NAMES)
            full_url = str(service.url(privacy=False))
            found.append(
                (
                    target_label(str(service.url(privacy=True))),
                    Target(
                        label="",
                        tags=tags,
                        events=named or default_events,
                        secrets=tuple(url_secrets(full_url)),
                        service=service,
                    ),
                )
            )
    targets: list[Target] = []
    seen: dict[str, int] = {}
    for label, target in found:
        seen[label] = seen.get(label, 0) + 1
        unique = label if seen[label] == 1 else f"{label} #{seen[label]}"
        targets.append(dataclasses.replace(target, label=unique))
    _REDACTOR.add(secret for target in targets for secret in target.secrets)
    return targets


def _apprise_config_services(path: Path) -> list[Any]:
    apprise = _apprise()
    if not path.is_file():
        raise NotifyError(
            f"notify.apprise_config: {path} does not exist; fix the path or remove the setting"
        )
    config = apprise.AppriseConfig()
    if not config.add(str(path)):
        raise NotifyError(f"notify.apprise_config: Apprise cannot read {path}")
    services = config.services() if hasattr(config, "services") else config.servers()
    return list(services)


def _apprise() -> Any:
    """The apprise module, imported on first use (it is slow to import)."""
    import apprise

    return apprise
