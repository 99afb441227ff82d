"""Hide secrets in URLs and text before they reach logs, job records or a terminal.

``redact_url`` applies a small, fixed set of rules, and nothing else:

1. **Passwords in the authority**: ``scheme://user:pass@host`` becomes
   ``scheme://user:***@host`` (``redis://:pass@host`` becomes ``redis://:***@host``).
   A password that was not percent-encoded and holds a ``/``, ``?`` or ``#`` is
   still found, as long as the URL has a ``user:pass@`` shape.
2. **Secret-looking parameters** in the query string or the fragment: the value
   of any parameter whose name contains ``token``, ``secret``, ``passw``,
   ``key``, ``signature`` or ``credential``, or is one of ``pass``, ``pwd``,
   ``pw``, ``sig``, ``auth``, ``authorization``, ``sas``, ``session``, ``jwt``
   (case-insensitive, ``-`` read as ``_``) becomes ``***``.
3. **Token schemes**: Apprise services whose URL *is* the secret
   (``slack://TokenA/TokenB/TokenC``, ``discord://id/token``, ``tgram://bot/chat``,
   see ``TOKEN_SCHEMES``): the user name, the host and every path segment are
   masked.
4. **Known webhook hosts** (``hooks.slack.com``, ``discord.com``, Office 365
   and Telegram, see ``WEBHOOK_HOSTS``): the path segments after the fixed
   prefix of the service are masked.

Masking keeps the first 4 characters of a token longer than 8 characters
(``T1JJ***``), so two tokens can still be told apart, and replaces shorter
ones by ``***`` entirely. Anything else is returned unchanged, character for
character. A secret these rules cannot recognise (a password in an arbitrary
path segment) needs ``redact_text`` with the secret itself; ``url_secrets``
lists what the rules found in a URL so callers can scrub other text (an error
message that quotes part of the URL) with ``redact_text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"

TOKEN_SCHEMES = frozenset(
    {
        "discord",
        "gotify",
        "gotifys",
        "ifttt",
        "join",
        "mmost",
        "mmosts",
        "msteams",
        "ntfy",
        "ntfys",
        "pbul",
        "pover",
        "prowl",
        "pushed",
        "rocket",
        "rockets",
        "slack",
        "tgram",
        "workflows",
        "zulip",
    }
)
"""Apprise schemes whose host and path are tokens, not names."""

WEBHOOK_HOSTS: dict[str, int] = {
    "hooks.slack.com": 1,  # /services/T…/B…/X…
    "discord.com": 2,  # /api/webhooks/ID/TOKEN
    "discordapp.com": 2,
    "webhook.office.com": 1,  # <tenant>.webhook.office.com/webhookb2/…
    "outlook.office.com": 1,  # /webhook/…
    "api.telegram.org": 0,  # /bot<TOKEN>/sendMessage
}
"""Hosts whose webhook URLs carry the secret in the path, with how many leading
path segments are fixed names to keep. A host also matches its subdomains."""

_SECRET_NAME_PARTS = ("token", "secret", "passw", "key", "signature", "credential")
_SECRET_NAMES = frozenset(
    {"pass", "pwd", "pw", "sig", "auth", "authorization", "sas", "session", "jwt"}
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def redact_url(url: str) -> str:
    """Return ``url`` with its secrets replaced by ``***`` (rules in the module docstring).

    Strings that are not ``scheme://`` URLs (plain paths, program names) come
    back unchanged, so this is safe to apply to any setting.
    """
    return _Redaction(url).text


def url_secrets(url: str) -> list[str]:
    """The secret parts ``redact_url`` hides in ``url``, for use with ``redact_text``."""
    return _Redaction(url).secrets


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***``.

    Each secret is also looked for in its percent-encoded forms, as it would
    appear inside a URL. Empty secrets are ignored; longer secrets win over
    shorter ones that they contain.
    """
    needles: set[str] = set()
    for secret in secrets:
        if secret:
            needles.update({secret, quote(secret, safe=""), quote_plus(secret, safe="")})
    if not needles:
        return text
    # One pass with an alternation (longest first) so that a replacement is
    # never matched again by a shorter secret.
    pattern = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    return re.sub(pattern, MASK, text)


def _mask(token: str) -> str:
    return token[:4] + MASK if len(token) > 8 else MASK


def _is_secret_name(name: str) -> bool:
    normalized = unquote_plus(name).lower().replace("-", "_")
    return normalized in _SECRET_NAMES or any(part in normalized for part in _SECRET_NAME_PARTS)


def _webhook_prefix(host: str) -> int | None:
    hostname = host.rpartition("@")[2].split(":")[0].lower()
    for known, keep in WEBHOOK_HOSTS.items():
        if hostname == known or hostname.endswith("." + known):
            return keep
    return None


def _port_is_not_a_number(authority: str) -> bool:
    # "user:pa" in "redis://user:pa/ss@host": the colon is not a port separator,
    # so the password holds a raw "/" and the authority really ends at the "@".
    if authority.startswith("[") or ":" not in authority:
        return False
    return not authority.rpartition(":")[2].isdigit()


class _Redaction:
    """Split one URL, mask its secret parts and remember them."""

    def __init__(self, url: str) -> None:
        self.secrets: list[str] = []
        match = _SCHEME.match(url)
        if match is None:
            self.text = url
            return
        scheme = match.group()[:-3].lower()
        rest = url[match.end() :]
        userinfo, host, tail = self._split_authority(rest)
        token_scheme = scheme in TOKEN_SCHEMES

        parts = [match.group()]
        if userinfo is not None:
            parts.append(self._redact_userinfo(userinfo, token_scheme) + "@")
        parts.append(self._hide(host) if token_scheme and host else host)

        before_fragment, hash_sign, fragment = tail.partition("#")
        path, question_mark, query = before_fragment.partition("?")
        keep = 0 if token_scheme else _webhook_prefix(host)
        parts.append(self._redact_path(path, keep))
        if question_mark:
            parts.append("?" + self._redact_params(query))
        if hash_sign:
            parts.append("#" + (self._redact_params(fragment) if "=" in fragment else fragment))
        self.text = "".join(parts)

    @staticmethod
    def _split_authority(rest: str) -> tuple[str | None, str, str]:
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        authority = rest[:end]
        at = authority.rfind("@")
        if at < 0 and _port_is_not_a_number(authority):
            at = rest.find("@", end)
        if at < 0:
            return None, authority, rest[end:]
        after = rest[at + 1 :]
        end = min((i for i in (after.find(c) for c in "/?#") if i >= 0), default=len(after))
        return rest[:at], after[:end], after[end:]

    def _hide(self, token: str) -> str:
        self.secrets.append(token)
        decoded = unquote(token)
        if decoded != token:
            self.secrets.append(decoded)
        return _mask(token)

    def _redact_userinfo(self, userinfo: str, token_scheme: bool) -> str:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            self.secrets.append(password)
            if unquote(password) != password:
                self.secrets.append(unquote(password))
            password = MASK
        if token_scheme and user:
            user = self._hide(user)
        return user + colon + password

    def _redact_path(self, path: str, keep: int | None) -> str:
        if keep is None or not path:
            return path
        segments = path.split("/")
        # segments[0] is the empty string before the leading "/".
        for i in range(1 + keep, len(segments)):
            if segments[i]:
                segments[i] = self._hide(segments[i])
        return "/".join(segments)

    def _redact_params(self, params: str) -> str:
        pieces = params.split("&")
        for i, piece in enumerate(pieces):
            name, equals, value = piece.partition("=")
            if equals and value and _is_secret_name(name):
                self.secrets.append(value)
                if unquote_plus(value) != value:
                    self.secrets.append(unquote_plus(value))
                pieces[i] = name + "=" + MASK
        return "&".join(pieces)


_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every URL in it through ``redact_url`` and every one of
    ``secrets`` masked: for free text (a program's output) that may quote a URL
    with a password or one of the secrets mediaforge knows."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return redact_text(text, secrets)
