"""Who may use the server: one bearer token, kept 0600 in the data folder.

API clients send ``Authorization: Bearer TOKEN``. The dashboard logs in once
and keeps the token in an HttpOnly, SameSite=Strict cookie; a write made
with that cookie must also come from the server's own origin (``Origin`` or
``Sec-Fetch-Site``), so another site cannot make a browser act for it.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from mediaforge.errors import EnvironmentProblem

COOKIE = "mediaforge_token"
TOKEN_FILE = "serve-token"
# Paths anyone may fetch: liveness, the login itself, and the dashboard's
# static shell (it holds no data; every call it makes needs the token).
OPEN_PATHS = frozenset({"/health", "/login", "/logout", "/"})
OPEN_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def load_or_create_token(data_dir: Path) -> str:
    """The server's token, made on first use (random, 256 bits, mode 0600)."""
    path = token_path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the server token {path}: {exc.strerror}") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(token + "\n")
    return token


def read_token(path: Path) -> str:
    """The token in ``path``; refuses one that others can read or that is empty."""
    try:
        mode = path.stat().st_mode & 0o777
        token = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the server token {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise EnvironmentProblem(
            f"the server token {path} can be read by others (mode {mode:o}); run 'chmod 600 {path}'"
        )
    if len(token) < 16:
        raise EnvironmentProblem(
            f"the server token {path} is empty or too short; delete it to make a new one"
        )
    return token


def same_token(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def same_origin(request: Request) -> bool:
    """Whether a browser says the request comes from a page of this server."""
    origin = request.headers.get("origin")
    if origin:
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return request.headers.get("sec-fetch-site") == "same-origin"


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers)


def verdict(request: Request, token: str) -> JSONResponse | None:
    """None when the request may go on; otherwise the refusal to send."""
    bearer = _bearer(request)
    if bearer is not None:
        if same_token(bearer, token):
            return None
        return _refusal(
            401, "unauthorized", "the bearer token is wrong; see 'mediaforge serve --show-token'"
        )
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        return _refusal(
            401, "unauthorized",
            "this needs the server token: send 'Authorization: Bearer TOKEN' "
            "(see 'mediaforge serve --show-token')",
        )  # fmt: skip
    if not same_token(cookie, token):
        return _refusal(401, "unauthorized", "the login has expired; log in again")
    if request.method not in SAFE_METHODS and not same_origin(request):
        return _refusal(
            403, "cross_site",
            "a write with the login cookie must come from this server's own pages",
        )  # fmt: skip
    return None


class TokenGuard:
    """ASGI middleware: every path but the open ones needs the token."""

    def __init__(self, app: App, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)):
            refusal = verdict(Request(scope), self.token)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class LoginLimiter:
    """At most ``attempts`` failed logins per client address per ``window`` seconds."""

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.attempts:
                return 0.0
            return max(0.0, recent[0] + self.window - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] < time.monotonic() - self.window:
            recent.popleft()
        return recent
