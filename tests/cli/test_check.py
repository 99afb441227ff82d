"""``mediaforge check``: one line per file, JSON, and exit codes, in a real process."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.errors import ExitCode
from tests.media.test_health import clip, damage_middle
from tests.mfcli import Mediaforge, wait_until

MakeMedia = Callable[..., Path]


def test_a_folder_of_good_clips_passes_with_exit_code_0(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip(make_media, "a.ts")
    (tmp_path / "sub").mkdir()
    clip(make_media, "sub/b.mp4")
    (tmp_path / "readme.txt").write_text("not picked up from a folder")

    done = mf("check", "--thorough", tmp_path)

    assert done.code == ExitCode.OK, done.err
    lines = done.out.splitlines()
    assert len(lines) == 2 and all(line.startswith("ok ") for line in lines), done.out
    assert "a.ts" in lines[0] and "b.mp4" in lines[1] and "thorough" in lines[0]


def test_thorough_check_names_the_damaged_clip_and_when_its_first_error_is(
    mf: Mediaforge, make_media: MakeMedia
) -> None:
    good = clip(make_media, "good.ts")
    bad = clip(make_media, "bad.ts")
    damage_middle(bad)

    quick = mf("check", good, bad)
    thorough = mf("check", "--thorough", good, bad)
    as_json = mf("check", "--thorough", "--json", bad)

    assert quick.code == ExitCode.OK, quick.out
    assert thorough.code == ExitCode.UNHEALTHY
    ok_line, failed_line = thorough.out.splitlines()
    assert ok_line.startswith("ok ") and str(good) in ok_line
    assert failed_line.startswith("FAILED ") and str(bad) in failed_line
    assert "first at 0:00:0" in failed_line and "error" in failed_line
    assert thorough.err == ""
    [report] = as_json.json()
    assert as_json.code == ExitCode.UNHEALTHY
    assert report["path"] == str(bad) and report["check"] == "thorough"
    assert report["ok"] is False and report["errors"] >= 1
    assert 0.5 < report["first_error_time"] < 1.6
    assert report["duration"] > 1.9


def test_a_text_file_fails_the_quick_check_with_a_clear_line(
    mf: Mediaforge, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")

    done = mf("check", notes)

    assert done.code == ExitCode.UNHEALTHY
    assert done.out.startswith("FAILED ") and "not a media file" in done.out
    assert len(done.out.splitlines()) == 1


def test_a_path_that_names_nothing_is_one_error_line_and_checks_nothing(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    good = clip(make_media, "good.ts")

    done = mf("check", good, tmp_path / "missing.ts")

    assert done.code == ExitCode.INPUT
    assert done.out == ""
    missing = tmp_path / "missing.ts"
    assert done.error_lines() == [f"Error: input not found: {missing}; check the path"]
    assert "Traceback" not in done.err


def _slow_decoding_ffprobe(tmp_path: Path) -> tuple[Path, Path]:
    """An ffprobe that probes as the real one does but "decodes" for a minute,
    writing its pid first: a check to interrupt, without a file that takes a
    minute to decode on a shared machine."""
    real = shutil.which("ffprobe")
    assert real is not None
    pids = tmp_path / "decoder.pid"
    script = tmp_path / "bin" / "ffprobe"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *-show_log*) echo $$ > "{pids}"; exec sleep 60;; esac\n'
        f'exec "{real}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pids


def test_ctrl_c_ends_a_thorough_check_and_the_decoders_it_started_at_once(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    script, pids = _slow_decoding_ffprobe(tmp_path)
    mf.configure(ffprobe=str(script))
    good = clip(make_media, "good.ts")

    process = mf.start("check", "--thorough", "--parallel", "1", good)
    wait_until(pids.exists, 30, "the decode to start", mf.logs)
    wait_until(lambda: pids.read_text().strip() != "", 5, "the decoder's pid")
    decoder = int(pids.read_text())
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    done = mf.finish(process, timeout=20)

    assert done.code == ExitCode.INTERRUPTED, done.err
    assert time.monotonic() - started < 10  # not the minute the decode would take
    assert "Traceback" not in done.err
    try:
        os.kill(decoder, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the decoding ffprobe {decoder} outlived the check")
