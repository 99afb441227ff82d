"""Local servers the tests start themselves, on 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Webhook:
    """A real HTTP server on 127.0.0.1 that records the JSON body of every POST
    (what Apprise's ``json://`` target sends)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.posts.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"


@contextmanager
def running_webhook() -> Iterator[Webhook]:
    """A :class:`Webhook` serving until the block ends."""
    hook = Webhook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Request:
    """One request a :class:`Recorder` received."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # the request line's target, as sent (path and query)

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    """A real HTTP server on 127.0.0.1 that records every request in full and
    answers from ``replies``: (method, path) -> (status, body). A path not in
    ``replies`` gets 404. ``failures`` answers the first N requests with 500."""

    def __init__(self, replies: dict[tuple[str, str], tuple[int, bytes]], failures: int = 0):
        self.requests: list[Request] = []
        self.replies = replies
        self.failures = failures
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                split = urlsplit(self.path)
                recorder.requests.append(
                    Request(
                        self.command, split.path, parse_qs(split.query),
                        {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                        self.path,
                    )
                )  # fmt: skip
                status, body = recorder.replies.get((self.command, split.path), (404, b""))
                if recorder.failures > 0:
                    recorder.failures -= 1
                    status, body = 500, b"try again later"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def recording(
    replies: dict[tuple[str, str], tuple[int, bytes]], failures: int = 0
) -> Iterator[Recorder]:
    """A :class:`Recorder` serving until the block ends."""
    server = Recorder(replies, failures)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
