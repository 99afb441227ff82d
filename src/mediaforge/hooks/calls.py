"""The HTTP hooks: a plain call with the job as JSON, and the library refresh
of Plex, Jellyfin and Emby, each through its documented endpoint.

- **http**: ``POST url`` with the job (``Job.to_dict()``) as the JSON body,
  the configured headers and ``X-Mediaforge-Event``; any 2xx is success.
- **plex**: ``GET /library/sections/{id}/refresh?path=FOLDER`` (a partial
  scan of the folder that holds the outputs), authenticated by the
  ``X-Plex-Token`` header. The section is ``section`` when set; otherwise the
  section whose folder (``Location``) holds the output, from
  ``GET /library/sections``; when none does, every section is scanned
  (``/library/sections/all/refresh``).
- **jellyfin**: ``POST /Library/Media/Updated`` with
  ``{"Updates": [{"Path": ..., "UpdateType": "Created"}]}``, authenticated by
  ``Authorization: MediaBrowser Token="..."``.
- **emby**: ``POST /emby/Library/Media/Updated``, the same body, authenticated
  by the ``X-Emby-Token`` header.

The token goes in a header, never in the URL, so no error message can quote
it; a ``user:password@`` in a hook's URL is sent as an ``Authorization: Basic``
header (unless the config sets that header), never as part of the host;
every text that leaves here is scrubbed of the hook's secrets anyway.
Only the standard library's ``urllib`` is used: no dependency for a few calls.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree import ElementTree

from mediaforge import __version__
from mediaforge.hooks.spec import Hook, Outcome, basic_auth, output_folders
from mediaforge.jobs.model import Job

_USER_AGENT = f"mediaforge/{__version__}"


class CallFailed(Exception):
    """One request of a hook failed; the message is one line, not yet scrubbed."""


def call_hook(hook: Hook, job: Job, event: str) -> Outcome:
    """Run an HTTP hook (http, plex, jellyfin, emby) once for ``job``."""
    calls: dict[str, Callable[[Hook, Job, str], str]] = {
        "http": _plain_call,
        "plex": _plex,
        "jellyfin": _jellyfin,
        "emby": _emby,
    }
    try:
        result = calls[hook.config.kind](hook, job, event)
    except CallFailed as e:
        return Outcome(False, hook.scrub(str(e)))
    return Outcome(True, hook.scrub(result))


def _plain_call(hook: Hook, job: Job, event: str) -> str:
    headers = {**hook.config.headers, "X-Mediaforge-Event": event}
    status, _ = _request(hook, "POST", _url(hook, ""), headers, job.to_dict())
    return f"HTTP {status}"


def _jellyfin(hook: Hook, job: Job, event: str) -> str:
    header = {"Authorization": f'MediaBrowser Token="{hook.token}"'}
    return _media_updated(hook, job, "/Library/Media/Updated", header)


def _emby(hook: Hook, job: Job, event: str) -> str:
    header = {"X-Emby-Token": hook.token or ""}
    return _media_updated(hook, job, "/emby/Library/Media/Updated", header)


def _media_updated(hook: Hook, job: Job, path: str, auth: Mapping[str, str]) -> str:
    paths = [hook.server_path(output.path) for output in job.outputs]
    if not paths:
        return "no outputs to report"
    body = {"Updates": [{"Path": p, "UpdateType": "Created"} for p in paths]}
    status, _ = _request(hook, "POST", _url(hook, path), dict(auth), body)
    return f"HTTP {status}: {len(paths)} path(s) reported"


def _plex(hook: Hook, job: Job, event: str) -> str:
    folders = output_folders([hook.server_path(output.path) for output in job.outputs])
    if not folders:
        return "no outputs to scan"
    auth = {"X-Plex-Token": hook.token or "", "Accept": "application/xml"}
    sections = {} if hook.config.section else _plex_sections(hook, auth)
    scanned: list[str] = []
    for folder in folders:
        section = hook.config.section or _section_of(folder, sections)
        if section is None:
            _request(hook, "GET", _url(hook, "/library/sections/all/refresh"), auth)
            scanned.append("all sections")
            continue
        query = urllib.parse.urlencode({"path": folder})
        url = _url(hook, f"/library/sections/{urllib.parse.quote(section)}/refresh?{query}")
        _request(hook, "GET", url, auth)
        scanned.append(f"section {section}")
    return f"scan started: {', '.join(scanned)}"


def _plex_sections(hook: Hook, auth: Mapping[str, str]) -> dict[str, list[str]]:
    """Section key -> its folders, from ``GET /library/sections``."""
    _, body = _request(hook, "GET", _url(hook, "/library/sections"), auth)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as e:
        raise CallFailed(f"Plex's list of library sections is not XML ({e})") from None
    return {
        str(directory.get("key")): [str(loc.get("path")) for loc in directory.iter("Location")]
        for directory in root.iter("Directory")
        if directory.get("key")
    }


def _section_of(folder: str, sections: Mapping[str, list[str]]) -> str | None:
    """The section whose folder holds ``folder`` (the deepest one), if any."""
    best: tuple[int, str] | None = None
    for key, locations in sections.items():
        for location in locations:
            root = location.rstrip("/")
            holds = folder == root or folder.startswith(root + "/")
            if holds and (best is None or len(root) > best[0]):
                best = (len(root), key)
    return None if best is None else best[1]


def _url(hook: Hook, path: str) -> str:
    assert hook.config.url is not None  # the config validator requires it
    return hook.config.url.rstrip("/") + path if path else hook.config.url


def _request(
    hook: Hook, method: str, url: str, headers: Mapping[str, str], body: Any = None
) -> tuple[int, bytes]:
    """One request; its status and body on a 2xx answer, CallFailed otherwise."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    # user:password@ in the URL travels as Basic authentication, as a browser
    # sends it; a header set in the config wins.
    url, basic = basic_auth(url)
    if basic is not None and not any(name.lower() == "authorization" for name in headers):
        headers = {**headers, "Authorization": basic}
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("User-Agent", _USER_AGENT)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    where = f"{method} {urllib.parse.urlsplit(url).path or '/'}"
    try:
        with urllib.request.urlopen(request, timeout=hook.config.timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as e:
        raise CallFailed(f"{where}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise CallFailed(f"{where}: {e.reason}") from None
    except (TimeoutError, OSError, http.client.HTTPException) as e:
        # A server that hangs up or answers garbage (HTTPException), a socket error.
        raise CallFailed(f"{where}: {e or type(e).__name__}") from None
    except ValueError as e:  # a URL urllib cannot use (a bad port, a stray character)
        raise CallFailed(f"{where}: {e}") from None
