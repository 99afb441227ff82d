"""The worker reuses the probe taken at submit while the input is unchanged:
a job costs two ffprobe runs (its input at submit, its output after ffmpeg),
and three when the input changed between submit and run.

ffprobe is counted for real: a script first on PATH logs each call and runs
the real ffprobe.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediaforge.jobs.tables import JobRow
from tests.mfcli import Mediaforge, ffprobe


@pytest.fixture
def probe_log(mf: Mediaforge, tmp_path: Path) -> Path:
    """The file every ffprobe call that mediaforge makes is logged to, one line each."""
    real = shutil.which("ffprobe")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ffprobe-calls.log"
    wrapper = bin_dir / "ffprobe"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    mf.env["PATH"] = f"{bin_dir}{os.pathsep}{mf.env['PATH']}"
    log.touch()
    return log


def _calls(log: Path) -> list[str]:
    """The probes of files (a worker also asks ffprobe for its version when it starts)."""
    return [c for c in log.read_text(encoding="utf-8").splitlines() if "-version" not in c.split()]


def test_a_job_run_after_submit_probes_its_input_once_and_its_output_once(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, probe_log: Path
) -> None:
    clip = make_media("clip.mp4", duration=1.0)
    out = tmp_path / "out"

    mf.ok("submit", clip, "-p", "h264-720p", "-o", out)
    assert len(_calls(probe_log)) == 1
    mf.burst()

    [job] = mf.jobs()
    assert job["status"] == "succeeded", job["error"]
    calls = _calls(probe_log)
    assert len(calls) == 2, calls
    assert str(clip) in calls[0]
    [output] = job["outputs"]
    # The output is still verified by a fresh probe of the file ffmpeg wrote.
    assert Path(output["path"]).parent == out
    assert "clip" in calls[1] and str(clip) not in calls[1]
    assert job["input_duration"] == pytest.approx(1.0, abs=0.1)


def test_an_input_changed_after_submit_is_probed_again(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, probe_log: Path
) -> None:
    clip = make_media("clip.mp4", duration=1.0)
    longer = make_media("longer.mp4", duration=3.0)
    out = tmp_path / "out"

    mf.ok("submit", clip, "-p", "h264-720p", "-o", out)
    os.replace(longer, clip)
    mf.burst()

    [job] = mf.jobs()
    assert job["status"] == "succeeded", job["error"]
    calls = _calls(probe_log)
    assert len(calls) == 3, calls
    assert str(clip) in calls[0] and str(clip) in calls[1]
    # Planned and verified against what the file holds now, not the old probe.
    assert job["input_duration"] == pytest.approx(3.0, abs=0.1)
    [output] = job["outputs"]
    duration = float(ffprobe(Path(output["path"]), "-show_format")["format"]["duration"])
    assert duration == pytest.approx(3.0, abs=0.1)


def test_run_probes_its_input_once_and_its_output_once(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, probe_log: Path
) -> None:
    clip = make_media("clip.mp4", duration=1.0)

    done = mf.ok("run", clip, "-p", "h264-720p", "-o", tmp_path / "out", "--json")

    assert done.json()["status"] == "succeeded"
    assert len(_calls(probe_log)) == 2, _calls(probe_log)


def _rewrite_stored_probe(mf: Mediaforge, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the probe stored with the one job, as another mediaforge version might store it."""
    assert mf.store is not None  # opens the job database: JobRow is bound to it
    row = JobRow.get()
    data = json.loads(row.input_probe)
    change(data)
    JobRow.update(input_probe=json.dumps(data)).where(JobRow.id == row.id).execute()
    mf.close_store()


def test_a_stored_probe_with_fields_this_version_does_not_know_is_still_used(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, probe_log: Path
) -> None:
    clip = make_media("clip.mp4", duration=1.0)
    mf.ok("submit", clip, "-p", "h264-720p", "-o", tmp_path / "out")

    def newer(data: dict[str, Any]) -> None:
        data["container_tags"] = {"encoder": "x"}
        for stream in data["streams"]:
            stream["hdr_format"] = None

    _rewrite_stored_probe(mf, newer)
    mf.burst()

    [job] = mf.jobs()
    assert job["status"] == "succeeded", job["error"]
    assert len(_calls(probe_log)) == 2, _calls(probe_log)  # the stored probe was used


def test_a_stored_probe_that_cannot_be_read_back_is_taken_again(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, probe_log: Path
) -> None:
    clip = make_media("clip.mp4", duration=1.0)
    mf.ok("submit", clip, "-p", "h264-720p", "-o", tmp_path / "out")

    _rewrite_stored_probe(mf, lambda data: data.pop("format_name"))
    mf.burst()

    [job] = mf.jobs()
    assert job["status"] == "succeeded", job["error"]
    calls = _calls(probe_log)
    assert len(calls) == 3 and str(clip) in calls[1], calls  # probed afresh, then the output
