"""``submit`` of an input whose job is still waiting reports that job instead
of making a second one; ``--force`` makes one anyway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.mfcli import Mediaforge


def test_submitting_the_same_file_and_preset_again_reports_the_waiting_job(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    [first] = mf.ok("submit", clip, "-p", "poster-jpg").out.split()

    again = mf("submit", clip, "-p", "poster-jpg")
    as_json = mf("submit", clip, "-p", "poster-jpg", "--json")

    assert again.code == 0, again.err
    assert again.out.split() == [first]
    assert again.err.splitlines() == [
        f"job {first} is already queued for {clip} with preset 'poster-jpg'; "
        "not submitted again (--force makes a new job)"
    ]
    assert [j["id"] for j in as_json.json()] == [int(first)]
    assert [j["id"] for j in mf.jobs()] == [int(first)]


def test_submit_force_makes_a_second_job_for_a_waiting_input(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    [first] = mf.ok("submit", clip, "-p", "poster-jpg").out.split()

    forced = mf("submit", clip, "-p", "poster-jpg", "--force")

    assert forced.code == 0, forced.err
    [second] = forced.out.split()
    assert second != first and forced.err == ""
    assert sorted(j["id"] for j in mf.jobs()) == sorted([int(first), int(second)])
