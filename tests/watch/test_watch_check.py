"""Watch rules with ``check:``: a file that fails its health check is not submitted,
is reported once, and is looked at again only when it changes."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import ConfigError, ExitCode
from mediaforge.watch.rules import watch_rules
from tests.cli.test_check import _slow_decoding_ffprobe
from tests.media.test_health import clip, damage_middle
from tests.mfcli import Mediaforge, wait_until
from tests.watch.test_watch import Box, running

MakeMedia = Callable[..., Path]


@pytest.fixture
def box(mf: Mediaforge, tmp_path: Path) -> Box:
    return Box(mf, tmp_path / "inbox")


def failed_checks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if " failed its " in r.getMessage()]


def test_a_damaged_file_is_not_submitted_by_a_rule_that_checks_thoroughly(
    box: Box, make_media: MakeMedia, caplog: pytest.LogCaptureFixture
) -> None:
    good = clip(make_media, "inbox/good.ts")
    bad = clip(make_media, "inbox/bad.ts")
    damage_middle(bad)

    submitted = box.once(check="thorough")

    assert [job.input_path for job in box.jobs()] == [str(good)]
    assert len(submitted) == 1
    [line] = failed_checks(caplog)
    assert line.startswith(f"not picked up: {bad} failed its thorough check: ")
    assert "first at 0:00:0" in line and "replace or repair the file" in line


@pytest.mark.parametrize("check", ["none", "quick"])
def test_damage_a_probe_cannot_see_is_submitted_without_a_thorough_check(
    box: Box, make_media: MakeMedia, check: str
) -> None:
    bad = clip(make_media, "inbox/bad.ts")
    damage_middle(bad)

    box.once(check=check)

    assert [job.input_path for job in box.jobs()] == [str(bad)]


def test_a_file_failing_its_check_is_reported_once_and_checked_again_when_it_changes(
    box: Box, make_media: MakeMedia, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaforge.watch")
    damaged = clip(make_media, "damaged.ts")
    damage_middle(damaged)
    repaired = clip(make_media, "repaired.ts")
    target = box.inbox / "movie.ts"

    watcher = box.watcher(check="thorough", mode="poll", poll_interval=0.2, settle_seconds=0.3)
    with running(watcher):
        damaged.rename(target)
        wait_until(lambda: failed_checks(caplog) != [], 20, "the failed check to be reported")
        time.sleep(2)  # ten polls: the unchanged file is not checked or reported again
        assert len(failed_checks(caplog)) == 1
        assert box.jobs() == []

        repaired.rename(target)  # the file changes: checked again, and now it passes
        wait_until(lambda: len(box.jobs()) == 1, 20, "a job for the repaired file")

    assert box.jobs()[0].input_path == str(target)
    assert len(failed_checks(caplog)) == 1


def test_an_unknown_check_is_a_config_error_naming_the_choices(box: Box) -> None:
    box.mf.configure(watch=[{"path": str(box.inbox), "presets": ["aac-audio"],
                             "check": "paranoid"}])  # fmt: skip

    with pytest.raises(ConfigError) as caught:
        watch_rules(box.mf.load_config())

    problems = " ".join([str(caught.value), *caught.value.problems])
    assert "watch[0].check: 'paranoid' is not allowed" in problems and "'thorough'" in problems


def test_watch_once_with_check_thorough_leaves_a_damaged_file_and_says_why(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clip(make_media, "inbox/good.ts")
    bad = clip(make_media, "inbox/bad.ts")
    damage_middle(bad)

    done = mf("watch", inbox, "--preset", "aac-audio", "--once", "--settle", "0",
              "--check", "thorough")  # fmt: skip
    wrong = mf("watch", inbox, "--preset", "aac-audio", "--once", "--check", "paranoid")

    assert done.code == 0, done.err
    assert "submitted 1 job(s)" in done.out
    assert [job["input"] for job in mf.jobs()] == [str(good)]
    assert f"not picked up: {bad} failed its thorough check" in done.err + mf.logs()
    assert wrong.code == ExitCode.USAGE
    assert wrong.error_lines() == [
        "Error: --check: 'paranoid' is not a check; use none, quick or thorough"
    ]


def test_stopping_the_watcher_ends_a_thorough_check_at_once(
    box: Box, make_media: MakeMedia, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script, pids = _slow_decoding_ffprobe(tmp_path)  # a decode that lasts a minute
    box.mf.configure(worker={"max_attempts": 1}, ffprobe=str(script))
    box.config = box.mf.load_config()
    film = clip(make_media, "film.ts")
    watcher = box.watcher(check="thorough", mode="poll", poll_interval=0.2, settle_seconds=0.3)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        film.rename(box.inbox / "film.ts")
        wait_until(lambda: pids.exists() and pids.read_text().strip() != "", 20,
                   "the decode to start")  # fmt: skip
        decoder = int(pids.read_text())
        started = time.monotonic()
    finally:
        stop.set()
        watcher.wake.set()
        thread.join(timeout=30)

    assert not thread.is_alive() and time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(decoder, 0)
    assert box.jobs() == []
    assert "trying again" not in caplog.text and failed_checks(caplog) == []
