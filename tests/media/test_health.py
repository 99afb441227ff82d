"""media/health.py: quick and thorough checks on real clips, some damaged on purpose."""

from __future__ import annotations

import json
import random
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import FFmpegError
from mediaforge.media.health import CheckKind, check_file, check_files

MakeMedia = Callable[..., Path]
GARBAGE = 8192  # bytes overwritten in the middle of a clip


def damage_middle(path: Path) -> int:
    """Overwrite GARBAGE bytes in the middle of ``path`` with noise; their offset."""
    offset = path.stat().st_size // 2
    noise = random.Random(1).randbytes(GARBAGE)
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(noise)
    return offset


def time_at_offset(path: Path, offset: int) -> float:
    """Where ``offset`` falls in ``path``, in seconds from its start, by an
    independent ffprobe of its packets: the last packet starting before it."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=pos,pts_time:format=start_time",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    data = json.loads(done.stdout)
    start = float(data["format"].get("start_time", 0))
    before = [p for p in data["packets"] if p.get("pos") and int(p["pos"]) <= offset]
    return float(max(before, key=lambda p: int(p["pos"]))["pts_time"]) - start


def clip(make_media: MakeMedia, name: str) -> Path:
    """A 2 s H.264 + AAC clip with a keyframe every 10 frames (mp4: index first)."""
    extra = ["-g", "10", "-preset", "ultrafast"]
    if name.endswith(".mp4"):
        extra += ["-movflags", "+faststart"]  # damage in the middle leaves the index whole
    return make_media(name, duration=2.0, extra=extra)


@pytest.mark.parametrize("name", ["clip.ts", "clip.mp4"])
def test_a_clean_clip_passes_both_checks(make_media: MakeMedia, name: str) -> None:
    path = clip(make_media, name)

    for kind in CheckKind:
        report = check_file(path, kind)
        assert report.ok, report
        assert (report.errors, report.first_error, report.first_error_time) == (0, None, None)
        assert report.duration == pytest.approx(2.0, abs=0.1)
        assert report.kind is kind


@pytest.mark.parametrize("name", ["clip.ts", "clip.mp4"])
def test_damage_in_the_middle_passes_a_probe_but_not_a_thorough_check(
    make_media: MakeMedia, name: str
) -> None:
    path = clip(make_media, name)
    offset = damage_middle(path)
    expected = time_at_offset(path, offset)

    quick = check_file(path, CheckKind.QUICK)
    thorough = check_file(path, CheckKind.THOROUGH)

    assert quick.ok  # the probe reads headers only: it cannot see this
    assert not thorough.ok
    assert thorough.errors >= 1
    assert thorough.first_error and "@ 0x" not in thorough.first_error  # cleaned for people
    assert thorough.first_error_time is not None
    # Where the garbage is, give or take a few frames of decoder delay.
    assert thorough.first_error_time == pytest.approx(expected, abs=0.3)
    assert 0.5 < thorough.first_error_time < 1.6


def test_a_clip_cut_short_fails_the_thorough_check_where_it_ends(make_media: MakeMedia) -> None:
    path = clip(make_media, "clip.mp4")
    cut = path.stat().st_size * 6 // 10
    expected = time_at_offset(path, cut)
    path.write_bytes(path.read_bytes()[:cut])  # the index (first) still promises 2 s

    quick = check_file(path, CheckKind.QUICK)
    thorough = check_file(path, CheckKind.THOROUGH)

    assert quick.ok
    assert not thorough.ok and thorough.first_error
    # The errors come after the last frame there is: timed by that frame.
    assert thorough.first_error_time == pytest.approx(expected, abs=0.3)


def test_a_text_file_fails_the_quick_check_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("shopping list\nmilk\n")

    report = check_file(path, CheckKind.QUICK)

    assert not report.ok and report.errors == 1
    assert report.first_error is not None
    assert "not a media file" in report.first_error and str(path) in report.first_error
    assert "\n" not in report.first_error


def test_a_missing_or_empty_file_is_a_failed_report_not_an_exception(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()

    missing, zero = check_files([tmp_path / "gone.mp4", empty], CheckKind.THOROUGH)

    assert not missing.ok and missing.first_error and "not found" in missing.first_error
    assert not zero.ok and zero.first_error and "empty" in zero.first_error


def test_many_files_are_reported_in_the_order_given(make_media: MakeMedia) -> None:
    good = clip(make_media, "good.ts")
    bad = clip(make_media, "bad.ts")
    damage_middle(bad)
    paths = [bad, good, bad, good]

    reports = list(check_files(paths, CheckKind.THOROUGH, parallel=2))

    assert [r.path for r in reports] == paths
    assert [r.ok for r in reports] == [False, True, False, True]


def test_a_decoder_killed_from_outside_is_no_verdict_on_the_file(
    make_media: MakeMedia, tmp_path: Path
) -> None:
    # An ffprobe that probes as the real one and dies of SIGKILL when asked to
    # decode: what the kernel's out-of-memory killer does, on demand.
    real = shutil.which("ffprobe")
    script = tmp_path / "ffprobe"
    script.write_text(
        f'#!/bin/sh\ncase "$*" in *-show_log*) kill -9 $$;; esac\nexec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    path = clip(make_media, "clip.ts")

    with pytest.raises(FFmpegError, match="killed by signal 9 while decoding"):
        check_file(path, CheckKind.THOROUGH, ffprobe=str(script))
    [report] = check_files([path], CheckKind.THOROUGH, ffprobe=str(script))
    assert not report.ok and report.first_error and "check it again" in report.first_error


def test_a_still_picture_passes_both_checks_and_a_cut_one_fails_the_thorough_check(
    tmp_path: Path,
) -> None:
    picture = tmp_path / "still.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1",
         str(picture)],
        check=True, timeout=60,
    )  # fmt: skip
    for kind in (CheckKind.QUICK, CheckKind.THOROUGH):
        report = check_file(picture, kind)
        assert report.ok, report

    cut = tmp_path / "cut.png"
    cut.write_bytes(picture.read_bytes()[:300])
    report = check_file(cut, CheckKind.THOROUGH)
    assert not report.ok and report.errors >= 1, report
