"""Who a worker is: names that start with ``host:pid``, and whether the
process behind such a name is gone from this host.
"""

from __future__ import annotations

import os
import socket


def this_worker_prefix() -> str:
    """``host:pid`` of this process; worker names start with it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_is_dead_here(worker: str | None) -> bool:
    """True when ``worker`` ran on this host in a process that no longer exists.

    Lets a restarted worker recover its predecessor's jobs at once instead of
    waiting for their heartbeats to go stale.
    """
    if not worker:
        return False
    host, _, rest = worker.partition(":")
    pid_text = rest.split("/", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)
