"""Submitting the same work twice: an input that already has a queued or
running job for the same preset gets that job back, not a second one.

Real SQLite job database and queue in tmp_path, real ffprobe on synthesized media.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.jobs.model import JobStatus
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import Submitted, submit_inputs
from tests.mfcli import Mediaforge


@pytest.fixture
def clip(make_media: Callable[..., Path]) -> Path:
    return make_media("clip.mp4", duration=0.3)


def _submit(
    mf: Mediaforge,
    paths: list[Path],
    preset: str = "poster-jpg",
    *,
    output_dir: Path | None = None,
    force: bool = False,
) -> Submitted:
    config = mf.load_config()
    return submit_inputs(
        config, mf.store, JobQueue(config), paths, preset, output_dir=output_dir, force=force
    )


@pytest.mark.parametrize("running", [False, True], ids=["queued", "running"])
def test_submitting_an_input_again_while_its_job_waits_gives_back_that_job(
    running: bool, mf: Mediaforge, clip: Path
) -> None:
    [first] = _submit(mf, [clip]).ids
    if running:
        assert mf.store.claim(first, "w") is not None

    again = _submit(mf, [clip])

    assert (again.ids, again.existing) == ([first], {first})
    assert [j["id"] for j in mf.jobs()] == [first]


def test_force_makes_a_new_job_for_an_input_that_has_one_waiting(
    mf: Mediaforge, clip: Path
) -> None:
    [first] = _submit(mf, [clip]).ids

    again = _submit(mf, [clip], force=True)

    assert again.existing == frozenset()
    assert again.ids != [first]
    assert len(mf.jobs()) == 2


def test_a_batch_gets_new_jobs_for_new_inputs_and_the_waiting_job_for_the_known_one(
    mf: Mediaforge, clip: Path, tmp_path: Path
) -> None:
    other = shutil.copy(clip, tmp_path / "other.mp4")
    [first] = _submit(mf, [clip]).ids

    both = _submit(mf, [Path(other), clip])

    assert both.ids[1] == first and both.ids[0] != first
    assert both.existing == {first}
    assert len(mf.jobs()) == 2


@pytest.mark.parametrize("change", ["ended", "other-preset", "other-output-dir", "new-content"])
def test_a_new_job_is_made_when_the_waiting_one_would_not_do_the_same_work(
    change: str, mf: Mediaforge, clip: Path, tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    [first] = _submit(mf, [clip]).ids
    output_dir = None
    preset = "poster-jpg"
    if change == "ended":
        assert mf.store.claim(first, "w") is not None
        assert mf.store.finish(first, "w", JobStatus.FAILED, error="it failed")
    elif change == "other-preset":
        preset = "remux-mp4"
    elif change == "other-output-dir":
        output_dir = tmp_path / "elsewhere"
    else:
        shutil.copy(make_media("longer.mp4", duration=0.6), clip)

    again = _submit(mf, [clip], preset, output_dir=output_dir)

    assert again.existing == frozenset()
    assert again.ids != [first]
