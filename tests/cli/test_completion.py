"""Shell completion, through the real machinery a shell drives: the
``_MEDIAFORGE_COMPLETE`` protocol of bash, zsh and fish, run as a process.
Preset names and job ids are completed; nothing breaks when there is
nothing to offer."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mfcli import MEDIAFORGE, Mediaforge


def complete(mf: Mediaforge, shell: str, line: str) -> subprocess.CompletedProcess[str]:
    """What the ``shell``'s completion script gets for ``line`` (the cursor at its end)."""
    env = {**mf.env, "_MEDIAFORGE_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        words = line.split(" ")
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return subprocess.run(
        MEDIAFORGE, env=env, cwd=mf.home, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def job_ids(offered: str) -> list[str]:
    """The ids in a completion answer: bash's lines, zsh's ``"ID":"TEXT"``,
    fish's ``ID<tab>TEXT``."""
    return re.findall(r'(?m)(?:^|")(\d+)(?:":|\t|$)', offered)


def candidates(mf: Mediaforge, shell: str, line: str) -> str:
    done = complete(mf, shell, line)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def test_bash_completes_preset_names_from_built_ins_and_the_presets_folder(
    mf: Mediaforge,
) -> None:
    mf.add_preset(
        "h264-tiny",
        'name: h264-tiny\ndescription: tiny\noutputs:\n  - name: "{stem}.tiny.mp4"\n'
        "    container: mp4\n    video: {codec: libx264}\n",
    )

    offered = candidates(mf, "bash", "mediaforge run clip.mov --preset h264-").split()

    assert offered == ["h264-1080p", "h264-720p", "h264-tiny"]
    assert candidates(mf, "bash", "mediaforge presets show poster").split() == ["poster-jpg"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_completes_job_ids_with_what_the_job_is(
    shell: str, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4")
    first, second = (
        mf.ok("submit", clip, "-p", p).out.strip() for p in ("poster-jpg", "aac-audio")
    )

    offered = candidates(mf, shell, "mediaforge status ")

    assert job_ids(offered) == [second, first]  # newest first
    if shell != "bash":  # zsh and fish show a description beside each id
        assert "queued aac-audio clip.mp4" in offered
    assert job_ids(candidates(mf, shell, f"mediaforge cancel {second}")) == [second]


def test_no_job_database_means_no_candidates_and_none_is_created(mf: Mediaforge) -> None:
    assert candidates(mf, "bash", "mediaforge status ").strip() == ""
    assert candidates(mf, "bash", "mediaforge retry ").strip() == ""
    assert not mf.data.exists() or not any(mf.data.iterdir())


def test_a_broken_config_means_no_candidates_not_a_traceback(mf: Mediaforge) -> None:
    mf.config.write_text("worker: [not a mapping\n", encoding="utf-8")

    assert candidates(mf, "bash", "mediaforge run x --preset ").strip() == ""
    assert candidates(mf, "bash", "mediaforge status ").strip() == ""


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o"), ("zsh", "#compdef mediaforge"), ("fish", "complete --command")],
)
def test_show_completion_prints_the_script_of_the_shell_it_runs_in(
    shell: str, marker: str, mf: Mediaforge
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    # The shell is found from the running processes: run it from that shell
    # (a second command keeps the shell from replacing itself with mediaforge).
    command = " ".join(shlex.quote(arg) for arg in [*MEDIAFORGE, "--show-completion"])
    status = "$status" if shell == "fish" else "$?"
    done = subprocess.run(
        [shell, "-c", f"{command}; exit {status}"],
        env=mf.env, cwd=mf.home, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "_MEDIAFORGE_COMPLETE" in done.stdout and marker in done.stdout, done.stdout
