"""File names are data: brackets and markup-like text in a name are shown as
they are, never read as rich markup, and a name that exists is never a glob."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mfcli import Mediaforge

# "[live]" looks like a style tag to rich, "[/x]" like a closing tag (a
# MarkupError), and "[bold]" like real markup; "a [/x] b" is a folder "a [".
NAMES = ["Concert [live].mp3", "a [/x] b.mp3", "[bold]loud[/bold] [red].mp3"]


@pytest.fixture
def wide(mf: Mediaforge) -> Mediaforge:
    """Tables wide enough that a long temporary path is never folded."""
    mf.env["COLUMNS"] = "500"
    return mf


def _song(make_media: Callable[..., Path], tmp_path: Path, name: str) -> Path:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    return make_media(name, duration=0.4, video=False, acodec="libmp3lame")


@pytest.mark.parametrize("name", NAMES)
def test_names_with_brackets_show_as_they_are_in_jobs_status_and_probe(
    name: str, wide: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    song = _song(make_media, tmp_path, name)
    [job_id] = wide.ok("submit", song, "-p", "aac-audio").out.split()

    listed = wide("jobs")
    queued = wide("status", job_id)
    probed = wide("probe", song)

    for done in (listed, queued, probed):
        assert done.code == 0, done.err
        assert str(song) in done.out
    wide.burst()
    finished = wide("status", job_id)
    assert finished.code == 0, finished.err
    [output] = wide.status(job_id)["outputs"]
    assert str(song) in finished.out
    assert output["path"] in finished.out


@pytest.mark.parametrize("name", NAMES)
def test_run_shows_a_name_with_brackets_as_it_is(
    name: str, wide: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    song = _song(make_media, tmp_path, name)

    done = wide("run", song, "-p", "opus-audio")

    assert done.code == 0, done.err
    assert str(song) in done.out


def test_a_failed_job_shows_its_error_with_brackets_as_it_is(
    wide: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    song = _song(make_media, tmp_path, "Concert [live].mp3")
    [job_id] = wide.ok("submit", song, "-p", "aac-audio").out.split()
    song.write_text("not media any more [/x]\n")
    wide.burst()

    done = wide("status", job_id)

    assert done.code == 0, done.err
    assert wide.status(job_id)["status"] == "failed"
    assert str(song) in done.out
    assert "Traceback" not in done.err


def test_submit_takes_an_existing_name_with_brackets_as_that_file(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    song = _song(make_media, tmp_path, "Concert [live].mp3")
    # What the name would match as a pattern: "Concert l.mp3", "Concert v.mp3".
    for decoy in ("Concert l.mp3", "Concert v.mp3"):
        shutil.copy(song, tmp_path / decoy)

    done = mf("submit", song, "-p", "aac-audio")

    assert done.code == 0, done.err
    assert [j["input"] for j in mf.jobs()] == [str(song)]


def test_a_glob_inside_a_folder_with_brackets_in_its_name_finds_its_files(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    song = _song(make_media, tmp_path, "Music [2020]/one.mp3")
    shutil.copy(song, song.with_name("two.mp3"))

    done = mf("submit", tmp_path / "Music [2020]" / "*.mp3", "-p", "aac-audio")

    assert done.code == 0, done.err
    assert sorted(Path(j["input"]).name for j in mf.jobs()) == ["one.mp3", "two.mp3"]
