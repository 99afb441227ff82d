"""The guards around a job's ffmpeg, through the real ``mediaforge`` command
and real worker processes: the size guard (outputs not smaller than their
input are dropped and the job skipped), the wait for free space before
ffmpeg starts, and ffmpeg running out of space on a real, tiny filesystem.

The tiny filesystems are tmpfs mounts, which only root can make; those tests
skip otherwise, and the free-space wait is also shown with a reserve larger
than any disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from mediaforge.media.sizing import judge_size, tree_size
from mediaforge.presets.model import SizeGuard
from tests.mfcli import Mediaforge, digest, ffprobe, hidden_leftovers, streams

SHRINK = """
name: shrink
description: H.264 at high quality, kept only when at least 10% smaller
size_guard: {max_ratio: 0.9}
outputs:
  - name: "{stem}.shrink.mp4"
    container: mp4
    video: {codec: libx264, crf: 18, pix_fmt: yuv420p, options: {preset: ultrafast}}
"""

LOSSLESS = """
name: lossless
description: lossless H.264, far larger than a compressed input
outputs:
  - name: "{stem}.lossless.mp4"
    container: mp4
    video: {codec: libx264, crf: 0, pix_fmt: yuv420p, options: {preset: ultrafast}}
"""

# An input compressed as hard as x264 goes: about 13 KiB for 1 s at 320x240.
TINY = ("-crf", "51", "-preset", "ultrafast")
# Lossless: about 200 KiB for 1 s at 320x240, which crf 18 undercuts.
LARGE = ("-crf", "0", "-preset", "ultrafast")


@pytest.fixture
def guarded(mf: Mediaforge) -> Mediaforge:
    mf.add_preset("shrink", SHRINK)
    mf.add_preset("lossless", LOSSLESS)
    mf.configure(worker={"min_free_space_mib": 0})
    return mf


# -- the size guard ---------------------------------------------------------------------------


def test_the_size_guard_skips_a_job_whose_output_is_larger_than_its_already_tiny_input(
    guarded: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("tiny.mp4", audio=False, extra=TINY)
    before = digest(source)
    out = tmp_path / "out"

    done = guarded("run", source, "-p", "shrink", "-o", out, "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert job["status"] == "skipped"
    assert job["outputs"] == []
    note = job["note"]
    assert note.startswith("size guard: output ") and "of the input" in note, note
    assert "the guard keeps outputs only at most 90%" in note
    ratio = int(note.split(" is ")[1].split("%")[0])
    assert ratio > 90
    assert job["decisions"]["size guard"] in note
    assert list(out.iterdir()) == []  # the output was made, then dropped: nothing left
    assert digest(source) == before
    shown = guarded.ok("status", job["id"]).out
    assert "size guard" in shown and "% of the input" in shown


def test_the_size_guard_keeps_outputs_that_are_small_enough_and_says_by_how_much(
    guarded: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("large.mp4", audio=False, extra=LARGE)
    out = tmp_path / "out"

    job = guarded.ok("run", source, "-p", "shrink", "-o", out, "--json").json()

    assert job["status"] == "succeeded", job
    [output] = job["outputs"]
    assert streams(ffprobe(Path(output["path"])), "video")[0]["codec_name"] == "h264"
    decided = job["decisions"]["size guard"]
    assert "within the guard's 90%" in decided, decided
    assert Path(output["path"]).stat().st_size < 0.9 * source.stat().st_size


def test_the_size_guard_counts_every_file_of_an_hls_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ladder"
    (folder / "360p").mkdir(parents=True)
    (folder / "master.m3u8").write_bytes(b"x" * 100)
    (folder / "360p" / "seg0.ts").write_bytes(b"x" * 900)

    assert tree_size(folder) == 1000
    assert not judge_size(SizeGuard(max_ratio=0.9), 1000, [folder]).kept
    assert judge_size(SizeGuard(max_ratio=1.0), 1000, [folder]).kept


def test_presets_show_tells_the_size_guard_and_a_bad_ratio_is_one_line_naming_it(
    guarded: Mediaforge,
) -> None:
    shown = guarded.ok("presets", "show", "shrink").out
    assert "size guard: outputs kept only at most 90% of the input's size" in shown

    guarded.add_preset("broken", SHRINK.replace("shrink", "broken").replace("0.9", "0"))
    done = guarded("presets", "show", "broken")

    assert done.code != 0
    assert "Traceback" not in done.err
    assert "size_guard.max_ratio: must be greater than 0" in done.err, done.err
    assert "broken.yaml:4:" in done.err, done.err


# -- free space -------------------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount tiny tmpfs filesystems (``size`` such as ``256k``); unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"tmpfs-{len(mounted)}"
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", folder], check=False)


def _submit(mf: Mediaforge, source: Path, out: Path) -> int:
    [job] = mf.ok("submit", source, "-p", "shrink", "-o", out, "--json").json()
    return int(job["id"])


def _wait_for_space_decision(mf: Mediaforge, job_id: int) -> dict[str, object]:
    def waiting() -> bool:
        return "free space" in mf.status(job_id)["decisions"]

    mf.wait_until(waiting, 60, "the job to wait for free space")
    return mf.status(job_id)


def test_a_job_waits_for_free_space_without_using_attempts_and_runs_once_there_is_room(
    guarded: Mediaforge, make_media: Callable[..., Path], tmpfs: Callable[[str], Path]
) -> None:
    source = make_media("large.mp4", audio=False, extra=LARGE)
    small = tmpfs("1m")
    # The estimate for a constant-quality output is the input's size (plus
    # 25%), and 1 MiB must stay free: a 1 MiB filesystem cannot take it.
    guarded.configure(worker={"min_free_space_mib": 1, "space_wait": 1})
    job_id = _submit(guarded, source, small)
    worker = guarded.start("worker")

    job = _wait_for_space_decision(guarded, job_id)

    text = str(job["decisions"]["free space"])  # type: ignore[index]
    assert text.startswith("waits for free space: needs ~") and f" on {small}, " in text, text
    assert "free" in text
    assert job["status"] in ("queued", "running")
    assert job["error"] is None
    assert list(small.iterdir()) == []  # ffmpeg never started
    guarded.wait_until(lambda: guarded.status(job_id)["attempts"] == 0, 10, "no attempt used")

    subprocess.run(["mount", "-o", "remount,size=64m", "tmpfs", small], check=True)
    guarded.wait_until(
        lambda: guarded.status(job_id)["status"] == "succeeded", 60, "the job to run once room"
    )
    worker.terminate()
    job = guarded.status(job_id)
    assert job["attempts"] == 1
    assert [Path(o["path"]).parent for o in job["outputs"]] == [small]


def test_a_reserve_larger_than_the_disk_keeps_ffmpeg_from_starting(
    guarded: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("tiny.mp4", audio=False, extra=TINY)
    out = tmp_path / "out"
    guarded.configure(worker={"min_free_space_mib": 10**12, "space_wait": 30})
    job_id = _submit(guarded, source, out)
    worker = guarded.start("worker")

    job = _wait_for_space_decision(guarded, job_id)
    worker.terminate()

    assert job["status"] == "queued"
    assert job["attempts"] == 0
    assert not out.exists() or list(out.iterdir()) == []
    shown = guarded.ok("status", job_id).out
    assert "waits for free space" in shown


def test_ffmpeg_running_out_of_space_leaves_nothing_and_fails_in_one_retryable_line(
    guarded: Mediaforge, make_media: Callable[..., Path], tmpfs: Callable[[str], Path]
) -> None:
    # The estimate (the input's 13 KiB, plus 25%) fits; the lossless output does not.
    source = make_media("tiny.mp4", audio=False, extra=TINY)
    before = digest(source)
    small = tmpfs("64k")
    guarded.configure(worker={"max_attempts": 2, "min_free_space_mib": 0})

    done = guarded("run", source, "-p", "lossless", "-o", small, "--json")

    job = done.json()
    assert job["status"] == "failed", job
    assert job["attempts"] == 2  # retried
    error = job["error"]
    assert error.startswith(f"no space left on the device of {small} while writing"), error
    assert "\n" not in error
    assert list(small.iterdir()) == [] and hidden_leftovers(small) == []
    assert digest(source) == before


def test_run_says_each_time_it_waits_for_free_space(
    guarded: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("tiny.mp4", audio=False, extra=TINY)
    guarded.configure(worker={"min_free_space_mib": 10**12, "space_wait": 1})
    running = guarded.start("run", source, "-p", "h264-720p", "-o", tmp_path / "out")
    said = guarded.started[-1].err

    def waited_twice() -> bool:
        lines = [ln for ln in said.read_text().splitlines() if "waits for free space" in ln]
        return len(lines) >= 2 and lines[0].endswith("next try in 1 s")

    guarded.wait_until(waited_twice, 30, "two lines saying why run waits")
    running.send_signal(signal.SIGINT)
    assert guarded.finish(running).code == ExitCode.INTERRUPTED
