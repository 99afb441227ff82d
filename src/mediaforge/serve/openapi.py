"""The OpenAPI description the app serves at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from mediaforge import __version__

_ERROR = {"description": 'an error: {"error": {"code", "message"}}'}


def _op(summary: str, *params: str, body: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": {"description": "OK"}, "default": _ERROR},
        "parameters": [
            {"name": p.lstrip("*"), "in": "path" if p.startswith("*") else "query",
             "required": p.startswith("*"), "schema": {"type": "string"}}
            for p in params
        ],
    }  # fmt: skip
    if body:
        op["requestBody"] = {"content": {body: {"schema": {"type": "object"}}}}
    return op


def openapi() -> dict[str, Any]:
    job = "/api/v1/jobs/{job_id}"
    return {
        "openapi": "3.0.3",
        "info": {"title": "mediaforge", "version": __version__},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": {
            "/health": {"get": {**_op("Liveness; needs no token."), "security": []}},
            "/api/v1/jobs": {
                "get": _op("List jobs, newest first.", "status", "preset", "limit", "offset"),
                "post": _op(
                    "Submit paths the server can see: {inputs, preset, output_dir?, priority?,"
                    " force?, all_or_nothing?}.",
                    body="application/json",
                ),
            },
            job: {
                "get": _op(
                    "One job: outputs, error, log tail, notifications, uploads, hooks.", "*job_id"
                )
            },
            f"{job}/cancel": {"post": _op("Cancel a queued or running job.", "*job_id")},
            f"{job}/retry": {"post": _op("Queue a failed or cancelled job again.", "*job_id")},
            "/api/v1/uploads": {
                "post": _op(
                    "Upload a file into the inbox and submit it; the body is the file.",
                    "name",
                    "preset",
                    body="application/octet-stream",
                ),
            },
            "/api/v1/events": {"get": _op("Server-Sent Events of job changes.", "job")},
            "/api/v1/presets": {"get": _op("Built-in and user presets.")},
            "/api/v1/workers": {"get": _op("Known workers and the jobs they hold.")},
            "/api/v1/stats": {"get": _op("Totals, space saved, realtime factor.", "since")},
            "/metrics": {"get": _op("Prometheus metrics.")},
        },
    }
