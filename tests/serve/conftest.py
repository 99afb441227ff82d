"""A real ``mediaforge serve`` on 127.0.0.1 and a free port, and a small HTTP
client for it (the standard library's: what the tests send is what goes)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mfcli import Mediaforge


def preset(name: str, *, audio_filter: str | None = None) -> dict[str, Any]:
    """A small H.264/AAC preset; ``audio_filter`` (``arealtime``) paces ffmpeg
    so that a 2 s clip runs long enough to watch its progress."""
    audio: dict[str, Any] = {"codec": "aac", "bitrate": "64k"}
    if audio_filter is not None:
        audio["options"] = {"filter:a": audio_filter}
    fast = {"preset": "ultrafast"}
    video = {"codec": "libx264", "crf": 35, "pix_fmt": "yuv420p", "options": fast}
    return {
        "name": name,
        "description": f"test preset {name}",
        "outputs": [{"name": f"{{stem}}.{name}.mp4", "kind": "video", "container": "mp4",
                     "video": video, "audio": audio}],
    }  # fmt: skip


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.json()["error"]
        return error


@dataclass
class Server:
    """The running server: where it listens, its token, and a client."""

    mf: Mediaforge
    port: int
    token: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = "",
        headers: dict[str, str] | None = None, raw: bytes | None = None,
    ) -> Reply:  # fmt: skip
        """One request; ``token`` "" means the server's, None none at all."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token or self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            text = response.read().decode()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def logs(self) -> str:
        return self.mf.logs()


def start_server(mf: Mediaforge) -> Server:
    """``mediaforge serve --port 0``, once it says where it listens."""
    process = mf.start("serve", "--port", "0")
    found: list[int] = []

    def listening() -> bool:
        assert process.poll() is None, mf.logs()
        match = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", mf.started[-1].out.read_text())
        if match:
            found.append(int(match.group(1)))
        return bool(found)

    mf.wait_until(listening, 30, "the server to listen")
    token = (mf.data / "serve-token").read_text().strip()
    return Server(mf, found[0], token)


@pytest.fixture
def server(mf: Mediaforge) -> Iterator[Server]:
    """A served installation with presets ``fast``, ``paced`` (a 2 s clip takes
    about 8 s) and ``broken`` (libx264 refuses it on every attempt)."""
    mf.configure(worker={"max_attempts": 1}, log={"format": "json"})
    mf.add_preset("fast", yaml.safe_dump(preset("fast")))
    mf.add_preset("paced", yaml.safe_dump(preset("paced", audio_filter="arealtime=speed=0.25")))
    broken = preset("broken")
    broken["outputs"][0]["video"]["options"]["profile:v"] = "nosuchprofile"
    mf.add_preset("broken", yaml.safe_dump(broken))
    yield start_server(mf)


@pytest.fixture
def clip(make_media: Callable[..., Path]) -> Path:
    """A 2 s 320x240 H.264/AAC clip."""
    return make_media("clip.mp4", duration=2.0)
