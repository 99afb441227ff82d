"""Door: the HTTP server (``mediaforge serve``): a JSON API, live events,
Prometheus metrics and a dashboard over the same core functions the CLI
calls. Starlette and uvicorn are imported only here."""
