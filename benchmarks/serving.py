"""The web door's benchmarks: listing jobs over HTTP with a big database,
what 50 live event streams cost a running worker, and the server's memory.

Each compares with a baseline taken in the same run: ``/health`` on the same
server (nothing read), the worker with no stream open, a bare Python.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import MEDIAFORGE, BenchmarkError, Figure, Sample, Workspace, median, synthesize

STREAMS = 50


@contextmanager
def served(ws: Workspace) -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    """``mediaforge serve --port 0`` in ``ws``: the process, its port and token."""
    log = (ws.root / "serve.err").open("wb")
    process = subprocess.Popen(
        [MEDIAFORGE, "serve", "--port", "0"], env=ws.env, cwd=ws.root,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        found = re.search(r":(\d+)/$", line.strip())
        if not found:
            raise BenchmarkError(f"serve did not start: {line!r}")
        token = (Path(ws.env["MEDIAFORGE_DATA_DIR"]) / "serve-token").read_text().strip()
        yield process, int(found.group(1)), token
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _latencies(port: int, token: str, path: str, count: int) -> list[float]:
    """Seconds per request, one keep-alive connection, requests one after another."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    took = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            took.append(time.perf_counter() - start)
            if response.status != 200:
                raise BenchmarkError(f"GET {path}: {response.status} {body[:200]!r}")
    finally:
        connection.close()
    return took


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    if not found:
        raise BenchmarkError(f"no VmRSS for process {pid}")
    return int(found.group(1)) / 1024


def bench_serve(sizes: Any) -> Any:
    """GET /api/v1/jobs?limit=50 with a full database (p95) next to /health on
    the same server, and the idle server's memory next to a bare Python's."""
    from cases import Report, _fill

    with Workspace("serve") as ws:
        _fill(ws, sizes.rows)
        with served(ws) as (process, port, token):
            # Idle: started, one request of each kind answered (every route module loaded).
            _latencies(port, token, "/api/v1/jobs?limit=50", 1)
            _latencies(port, token, "/health", 1)
            time.sleep(1)
            rss = _rss_mib(process.pid)
            _latencies(port, token, "/api/v1/jobs?limit=50", 20)  # warm: caches
            jobs, health = [], []
            for _ in range(sizes.cli_runs):
                jobs += _latencies(port, token, "/api/v1/jobs?limit=50", 20)
                health += _latencies(port, token, "/health", 20)
            busy_rss = _rss_mib(process.pid)
        bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
        time.sleep(1)
        bare_rss = _rss_mib(bare.pid)
        bare.wait()
    what = f"GET /api/v1/jobs?limit=50, {sizes.rows:,} jobs in the DB"
    figures = [
        Figure("serve", f"{what}: p95", median(jobs), median(health), "GET /health",
               _p95(jobs), "s", 0.050, note=f"health p95 {_p95(health) * 1000:.1f} ms",
               samples={"mediaforge": jobs, "baseline": health}),
        Figure("serve", "idle server: resident memory", rss, bare_rss, "python, nothing imported",
               rss, "MiB", 60.0, note=f"{busy_rss:.0f} MiB after the listings"),
    ]  # fmt: skip
    details = {"rss_mib": rss, "rss_after_listings_mib": busy_rss, "bare_python_rss_mib": bare_rss}
    return Report(figures, details)


def _open_streams(port: int, token: str, count: int, stop: threading.Event) -> list[int]:
    """``count`` clients reading /api/v1/events until ``stop``; events each one saw."""
    seen = [0] * count

    def read(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        while not stop.is_set():
            line = response.fp.readline()
            if not line:
                break
            if line.startswith(b"event: "):
                seen[i] += 1
        connection.close()

    for i in range(count):
        threading.Thread(target=read, args=(i,), daemon=True).start()
    return seen


def bench_serve_events(sizes: Any) -> Any:
    """N one-second jobs through `worker --burst` while 50 clients follow the
    event stream, next to the same with no stream open (alternated)."""
    from cases import Report, _alternate, _ratio_figures

    n = max(4, sizes.jobs // 10)
    with Workspace("serve-events") as ws:
        clips = ws.folder("clips")
        synthesize(
            clips / "clip%04d.mp4", seconds=n, muxer="segment",
            video=("-c:v", "mpeg4", "-q:v", "4", "-g", "25"),
            extra=("-segment_time", "1", "-reset_timestamps", "1", "-segment_format", "mp4"),
        )  # fmt: skip
        quiet: list[Sample] = []
        watched: list[Sample] = []
        seen_counts: list[int] = []

        def burst(into: list[Sample], streams: int) -> None:
            ws.use_data_dir(f"data-{len(quiet) + len(watched)}")
            out = ws.folder(f"out-{len(quiet) + len(watched)}")
            with served(ws) as (_, port, token):
                stop = threading.Event()
                seen = _open_streams(port, token, streams, stop)
                time.sleep(1.0 if streams else 0)  # every stream connected
                ws.mediaforge("submit", str(clips), "-p", "h264-720p", "-o", str(out))
                sample, _ = ws.mediaforge("worker", "--burst")
                into.append(sample)
                time.sleep(1.0 if streams else 0)  # the last events delivered
                stop.set()
                if streams:
                    seen_counts.append(min(seen))

        _alternate(sizes.job_rounds + 1, lambda: burst(quiet, 0), lambda: burst(watched, STREAMS))
    if seen_counts and min(seen_counts) < n:
        raise BenchmarkError(f"a stream saw {min(seen_counts)} events for {n} jobs")
    figures = _ratio_figures(
        "serve-events", f"{n} jobs, worker with {STREAMS} event streams open",
        watched, quiet, "no stream open", wall_target=1.10,
    )  # fmt: skip
    return Report(figures, {"events_seen_least": seen_counts})
