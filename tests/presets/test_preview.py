"""``presets show --input``: a command a person can paste, under the final
names; the exact command line of the pipeline behind ``--exact``."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.mfcli import Mediaforge


def _shown(mf: Mediaforge, *args: object) -> tuple[list[str], str]:
    done = mf.ok("presets", "show", *args)
    lines = done.out.splitlines()
    comments = [line for line in lines if line.startswith("#")]
    [command] = [line for line in lines if not line.startswith("#")]
    return comments, command


def test_the_shown_command_writes_the_outputs_under_their_final_names(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("talk.mp4", duration=0.5)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    comments, command = _shown(mf, "poster-jpg", "--input", source, "--output-dir", out_dir)

    assert "-progress" not in command and ".part" not in command and " -y " not in command
    [final] = comments[0].split(": ", 1)[1].split(", ")
    ran = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == [Path(final).name]
    # ...which is the name a job gives it.
    mf.ok("run", source, "-p", "poster-jpg", "-o", tmp_path / "by-a-job")
    assert [p.name for p in (tmp_path / "by-a-job").iterdir()] == [Path(final).name]


def test_an_existing_output_is_named_as_it_is_with_a_note_not_the_next_free_name(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("talk.mp4", duration=0.5)
    mf.ok("run", source, "-p", "poster-jpg")
    [existing] = [p for p in tmp_path.iterdir() if p.suffix == ".jpg"]

    comments, command = _shown(mf, "poster-jpg", "--input", source)
    exact_comments, exact = _shown(mf, "poster-jpg", "--input", source, "--exact")

    assert shlex.split(command)[-1] == f"file:{existing}"
    assert " (1)" not in command
    assert any(f"a job would write {existing.stem} (1).jpg" in c for c in comments), comments
    # --exact: what the pipeline runs, hidden temporary name and all.
    assert "-progress pipe:1" in exact and " -y " in exact
    target = Path(shlex.split(exact)[-1].removeprefix("file:"))
    assert target.parent == tmp_path and target.name.startswith(f".{existing.stem} (1).jpg")
    assert exact_comments[0] == f"# transcode: {tmp_path / (existing.stem + ' (1).jpg')}"
