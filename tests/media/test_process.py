"""media/process.py: real ffmpeg runs, stops, stalls, failures and deaths."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import EnvironmentProblem, FFmpegError, Interrupted
from mediaforge.media.process import Progress, last_error_line, media_path, run_ffmpeg
from tests.mfcli import ffmpeg_pids


def lavfi_video(seconds: float, size: str = "320x240") -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:d={seconds}"]


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize(
    "name", ["plain.mp4", "-y.mp4", "http:foo.mp4", "100%d.mp4", "why?.mp4", "ça va 日本.mp4"]
)
def test_media_path_makes_any_name_a_plain_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name

    assert media_path(path) == f"file:{path}"
    run_ffmpeg([*lavfi_video(0.2), "-c:v", "mpeg4", "-f", "mp4", media_path(path)])
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_media_path_makes_relative_paths_absolute(tmp_path: Path) -> None:
    assert media_path(Path("clip.mp4")) == f"file:{Path.cwd() / 'clip.mp4'}"


def test_run_ffmpeg_returns_a_result_on_success(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"

    result = run_ffmpeg([*lavfi_video(0.5), "-c:v", "libx264", "-f", "mp4", media_path(out)])

    assert result.returncode == 0
    assert 0 < result.elapsed < 10
    assert result.stderr_tail == ""
    assert out.stat().st_size > 0


def test_run_ffmpeg_reports_progress_that_grows_and_ends(tmp_path: Path) -> None:
    updates: list[Progress] = []

    # -re paces the input in real time and -stats_period makes ffmpeg report
    # every 0.2 s, so a 1 s encode gives several progress blocks.
    run_ffmpeg(
        ["-stats_period", "0.2", "-re", *lavfi_video(1.0), "-c:v", "libx264",
         "-f", "mp4", media_path(tmp_path / "out.mp4")],
        on_progress=updates.append,
    )  # fmt: skip

    assert len(updates) >= 3
    times = [u.out_time for u in updates]
    assert times == sorted(times) and times[0] < times[-1]
    assert [u.ended for u in updates] == [False] * (len(updates) - 1) + [True]
    # out_time is the last muxed timestamp: a frame or two short of the end.
    assert updates[-1].out_time == pytest.approx(1.0, abs=0.2)
    assert updates[-1].frame == 25
    assert updates[-1].speed == pytest.approx(1.0, abs=0.5)


def test_progress_of_an_audio_only_run_has_no_frame(tmp_path: Path) -> None:
    updates: list[Progress] = []

    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", "-f", "mp4",
         media_path(tmp_path / "a.m4a")],
        on_progress=updates.append,
    )  # fmt: skip

    assert updates[-1].ended and updates[-1].frame is None
    assert updates[-1].out_time == pytest.approx(0.5, abs=0.1)


def test_should_stop_kills_ffmpeg_and_raises_interrupted(tmp_path: Path) -> None:
    seen: list[int] = []

    def should_stop() -> str | None:
        seen.extend(ffmpeg_pids(str(tmp_path)))
        return "cancelled by user" if seen else None

    started = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        run_ffmpeg(
            ["-re", *lavfi_video(60), "-c:v", "libx264", "-f", "mp4",
             media_path(tmp_path / "out.mp4")],
            should_stop=should_stop,
            poll_interval=0.05,
        )  # fmt: skip

    assert time.monotonic() - started < 5
    assert str(caught.value) == "ffmpeg stopped: cancelled by user"
    assert caught.value.reason == "cancelled by user"
    assert seen and ffmpeg_pids(str(tmp_path)) == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in seen)  # reaped, not a zombie


def test_stall_timeout_kills_ffmpeg_stuck_on_its_input(tmp_path: Path) -> None:
    # Nobody ever writes to this FIFO: ffmpeg blocks opening it and never
    # reports progress, like a read from a hung network share.
    fifo = tmp_path / "never written.ts"
    os.mkfifo(fifo)

    started = time.monotonic()
    with pytest.raises(FFmpegError) as caught:
        run_ffmpeg(
            ["-f", "mpegts", "-i", media_path(fifo), "-f", "null", "-"],
            stall_timeout=0.5,
            poll_interval=0.05,
        )

    assert 0.5 <= time.monotonic() - started < 3
    assert str(caught.value) == "ffmpeg made no progress for 0.5 s and was killed"
    assert ffmpeg_pids(str(tmp_path)) == []


def test_stall_timeout_leaves_a_progressing_run_alone(tmp_path: Path) -> None:
    # Reports come every 0.5 s; the run lasts several times the stall timeout,
    # and at real-time speed x264 muxes nothing for its first 1.6 s (40 frames
    # of lookahead): frames going into the encoder count as progress.
    result = run_ffmpeg(
        ["-re", *lavfi_video(2.5), "-c:v", "libx264", "-f", "mp4",
         media_path(tmp_path / "out.mp4")],
        stall_timeout=1.0,
    )  # fmt: skip

    assert result.returncode == 0


def _missing_input(tmp_path: Path) -> tuple[list[str], str]:
    missing = tmp_path / "missing.mp4"
    return ["-i", media_path(missing), "-f", "null", "-"], f"{missing}: No such file or directory"


def _unknown_encoder(tmp_path: Path) -> tuple[list[str], str]:
    out = media_path(tmp_path / "out.mp4")
    return [*lavfi_video(1), "-c:v", "no-such-codec", "-f", "mp4", out], (
        "Unknown encoder 'no-such-codec'"
    )


def _codec_not_in_container(tmp_path: Path) -> tuple[list[str], str]:
    out = media_path(tmp_path / "out.mp4")
    return [*lavfi_video(1), "-c:v", "rawvideo", "-f", "mp4", out], (
        "Could not find tag for codec rawvideo in stream #0, codec not currently supported in"
        " container"
    )


def _bad_filter(tmp_path: Path) -> tuple[list[str], str]:
    return [*lavfi_video(1), "-vf", "scale=wide", "-f", "null", "-"], (
        "Error initializing filter 'scale' with args 'wide'"
    )


def _missing_output_folder(tmp_path: Path) -> tuple[list[str], str]:
    out = tmp_path / "gone" / "out.mp4"
    return [*lavfi_video(1), "-f", "mp4", media_path(out)], f"{out}: No such file or directory"


@pytest.mark.parametrize(
    "failure",
    [_missing_input, _unknown_encoder, _codec_not_in_container, _bad_filter,
     _missing_output_folder],
)  # fmt: skip
def test_a_failing_ffmpeg_gives_one_line_and_a_tail(
    tmp_path: Path, failure: Callable[[Path], tuple[list[str], str]]
) -> None:
    args, reason = failure(tmp_path)

    with pytest.raises(FFmpegError) as caught:
        run_ffmpeg(args)

    assert str(caught.value) == f"ffmpeg exited with code 1: {reason}"
    assert reason.split(": ")[-1] in caught.value.log_tail  # the full story stays in the tail


def test_a_kill_by_someone_else_is_reported_as_such(tmp_path: Path) -> None:
    def kill_ffmpeg(progress: Progress) -> None:
        for pid in ffmpeg_pids(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)

    with pytest.raises(FFmpegError, match=r"^ffmpeg was killed by SIGKILL, not by mediaforge"):
        run_ffmpeg(
            ["-stats_period", "0.1", "-re", *lavfi_video(30), "-c:v", "libx264", "-f", "mp4",
             media_path(tmp_path / "out.mp4")],
            on_progress=kill_ffmpeg,
        )  # fmt: skip


@pytest.mark.parametrize("error", [RuntimeError("bug in a callback"), KeyboardInterrupt()])
def test_ffmpeg_dies_when_the_caller_raises(tmp_path: Path, error: BaseException) -> None:
    def fail(progress: Progress) -> None:
        raise error

    with pytest.raises(type(error)):
        run_ffmpeg(
            ["-stats_period", "0.1", "-re", *lavfi_video(30), "-c:v", "libx264", "-f", "mp4",
             media_path(tmp_path / "out.mp4")],
            on_progress=fail,
        )  # fmt: skip

    assert ffmpeg_pids(str(tmp_path)) == []


def test_a_stderr_flood_neither_hangs_nor_grows_the_tail(tmp_path: Path) -> None:
    # setpts=0 gives every frame the same timestamp; the muxer warns once per
    # frame: 2000 lines, about 300 KiB, far more than a pipe buffer holds.
    result = run_ffmpeg(
        [*lavfi_video(80, size="16x16"), "-vf", "setpts=0", "-fps_mode", "passthrough",
         "-c:v", "rawvideo", "-f", "nut", media_path(tmp_path / "out.nut")],
        tail_lines=25,
    )  # fmt: skip

    lines = result.stderr_tail.splitlines()
    assert len(lines) == 25
    assert all("Non-monotonous DTS" in line for line in lines)
    assert "changing to 1999." in lines[-1]  # the very last warning was read


@pytest.mark.parametrize("kind", ["missing", "not executable"])
def test_a_missing_ffmpeg_is_an_environment_problem(tmp_path: Path, kind: str) -> None:
    program = tmp_path / "ffmpeg"
    if kind == "not executable":
        program.write_text("#!/bin/sh\n")

    with pytest.raises(EnvironmentProblem) as caught:
        run_ffmpeg(["-version"], ffmpeg=str(program))

    assert str(caught.value) == (
        f"ffmpeg not found: '{program}'. Install it (Debian/Ubuntu: apt install ffmpeg)"
        " or set 'ffmpeg:' in the config file"
    )


# A worker that calls run_ffmpeg, to be killed with SIGKILL.
WORKER = "import sys; from mediaforge.media.process import run_ffmpeg; run_ffmpeg(sys.argv[1:])"


def _long_encode(tmp_path: Path) -> list[str]:
    out = media_path(tmp_path / "out.mp4")
    return [*lavfi_video(600), "-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4", out]


def _blocked_on_input(tmp_path: Path) -> list[str]:
    # An ffmpeg that waits on its input writes no progress, so it would never
    # notice its parent is gone through a broken progress pipe.
    fifo = tmp_path / "input.ts"
    os.mkfifo(fifo)
    return ["-f", "mpegts", "-i", media_path(fifo), "-f", "null", "-"]


@pytest.mark.skipif(sys.platform != "linux", reason="needs PR_SET_PDEATHSIG and /proc")
@pytest.mark.parametrize("make_args", [_long_encode, _blocked_on_input])
def test_ffmpeg_dies_with_a_worker_killed_by_sigkill(
    tmp_path: Path, make_args: Callable[[Path], list[str]]
) -> None:
    worker = subprocess.Popen([sys.executable, "-c", WORKER, *make_args(tmp_path)])
    try:
        assert wait_for(lambda: bool(ffmpeg_pids(str(tmp_path))), 10), "ffmpeg never started"
        time.sleep(0.3)  # let it get going

        worker.kill()
        worker.wait()

        assert wait_for(lambda: not ffmpeg_pids(str(tmp_path)), 5), "ffmpeg outlived its parent"
    finally:
        worker.kill()
        worker.wait()
        for pid in ffmpeg_pids(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["[mp4 @ 0x55d3c7340ac0] Could not find tag", "Conversion failed!"], "Could not find tag"),
        (["file:/m/a b.mp4: No such file or directory"], "/m/a b.mp4: No such file or directory"),
        (["[swscaler @ 0x1] [swscaler @ 0x2] deprecated pixel format used"],
         "deprecated pixel format used"),
        (["", "Conversion failed!"], ""),
        ([], ""),
        (["x" * 500], "x" * 199 + "…"),
    ],
)  # fmt: skip
def test_last_error_line_keeps_what_a_user_needs(lines: list[str], expected: str) -> None:
    assert last_error_line(lines) == expected
