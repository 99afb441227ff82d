"""The Starlette app: routes, the token guard, errors as JSON, the dashboard."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mediaforge.config.schema import Config
from mediaforge.errors import MediaforgeError
from mediaforge.jobs.store import JobStore
from mediaforge.serve import routes
from mediaforge.serve.auth import COOKIE, LoginLimiter, TokenGuard, same_token
from mediaforge.serve.openapi import openapi
from mediaforge.serve.replies import on_error, on_http_error

STATIC = Path(str(files("mediaforge.serve") / "static"))


def _dashboard(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=_NO_FRAMES)


# The dashboard loads nothing but its own files and is never framed by
# another site (clickjacking).
_NO_FRAMES = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
}


async def _login(request: Request) -> Response:
    limiter: LoginLimiter = request.app.state.limiter
    client = request.client.host if request.client else "?"
    wait = limiter.wait_for(client)
    if wait > 0:
        return JSONResponse(
            {"error": {"code": "too_many_logins",
                       "message": f"too many failed logins; try again in {wait:.0f} s"}},
            429, {"Retry-After": str(int(wait) + 1)},
        )  # fmt: skip
    try:
        body = await request.json()
        given = body.get("token") if isinstance(body, dict) else None
    except ValueError:
        given = None
    token: str = request.app.state.token
    if not isinstance(given, str) or not same_token(given.strip(), token):
        limiter.failed(client)
        return JSONResponse(
            {"error": {"code": "unauthorized", "message": "that is not the server token; "
                       "see 'mediaforge serve --show-token'"}}, 401,
        )  # fmt: skip
    reply = JSONResponse({"status": "logged in"})
    reply.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return reply


def _logout(request: Request) -> Response:
    reply = JSONResponse({"status": "logged out"})
    reply.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return reply


def _openapi(request: Request) -> Response:
    return JSONResponse(openapi())


def build_app(config: Config, store: JobStore, token: str) -> TokenGuard:
    """The whole server, guarded by ``token``."""
    job = "/api/v1/jobs/{job_id:int}"
    app = Starlette(
        routes=[
            Route("/", _dashboard),
            Route("/health", routes.health),
            Route("/login", _login, methods=["POST"]),
            Route("/logout", _logout, methods=["POST"]),
            Route("/metrics", routes.metrics),
            Route("/api/v1/openapi.json", _openapi),
            Route("/api/v1/jobs", routes.list_jobs),
            Route("/api/v1/jobs", routes.submit_jobs, methods=["POST"]),
            Route(job, routes.show_job),
            Route(f"{job}/cancel", routes.cancel, methods=["POST"]),
            Route(f"{job}/retry", routes.retry, methods=["POST"]),
            Route("/api/v1/uploads", routes.upload, methods=["POST"]),
            Route("/api/v1/events", routes.events),
            Route("/api/v1/presets", routes.presets),
            Route("/api/v1/workers", routes.workers),
            Route("/api/v1/stats", routes.stats),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={MediaforgeError: on_error, HTTPException: on_http_error},
    )
    app.state.core = routes.Core(config, store)
    app.state.token = token
    app.state.limiter = LoginLimiter()
    return TokenGuard(app, token)
