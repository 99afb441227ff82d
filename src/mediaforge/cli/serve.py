"""``mediaforge serve``: the HTTP door (docs/web.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from mediaforge.cli.console import out
from mediaforge.cli.state import get_state


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")
    ] = 8470,
    show_token: Annotated[
        bool, typer.Option("--show-token", help="Print the token (made if missing) and exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Serve the JSON API, live events, metrics and the dashboard."""
    state = get_state(ctx)
    if show_token:
        from mediaforge.serve.auth import load_or_create_token

        out.print(load_or_create_token(state.config.data_dir), markup=False, soft_wrap=True)
        return
    from mediaforge.drivers import require_serve
    from mediaforge.ops.logs import setup_logging

    require_serve()
    from mediaforge.serve.auth import load_or_create_token
    from mediaforge.serve.server import serve as run_server

    # The token is made before the first log line, so that no line can hold it.
    token = load_or_create_token(state.config.data_dir)
    setup_logging(state.config.log, verbose=verbose, secrets=[token])

    run_server(state.config, host, port)
