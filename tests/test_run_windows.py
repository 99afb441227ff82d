"""Run windows (``worker.schedule``): parsing, open or not, the next opening."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mediaforge.run_windows import (
    clock_text,
    is_open,
    next_closing,
    next_opening,
    parse_schedule,
    parse_window,
)
from tests.mfcli import Mediaforge

# 2026-12-02 is a Wednesday.
WED = datetime(2026, 12, 2)
NIGHTS_AND_WEEKENDS = parse_schedule(["mon-fri 22:00-07:00", "sat,sun 00:00-24:00"])


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time ``day`` days after Wednesday 2026-12-02."""
    return WED.replace(day=2 + day, hour=hour, minute=minute, second=second)


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (at(0, 21, 59, 59), False),
        (at(0, 22), True),
        (at(1, 3), True),  # Wednesday's night, across midnight
        (at(1, 7), False),  # the end is not inside
        (at(1, 12), False),
        (at(3, 12), True),  # Saturday
        (at(4, 23, 59), True),  # Sunday
        (at(2, 23), True),  # Friday night
        (at(3, 6), True),  # Friday's night, into Saturday
    ],
)
def test_a_window_is_open_from_its_start_to_before_its_end(when: datetime, open_: bool) -> None:
    assert is_open(NIGHTS_AND_WEEKENDS, when) is open_


def test_the_days_are_the_days_a_window_opens_on() -> None:
    fridays = parse_schedule(["fri 22:00-02:00"])
    assert is_open(fridays, at(3, 1))  # Saturday 01:00, opened Friday
    assert not is_open(fridays, at(2, 1))  # Friday 01:00 belongs to Thursday's night


def test_no_windows_means_always_open() -> None:
    assert is_open((), at(0, 12))
    assert next_opening((), at(0, 12)) is None


def test_the_next_opening_and_closing_follow_the_clock() -> None:
    assert next_opening(NIGHTS_AND_WEEKENDS, at(0, 12)) == at(0, 22)
    assert next_opening(NIGHTS_AND_WEEKENDS, at(0, 23)) is None
    # Friday night runs into the weekend: one stretch until Monday 00:00.
    assert next_closing(NIGHTS_AND_WEEKENDS, at(2, 23)) == at(5, 0)
    assert next_closing(NIGHTS_AND_WEEKENDS, at(1, 3)) == at(1, 7)


def test_a_day_range_may_wrap_past_sunday() -> None:
    [window] = parse_schedule(["sat-mon 10:00-11:00"])
    assert window.days == frozenset({5, 6, 0})


def test_seconds_are_allowed_for_a_window_that_opens_mid_minute() -> None:
    window = parse_schedule(["12:00:30-12:01"])
    assert not is_open(window, at(0, 12, 0, 29))
    assert is_open(window, at(0, 12, 0, 30))
    assert clock_text(at(0, 12, 0, 30), at(0, 11)) == "12:00:30"


@pytest.mark.parametrize(
    ("when", "now", "text"),
    [
        (at(0, 22), at(0, 12), "22:00"),
        (at(1, 22), at(0, 23), "22:00 tomorrow"),
        (at(2, 22), at(0, 12), "Fri 22:00"),
    ],
)
def test_the_next_opening_reads_as_a_time_of_day(when: datetime, now: datetime, text: str) -> None:
    assert clock_text(when, now) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("25:00-01:00", "'25:00' is not a time of day"),
        ("10:60-11:00", "'10:60' is not a time of day"),
        ("24:00-01:00", "'24:00' is not a time of day"),
        ("weekdays 10:00-11:00", "'weekdays' is not a day or a range of days"),
        ("10:00-10:00", "opens and closes at the same time"),
        ("10-11", "is not a run window; write HH:MM-HH:MM"),
        ("", "is not a run window"),
    ],
)
def test_a_bad_window_is_one_line_saying_what_to_write(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_window(text)
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_bad_schedule_in_the_config_file_names_the_field(tmp_path: Path) -> None:
    with Mediaforge(tmp_path) as mf:
        mf.configure(worker={"schedule": ["22:00-07:00", "nights"]})
        bad_window = mf("config", "check")
        mf.configure(worker={"schedule_end": "stop"})
        bad_end = mf("config", "check")
    assert (bad_window.code, bad_end.code) == (3, 3), bad_window.err + bad_end.err
    [schedule] = [ln for ln in bad_window.err.splitlines() if "worker.schedule[1]:" in ln]
    assert "'nights' is not a run window; write HH:MM-HH:MM" in schedule
    [end] = [ln for ln in bad_end.err.splitlines() if "worker.schedule_end:" in ln]
    assert "use one of 'finish', 'hand_back'" in end
    assert "Traceback" not in bad_window.err + bad_end.err
