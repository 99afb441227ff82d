"""The worker's hold on huey: its signal handlers win, and an unknown huey is refused.

The two-step shutdown itself is proven in test_worker.py; these tests guard
what a huey upgrade could break silently, and SIGHUP, which nothing else sends.
"""

from __future__ import annotations

import importlib.metadata
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaforge.config.discovery import load_config
from mediaforge.errors import EnvironmentProblem
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.worker import MediaforgeConsumer, ensure_supported_huey
from tests.queue.test_worker import Sandbox, assert_one_good_output


def fake_huey_version(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    # Mocked: installing another huey next to the real one cannot happen here.
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: version if name == "huey" else real(name)
    )


@pytest.mark.parametrize("version", ["2.5.5", "4.0.0"])
def test_the_worker_refuses_a_huey_of_another_major_version(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    fake_huey_version(monkeypatch, version)

    with pytest.raises(EnvironmentProblem) as raised:
        ensure_supported_huey()

    message = str(raised.value)
    assert "\n" not in message
    assert f"huey {version} is installed" in message
    assert "huey>=3.5,<4" in message


def test_the_worker_accepts_any_huey_3(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_huey_version(monkeypatch, "3.9.0")
    ensure_supported_huey()


@pytest.fixture
def restored_signals() -> Iterator[None]:
    """The handlers a started worker installs are this test process's own: put them back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def test_a_started_worker_has_its_own_signal_handlers_in_place_of_hueys(
    tmp_path: Path, restored_signals: None
) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text("worker:\n  shutdown_grace: 0\n", encoding="utf-8")
    env = {
        "HOME": str(tmp_path),
        "MEDIAFORGE_CONFIG": str(config_path),
        "MEDIAFORGE_DATA_DIR": str(tmp_path / "data"),
    }
    config = load_config(None, env)
    store = JobStore.open(config)
    consumer = MediaforgeConsumer(config, store, JobQueue(config), workers=1, burst=True)
    consumer.start()
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            assert signal.getsignal(signum) == consumer._on_signal
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        consumer.stop(0.0)
        store.close()


@pytest.fixture
def sandbox(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, make_media) as box:
        yield box


@pytest.mark.slow
def test_sighup_neither_stops_nor_restarts_a_worker(sandbox: Sandbox) -> None:
    sandbox.set_pace(1.0)  # 2 s of work
    [job_id] = sandbox.submit([sandbox.clip()], "paced")
    worker_process = sandbox.start_worker()
    sandbox.wait_for_progress(job_id)

    worker_process.send_signal(signal.SIGHUP)
    sandbox.wait_until(
        lambda: sandbox.job(job_id).status is JobStatus.SUCCEEDED, 30, "the job to succeed"
    )
    time.sleep(0.5)  # a restart would log its start-up now

    assert worker_process.poll() is None
    starts = [r for r in sandbox.log_records() if " started: " in r["message"]]
    assert len(starts) == 1, sandbox.logs()
    assert sandbox.job(job_id).attempts == 1
    assert_one_good_output(sandbox, job_id, "clip", "paced")

    worker_process.send_signal(signal.SIGTERM)
    assert worker_process.wait(timeout=20) == 0
