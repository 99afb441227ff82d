"""Output that goes to a pipe, a file, systemd or cron: never wrapped, never
padded, and the job's outputs named whole, so lines can be copied and grepped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.mfcli import Mediaforge

# Longer than any terminal is wide: rich used to fold it at 80 columns.
LONG_FOLDER = "a folder whose name is far longer than eighty columns " + "x" * 60


def test_a_long_path_in_piped_output_stays_whole_on_one_line(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / LONG_FOLDER).mkdir()
    clip = make_media(f"{LONG_FOLDER}/clip.mp4")
    mf.env.pop("COLUMNS", None)
    done = mf.ok("run", clip, "-p", "poster-jpg")
    [poster] = (tmp_path / LONG_FOLDER).glob("clip*.jpg")

    listed = mf.ok("jobs")
    shown = mf.ok("status", "1")

    for text in (done.out, listed.out, shown.out):
        assert any(str(poster) in line for line in text.splitlines()), text
        assert all(line == line.rstrip() for line in text.splitlines()), text
    header = listed.out.splitlines()[0].split()
    assert header == ["ID", "STATUS", "PRESET", "INPUT", "OUTPUT", "CREATED"]
    [row] = listed.out.splitlines()[1:]
    assert f"{clip} {poster}" in " ".join(row.split()), row
