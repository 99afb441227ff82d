"""Files that settle together are probed once each and become jobs together,
even when one of them is refused.

ffprobe is counted for real: a script logs each call and runs the real one.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from tests.mfcli import Mediaforge
from tests.watch.test_watch import Box, wav


def _counting_ffprobe(tmp_path: Path) -> tuple[Path, Path]:
    real = shutil.which("ffprobe")
    assert real is not None
    log = tmp_path / "ffprobe-calls.log"
    log.touch()
    script = tmp_path / "bin" / "ffprobe"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_a_refused_file_does_not_make_the_others_of_its_batch_probed_again(
    mf: Mediaforge, tmp_path: Path
) -> None:
    box = Box(mf, tmp_path / "inbox")
    script, log = _counting_ffprobe(tmp_path)
    mf.configure(worker={"max_attempts": 1}, ffprobe=str(script))
    box.config = mf.load_config()
    for seed in range(3):
        wav(box.inbox / f"take{seed}.wav", seed)
    (box.inbox / "notes.wav").write_text("not audio\n", encoding="utf-8")

    submitted = box.once()

    assert len(submitted) == 3
    assert sorted(Path(j.input_path).name for j in box.jobs()) == [
        "take0.wav", "take1.wav", "take2.wav",
    ]  # fmt: skip
    calls = log.read_text(encoding="utf-8").splitlines()
    assert len(calls) == 4, calls  # one per file, the refused one included


def test_the_jobs_of_files_that_settle_together_share_a_batch(
    mf: Mediaforge, tmp_path: Path
) -> None:
    box = Box(mf, tmp_path / "inbox")
    for seed in range(5):
        wav(box.inbox / f"take{seed}.wav", seed)

    assert len(box.once()) == 5

    batches = {job.batch for job in box.jobs()}
    assert len(batches) == 1 and None not in batches
