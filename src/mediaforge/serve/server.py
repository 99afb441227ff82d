"""Running the app: the listening socket, uvicorn, and the checks before it."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys

from mediaforge.config.schema import Config
from mediaforge.errors import EnvironmentProblem

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """The bound, listening socket (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's headers and body leave at
    # once, instead of the body waiting ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EnvironmentProblem(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port or --host"
        ) from None
    sock.listen(128)
    return sock


def serve(config: Config, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM. Prints the address it listens on, once, on stdout."""
    import uvicorn

    from mediaforge.jobs.store import JobStore
    from mediaforge.serve.app import build_app
    from mediaforge.serve.auth import load_or_create_token

    token = load_or_create_token(config.data_dir)
    store = JobStore.open(config)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        log.warning(
            "listening on %s, beyond this machine: every request needs the token; put the "
            "server behind a TLS proxy so the token never crosses the network in clear", host,
        )  # fmt: skip
    print(f"serving on http://{shown}:{bound}/", flush=True)
    settings = uvicorn.Config(
        build_app(config, store, token), log_config=None, lifespan="off",
        timeout_graceful_shutdown=2, server_header=False,
    )  # fmt: skip
    try:
        uvicorn.Server(settings).run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    sys.stdout.flush()
