"""Watch folders and the size guard: an original whose outputs were not worth
keeping stays where it is, whatever the rule says to do after success."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaforge.jobs.model import JobStatus
from tests.mfcli import Mediaforge, digest
from tests.watch.test_watch import Box, wav

# No AAC file is 1% of a PCM WAV's size: the guard always trips.
GUARDED_AUDIO = """
name: guarded-audio
description: AAC in M4A, kept only at 1% of the input
size_guard: {max_ratio: 0.01}
outputs:
  - name: "{stem}.m4a"
    kind: audio
    container: ipod
    audio: {codec: aac, bitrate: 128k}
"""


@pytest.fixture
def box(mf: Mediaforge, tmp_path: Path) -> Box:
    mf.add_preset("guarded-audio", GUARDED_AUDIO)
    return Box(mf, tmp_path / "inbox")


@pytest.mark.parametrize("action", ["move", "delete"])
def test_an_original_whose_job_the_size_guard_skipped_is_neither_moved_nor_deleted(
    box: Box, action: str
) -> None:
    original = wav(box.inbox / "a.wav", 1)
    before = digest(original)
    rule = {"presets": ("guarded-audio",), "on_success": action}
    [job_id] = box.once(**rule)
    box.burst()
    job = box.store.get(job_id)
    assert job.status is JobStatus.SKIPPED
    assert (job.note or "").startswith("size guard: ")

    box.once(**rule)

    assert original.is_file() and digest(original) == before
    assert not (box.inbox / "done").exists()
    assert not (box.inbox / "output" / "a.m4a").exists()
