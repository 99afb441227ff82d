"""Sending one message to one target through Apprise, within a timeout.

A send never raises for a delivery problem: the outcome is a ``Delivery``
whose reason is Apprise's last warning (or ours), one line, redacted.
"""

from __future__ import annotations

import inspect
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mediaforge.config.schema import Config, NotifyConfig
from mediaforge.errors import NotifyError
from mediaforge.notify.messages import Message
from mediaforge.notify.redactor import _REDACTOR
from mediaforge.notify.targets import Target, _apprise, load_targets
from mediaforge.redact import redact_text


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one message to one target (``reason`` is redacted)."""

    target: str
    ok: bool
    reason: str | None = None


class _Capture(logging.Handler):
    """Collects Apprise's warnings during one send: the reason it failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# One send at a time per process, so a capture holds one target's lines only.
_SEND_LOCK = threading.Lock()


@contextmanager
def _captured() -> Iterator[_Capture]:
    capture = _Capture()
    logger = logging.getLogger("apprise")
    with _SEND_LOCK:
        level = logger.level
        if logger.getEffectiveLevel() > logging.WARNING:
            logger.setLevel(logging.WARNING)  # with log.level: error, reasons still arrive
        logger.addHandler(capture)
        try:
            yield capture
        finally:
            logger.removeHandler(capture)
            logger.setLevel(level)


def send(target: Target, message: Message, settings: NotifyConfig) -> Delivery:
    """Send ``message`` to ``target`` within ``settings.timeout``; never raises
    for a delivery problem (the reason is in the result, redacted)."""
    apprise = _apprise()
    asset = apprise.AppriseAsset(
        app_id="mediaforge", app_desc="mediaforge media transcoding", async_mode=False
    )
    with _captured() as capture:
        service = target.service
        if service is None:
            service = apprise.Apprise.instantiate(target.url, asset=asset)
        if service is None:
            reason = "Apprise does not understand this URL; see docs/notifications.md"
            return Delivery(target.label, False, _reason(capture, reason, target))
        # Each request's connect and read timeouts; Apprise 1.x has no call timeout.
        service.socket_connect_timeout = settings.timeout
        service.socket_read_timeout = settings.timeout
        sender = apprise.Apprise(asset=asset)
        sender.add(service)
        kwargs: dict[str, Any] = {
            "title": message.title,
            "notify_type": message.kind,
            "body_format": settings.format,
        }
        if _notify_takes_timeout(apprise):
            kwargs["timeout"] = settings.timeout
        try:
            ok = bool(sender.notify(message.body, **kwargs))
        except Exception as e:  # a plugin's bug must become a recorded failure, not a crash
            return Delivery(
                target.label, False, _reason(capture, f"{type(e).__name__}: {e}", target)
            )
    if ok:
        return Delivery(target.label, True)
    return Delivery(
        target.label, False, _reason(capture, "the service refused the message", target)
    )


def _notify_takes_timeout(apprise: Any) -> bool:
    return "timeout" in inspect.signature(apprise.Apprise.notify).parameters


def _reason(capture: _Capture, fallback: str, target: Target) -> str:
    text = capture.messages[-1] if capture.messages else fallback
    text = " ".join(text.split()).rstrip(".")  # one line, ready for "...; next attempt"
    return _REDACTOR.scrub(redact_text(text, target.secrets))


def send_test(config: Config, tag: str | None = None) -> list[Delivery]:
    """``mediaforge notify test``: a test message to every target (with ``tag``: its targets)."""
    targets = load_targets(config.notify)
    if not targets:
        raise NotifyError(
            "no notification targets are configured; add notify.targets (see docs/notifications.md)"
        )
    if tag is not None:
        chosen = [t for t in targets if tag in t.tags]
        if not chosen:
            known = sorted({t for target in targets for t in target.tags})
            hint = f"the tags in use are: {', '.join(known)}" if known else "no target has tags"
            raise NotifyError(f"no notification target has the tag {tag!r}; {hint}")
        targets = chosen
    host = socket.gethostname()
    results = []
    for target in targets:
        message = Message(
            "mediaforge: test notification",
            f"This is a test message from mediaforge on {host} to **{target.label}**. "
            "If you can read it, this target works.",
            "info",
        )
        results.append(send(target, message, config.notify))
    return results
