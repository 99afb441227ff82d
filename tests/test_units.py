"""The one copy of each quantity helper."""

from __future__ import annotations

import pytest

from mediaforge.units import backoff, human_duration, human_size, iso_time, parse_clock


@pytest.mark.parametrize(
    ("n", "text"),
    [(None, ""), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 2**20, "5.0 MiB"),
     (3 * 2**30, "3.0 GiB"), (2 * 2**40, "2.0 TiB"), (2**60, "1048576.0 TiB")],
)
def test_human_size_uses_binary_units_and_leaves_unknown_blank(n: int | None, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (0, "0.0 s"), (59.94, "59.9 s"), (75, "1 min 15 s"), (3600, "1 h 0 min"),
     (7322, "2 h 2 min")],
)
def test_human_duration_reads_as_people_say_it(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:01.5", 1.5), ("01:02:03", 3723.0), ("-00:00:00.04", -0.04),
     ("00:01:00.000000000", 60.0), (" 00:00:02 ", 2.0)],
)
def test_parse_clock_reads_ffmpeg_and_matroska_times(text: str, seconds: float) -> None:
    assert parse_clock(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["N/A", "1:2:3", "", "00:00:60x"])
def test_parse_clock_refuses_what_is_not_a_clock_time(text: str) -> None:
    assert parse_clock(text) is None


def test_iso_time_is_utc_and_keeps_none() -> None:
    assert iso_time(None) is None
    assert iso_time(0) == "1970-01-01T00:00:00+00:00"
    assert iso_time(1.5) == "1970-01-01T00:00:01.500000+00:00"


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    assert [backoff(30, a) for a in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30, 0) == 30  # no attempt yet counts as the first
    assert [backoff(1, a, cap=60) for a in (1, 6, 7, 8)] == [1, 32, 60, 60]
