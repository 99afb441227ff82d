"""The API's handlers: each reads its request, calls the core function the
CLI command of the same name calls, and returns what it gave as JSON."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from mediaforge import __version__
from mediaforge.config.schema import Config
from mediaforge.jobs.model import Job, JobSource, JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.queue.backend import JobQueue
from mediaforge.serve.events import EventHub
from mediaforge.serve.replies import BadRequest
from mediaforge.units import parse_duration_or_time

if TYPE_CHECKING:
    from mediaforge.queue.submission import Submitted

MAX_LIMIT = 500


class Core:
    """What the handlers share: the config, the job store and the queue."""

    def __init__(self, config: Config, store: JobStore) -> None:
        self.config = config
        self.store = store
        self.queue = JobQueue(config)
        self.hub = EventHub(store)


def core(request: Request) -> Core:
    found = request.app.state.core
    assert isinstance(found, Core)
    return found


def _int(request: Request, name: str, default: int, low: int = 0, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number, not '{raw}'") from None
    if value < low or (high is not None and value > high):
        top = f" to {high}" if high is not None else " or more"
        raise BadRequest(f"'{name}' must be {low}{top}, not {value}")
    return value


def _status(raw: str | None) -> JobStatus | None:
    if raw is None:
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise BadRequest(f"'{raw}' is not a job status; use one of {allowed}") from None


def job_links(job_id: int) -> dict[str, str]:
    base = f"/api/v1/jobs/{job_id}"
    return {
        "self": base,
        "cancel": f"{base}/cancel",
        "retry": f"{base}/retry",
        "events": f"/api/v1/events?job={job_id}",
    }


def job_summary(job: Job) -> dict[str, Any]:
    return {**job.to_dict(), "links": job_links(job.id)}


def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


def list_jobs(request: Request) -> JSONResponse:
    status = _status(request.query_params.get("status"))
    limit = _int(request, "limit", 20, 1, MAX_LIMIT)
    offset = _int(request, "offset", 0)
    preset = request.query_params.get("preset")
    # Taken before the read: an event stream opened with ?after=CURSOR gets every
    # change this listing may have missed, so a page that lists, then listens, loses none.
    cursor = time.time()
    jobs = core(request).store.list_jobs(status, limit, offset, preset=preset)
    next_page = None
    if len(jobs) == limit:
        params = {"limit": limit, "offset": offset + limit, "status": status, "preset": preset}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        next_page = f"/api/v1/jobs?{query}"
    body = {"jobs": [job_summary(j) for j in jobs], "next": next_page, "cursor": cursor}
    return JSONResponse(body)


def _field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is not None and not isinstance(value, kind):
        raise BadRequest(f"'{name}' must be a {kind.__name__}")
    return value


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _submitted(c: Core, submitted: Submitted) -> JSONResponse:
    jobs = [job_summary(c.store.get(i)) for i in submitted.ids]
    body = {"ids": submitted.ids, "existing": sorted(submitted.existing),
            "refused": list(submitted.refused), "jobs": jobs}  # fmt: skip
    return JSONResponse(body, 201 if submitted.ids else 200)


async def submit_jobs(request: Request) -> JSONResponse:
    body = await _body(request)
    inputs = _field(body, "inputs", list)
    preset = _field(body, "preset", str)
    if not inputs or not all(isinstance(i, str) for i in inputs) or not preset:
        raise BadRequest("give 'inputs' (a list of paths the server can see) and 'preset'")
    output_dir = _field(body, "output_dir", str)
    return await run_in_threadpool(
        _submit, core(request), inputs, preset,
        Path(output_dir) if output_dir else None,
        _field(body, "priority", int, 0), bool(_field(body, "force", bool, False)),
        bool(_field(body, "all_or_nothing", bool, False)),
    )  # fmt: skip


def _submit(
    c: Core, inputs: list[str], preset: str, output_dir: Path | None, priority: int,
    force: bool, all_or_nothing: bool,
) -> JSONResponse:  # fmt: skip
    from mediaforge.queue.submission import submit_inputs
    from mediaforge.storage.inputs import expand_inputs
    from mediaforge.storage.s3.client import is_s3_url

    local = expand_inputs([i for i in inputs if not is_s3_url(i)])
    paths: list[Path | str] = [*local, *(i for i in inputs if is_s3_url(i))]
    submitted = submit_inputs(
        c.config, c.store, c.queue, paths, preset, output_dir=output_dir, priority=priority,
        source=JobSource.API, force=force, all_or_nothing=all_or_nothing,
    )  # fmt: skip
    return _submitted(c, submitted)


async def upload(request: Request) -> JSONResponse:
    """The body is the file itself, streamed to disk under a temporary name."""
    from mediaforge.storage.inbox import Receiving, inbox_folder

    c = core(request)
    name = request.query_params.get("name", "")
    preset = request.query_params.get("preset")
    if not preset:
        raise BadRequest("give the preset to run as '?preset=NAME'")
    limit = c.config.serve.max_upload_mb * 1024 * 1024
    receiving = await run_in_threadpool(Receiving, inbox_folder(c.config), name, limit)
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(receiving.write, chunk)
        saved = await run_in_threadpool(receiving.complete)
    except BaseException:
        receiving.abandon()
        raise
    return await run_in_threadpool(_submit, c, [str(saved)], preset, None, 0, False, True)


def _job_id(request: Request) -> int:
    return int(request.path_params["job_id"])


def show_job(request: Request) -> JSONResponse:
    from mediaforge.hooks.store import HookStore
    from mediaforge.notify.store import NotificationStore
    from mediaforge.storage.s3.rows import UploadStore

    c = core(request)
    job = c.store.get(_job_id(request))
    return JSONResponse({
        **job_summary(job),
        "notifications": [n.to_dict() for n in NotificationStore(c.store).for_job(job)],
        "uploads": [u.to_dict() for u in UploadStore(c.store).for_job(job.id)],
        "hooks": [h.to_dict() for h in HookStore(c.store).for_job(job.id)],
    })  # fmt: skip


def cancel(request: Request) -> JSONResponse:
    from mediaforge.queue.control import cancel_job

    c = core(request)
    return JSONResponse(job_summary(cancel_job(c.config, c.store, _job_id(request))))


def retry(request: Request) -> JSONResponse:
    from mediaforge.queue.control import retry_job

    c = core(request)
    return JSONResponse(job_summary(retry_job(c.config, c.store, c.queue, _job_id(request))))


def presets(request: Request) -> JSONResponse:
    from mediaforge.presets.loading import load_presets

    found = load_presets(core(request).config.presets_dir)
    return JSONResponse([
        {"name": p.name, "description": p.description, "source": p.source,
         "outputs": [o.name for o in p.outputs]}
        for p in found.values()
    ])  # fmt: skip


def workers(request: Request) -> JSONResponse:
    c = core(request)
    found = c.store.workers.list_workers(c.config.worker.stale_after)
    return JSONResponse([w.to_dict() for w in found])


def _since(request: Request) -> float | None:
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        return parse_duration_or_time(raw)
    except ValueError as exc:
        raise BadRequest(f"'since': {exc}") from None


def stats(request: Request) -> JSONResponse:
    from mediaforge.jobs.stats import job_stats

    return JSONResponse(job_stats(core(request).store, _since(request)).to_dict())


def metrics(request: Request) -> PlainTextResponse:
    from mediaforge.jobs.stats import job_stats
    from mediaforge.serve.metrics import render_metrics

    c = core(request)
    text = render_metrics(
        job_stats(c.store), c.store.workers.list_workers(c.config.worker.stale_after)
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def events(request: Request) -> Response:
    from mediaforge.serve.events import job_events, start_cursor

    raw = request.query_params.get("job")
    job_id = _int(request, "job", 0, 1) if raw is not None else None
    # A reconnect's Last-Event-ID goes before the first connection's ?after=.
    last_seen = request.headers.get("last-event-id") or request.query_params.get("after")
    cursor = start_cursor(last_seen, job_id)
    stream = job_events(request, core(request).hub, job_id, cursor)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
