"""Who a worker is, and when its death can be proven without waiting.

Every process that holds work (a worker, ``run``, ``s3 sync``) has an id
unique across hosts and containers: ``host:pid:nonce``. Host and pid are
there for people to read; the random nonce makes the id unique where two
workers share a hostname and a pid (two containers with host networking, a
process started with ``unshare``). Threads add ``/Worker-1`` and the like.

Liveness is judged by heartbeats (see jobs/workers.py). A pid is only ever
used as a shortcut, and only where it means what it says: in the same PID
namespace of the same boot (``namespace_key``), a pid that no longer exists
proves its worker dead.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

_ids: dict[int, str] = {}


def this_worker_prefix() -> str:
    """This process's worker id, ``host:pid:nonce``; names of its threads' claims start with it.

    One per process (by pid: a forked child gets an id of its own).
    """
    pid = os.getpid()
    if pid not in _ids:
        _ids[pid] = f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}"
    return _ids[pid]


def process_id(claimer: str) -> str:
    """The worker id in a claim name (``host:pid:nonce/Worker-1#ab12`` -> ``host:pid:nonce``)."""
    return claimer.split("/", 1)[0].split("#", 1)[0]


def namespace_key() -> str:
    """Which pids this process can see: the boot and the PID namespace.

    Two processes with the same key see the same pids; with different keys
    (another host, another container, another boot) a pid tells nothing.
    Empty where the kernel does not say (then no pid is ever trusted).
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists in this PID namespace."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
