"""Keeping notification targets' secrets out of the log lines of chatty libraries.

``load_targets`` hands every secret it finds to ``_REDACTOR``, a log filter on
Apprise's and urllib3's loggers; sending and delivery scrub failure reasons with it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from mediaforge.redact import redact_text, redact_url

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")

# Loggers that may print a target's URL or its parts while sending.
_CHATTY_LOGGERS = ("apprise", "urllib3.connectionpool")


class _Redactor(logging.Filter):
    """Scrubs every known target secret from log records of chatty libraries."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self._installed = False

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets.update(s for s in secrets if s)
        if not self._installed:
            self._installed = True
            for name in _CHATTY_LOGGERS:
                logging.getLogger(name).addFilter(self)

    def scrub(self, text: str) -> str:
        """``text`` without known secrets, and with every URL in it redacted
        (Apprise's own masking keeps a password's first and last characters)."""
        text = redact_text(text, self.secrets)
        return _URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            # Tracebacks quote URLs too; flatten them into the scrubbed message.
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = self.scrub(message), ()
        return True


_REDACTOR = _Redactor()
