"""Errors as JSON: the same one-line message the CLI prints, a stable code
and an HTTP status chosen from the error's class (decided here only)."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mediaforge.errors import ExitCode, JobStateError, MediaforgeError

HTTP_STATUS = {
    ExitCode.USAGE: 400,
    ExitCode.CONFIG: 500,
    ExitCode.INPUT: 422,
    ExitCode.PRESET: 422,
    ExitCode.NOT_FOUND: 404,
    ExitCode.ENVIRONMENT: 503,
}


class BadRequest(MediaforgeError):
    """A request the API cannot read: a missing or wrong field or parameter."""

    exit_code = ExitCode.USAGE


def error_code(exc: MediaforgeError) -> str:
    """``JobNotFound`` -> ``job_not_found``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def error_reply(exc: MediaforgeError) -> JSONResponse:
    status = 409 if isinstance(exc, JobStateError) else HTTP_STATUS.get(exc.exit_code, 500)
    body: dict[str, object] = {"code": error_code(exc), "message": str(exc)}
    problems = getattr(exc, "problems", None)
    if problems:
        body["problems"] = list(problems)
    return JSONResponse({"error": body}, status)


async def on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MediaforgeError)
    return error_reply(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) as JSON too."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"no route {request.method} {request.url.path}; see /api/v1/openapi.json"
    return JSONResponse({"error": {"code": code, "message": message}}, exc.status_code)
