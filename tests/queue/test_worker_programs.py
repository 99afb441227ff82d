"""A worker that cannot run ffmpeg or ffprobe takes no job: it stops at once
with one line naming the program and its config key, and the queued jobs
wait, untouched, for a host that can run them (before, it failed every job
it took).

Real worker processes, real ffmpeg on synthesized media; the broken
programs are a missing path and small scripts standing in for a damaged
install.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("broken", ["missing", "failing", "killed", "not-a-program"])
@pytest.mark.parametrize("key", ["ffmpeg", "ffprobe"])
def test_a_worker_that_cannot_run_a_program_takes_no_job(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path, key: str, broken: str
) -> None:
    [job_id] = mf.ok("submit", make_media("clip.mp4", duration=0.5), "-p", "h264-720p").out.split()
    if broken == "missing":
        program = tmp_path / "no-such" / key
        said = f"{key} not found: '{program}'"
    elif broken == "failing":  # a damaged install: a library it needs is gone
        program = _script(
            tmp_path, key, "#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n"
        )
        said = f"{key} does not run: '{program}' exited with code 127: error while loading shared"
    elif broken == "killed":  # e.g. a build for a newer CPU: SIGILL
        program = _script(tmp_path, key, "#!/bin/sh\nkill -ILL $$\n")
        said = f"{key} does not run: '{program}' was killed by SIGILL"
    else:
        program = _script(tmp_path, key, "not a program\n")
        said = f"{key} cannot run: '{program}' (Exec format error)"
    mf.configure(**{key: str(program)})

    done = mf("worker", "--burst")

    assert done.code == ExitCode.ENVIRONMENT, done.err
    assert "Traceback" not in done.err
    [line] = done.error_lines()
    assert line.startswith(f"Error: {said}"), line
    assert line.endswith(f"or set '{key}:' in the config file"), line
    job = mf.status(job_id)
    assert (job["status"], job["attempts"], job["error"]) == ("queued", 0, None)


def test_a_worker_with_both_programs_runs_its_jobs(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    [job_id] = mf.ok("submit", make_media("clip.mp4", duration=0.5), "-p", "h264-720p").out.split()

    mf.ok("worker", "--burst")

    assert mf.status(job_id)["status"] == "succeeded"
