"""Watch folders after the job history was pruned: what a pruned job did is
remembered, so its input is not done again and its outputs are not new work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mediaforge.jobs.tables import JobRow
from tests.mfcli import Mediaforge
from tests.watch.test_watch import Box, wav

DAY = 86400.0


@pytest.fixture
def box(mf: Mediaforge, tmp_path: Path) -> Box:
    return Box(mf, tmp_path / "inbox")


def test_files_whose_jobs_were_pruned_are_not_done_again(box: Box) -> None:
    wav(box.inbox / "a.wav", 1)
    wav(box.inbox / "b.wav", 2)
    assert len(box.once()) == 2
    box.burst()
    assert (box.inbox / "output" / "a.m4a").is_file()  # outputs inside the watched folder
    JobRow.update(finished_at=time.time() - 40 * DAY).execute()

    box.mf.ok("jobs", "prune", "--older-than", "30d")
    assert box.jobs() == []

    # Neither the inputs (same content) nor the outputs are new work ...
    assert box.once() == []
    wav(box.inbox / "a copy of b.wav", 2)
    assert box.once() == []
    assert box.jobs() == []
    # ... but new content still is.
    wav(box.inbox / "c.wav", 3)
    assert len(box.once()) == 1


def test_a_pruned_output_written_beside_its_input_is_not_new_work(box: Box) -> None:
    source = wav(box.inbox / "a.wav", 1)
    box.mf.ok("run", source, "-p", "mp3-audio")
    JobRow.update(finished_at=time.time() - 40 * DAY).execute()
    box.mf.ok("jobs", "prune", "--older-than", "30d")
    (box.inbox / "a.wav").unlink()  # only the output is left in the folder

    assert box.once(presets=("mp3-audio",)) == []
    assert box.jobs() == []
