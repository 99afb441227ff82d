"""Progress off a terminal (a pipe, a log, systemd, cron): a plain line at a
steady pace with percent, speed and ETA; ``--quiet`` leaves only errors and
the result. On a terminal, a bar that ends in its job's colour."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from mediaforge.cli.progress import Bars
from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge

PROGRESS = re.compile(r"^job (\d+): (\d+)%(?: \((\d+\.\d)x realtime, ETA (\d+:\d\d:\d\d)\))?$")


def _long_clip(make_media: Callable[..., Path]) -> Path:
    # Long enough that h264-720p takes a few seconds: several lines, with a speed.
    return make_media("long.mp4", duration=30, vcodec="mpeg4")


def test_run_through_a_pipe_prints_progress_lines_with_percent_speed_and_eta(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    done = mf.ok("run", _long_clip(make_media), "-p", "h264-720p")

    lines = done.err.splitlines()
    matches = [PROGRESS.match(line) for line in lines]
    assert all(matches), done.err  # nothing but progress lines on stderr
    percents = [int(m.group(2)) for m in matches if m]
    assert len(percents) >= 3 and percents == sorted(percents), done.err
    assert any(m and m.group(3) for m in matches), "no line with a speed and an ETA"
    assert "status    succeeded" in done.out


def test_quiet_run_prints_only_the_result(mf: Mediaforge, make_media: Callable[..., Path]) -> None:
    done = mf.ok("run", make_media("clip.mp4", duration=3), "-p", "h264-720p", "--quiet")

    assert done.err == ""
    assert "status    succeeded" in done.out


def test_a_failed_run_prints_its_error_once(mf: Mediaforge, make_media: Callable[..., Path],
                                            tmp_path: Path) -> None:  # fmt: skip
    clip = make_media("clip.mp4")
    # The output folder is a file: the job can never write there.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")

    done = mf("run", clip, "-p", "poster-jpg", "-o", blocker)

    assert done.code != 0
    error = mf.store.get(1).error
    assert error and (done.out + done.err).count(error) == 1, done.out + done.err
    assert done.error_lines() == [f"Error: job 1 failed: {error}"]
    # Each retry says so, without repeating the error.
    assert "job 1: attempt 1 of 3 failed; next try in" in done.err, done.err


def test_submit_wait_through_a_pipe_times_the_job_from_its_start_and_names_its_outputs(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=1)
    waiting = mf.start("submit", clip, "-p", "poster-jpg", "--wait")
    mf.wait_until(lambda: len(mf.jobs()) == 1, 30, "the job to be queued")
    time.sleep(3)  # queued for 3 s before any worker starts
    mf.burst()
    done = mf.finish(waiting)

    assert done.code == 0, done.err
    [poster] = tmp_path.glob("clip*.jpg")
    assert done.out.splitlines() == [f"job 1 succeeded: {poster}"]
    lines = done.err.splitlines()
    assert lines[0] == "job 1: queued"
    took = re.fullmatch(r"job 1: succeeded after (\d+\.\d)s", lines[-1])
    assert took and float(took.group(1)) < 3, done.err  # not counted from submission
    for line in lines:  # the percentage once per line
        assert len(re.findall(r"\d+%", line)) <= 1, line


def test_quiet_submit_wait_prints_only_the_outputs(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=1)
    waiting = mf.start("submit", clip, "-p", "poster-jpg", "--wait", "--quiet")
    mf.wait_until(lambda: len(mf.jobs()) == 1, 30, "the job to be queued")
    mf.burst()
    done = mf.finish(waiting)

    assert (done.code, done.err) == (0, "")
    [poster] = tmp_path.glob("clip*.jpg")
    assert done.out == f"job 1 succeeded: {poster}\n"


def test_a_cancelled_job_shows_no_speed(mf: Mediaforge, make_media: Callable[..., Path]) -> None:
    [job_id] = mf.ok("submit", _long_clip(make_media), "-p", "h264-720p").out.split()
    mf.start("worker")
    mf.wait_until(lambda: mf.status(job_id)["progress"] > 0.05, 60, "the job to be under way")
    mf.ok("cancel", job_id)
    mf.wait_until(lambda: mf.status(job_id)["elapsed"] is not None, 30, "the job to stop")

    shown = mf.ok("status", job_id).out

    assert "cancelled" in shown and "took" in shown
    assert "realtime" not in shown


def _bar_colours(mf: Mediaforge, job_id: int) -> str:
    screen = io.StringIO()
    bars = Bars(Console(file=screen, force_terminal=True, width=100), transient=False)
    job = mf.store.get(job_id)
    bars.update(job, job.progress)
    bars.close()
    return screen.getvalue().rsplit("\r", 1)[-1]  # the last frame drawn


def test_a_finished_bar_takes_the_colour_of_how_its_job_ended(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_media("clip.mp4")
    mf.ok("run", clip, "-p", "poster-jpg")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert mf("run", clip, "-p", "poster-jpg", "-o", blocker).code == ExitCode.FAILURE

    green, red = "\x1b[32m", "\x1b[31m"
    succeeded, failed = _bar_colours(mf, 1), _bar_colours(mf, 2)
    assert green + "━" in succeeded and red not in succeeded, repr(succeeded)
    assert red + "━" in failed and green not in failed, repr(failed)


def test_status_follow_of_a_job_that_fails_prints_its_error_once(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4")
    [job_id] = mf.ok("submit", clip, "-p", "poster-jpg").out.split()
    clip.write_text("not a video any more\n")  # the worker meets a file that is not media
    following = mf.start("status", job_id, "--follow")
    mf.burst()
    done = mf.finish(following)

    assert done.code == ExitCode.FAILURE
    error = mf.status(job_id)["error"]
    assert error and (done.out + done.err).count(error) == 1, done.out + done.err
