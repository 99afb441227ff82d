"""A Pulse keeps beating through beats that fail, and stops when the work is lost."""

from __future__ import annotations

import logging
import time

import peewee
import pytest

from mediaforge.jobs.pulse import Pulse


def test_a_pulse_beats_through_an_unreachable_database(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []

    def beat() -> bool:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise peewee.OperationalError("the connection is lost")
        return True

    with caplog.at_level(logging.WARNING), Pulse(beat, 0.02) as pulse:
        deadline = time.monotonic() + 5
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(calls) >= 4 and not pulse.lost.is_set()
    failed = [r for r in caplog.records if "heartbeat failed" in r.getMessage()]
    assert len(failed) == 2 and all(r.exc_info is None for r in failed)


def test_a_pulse_stops_when_the_work_was_taken_away() -> None:
    with Pulse(lambda: False, 0.01) as pulse:
        assert pulse.lost.wait(5)
