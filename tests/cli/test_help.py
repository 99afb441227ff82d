"""Help and usage errors speak mediaforge, not Python: plain metavars (FILE,
N, JOB) in every ``--help``, and one ``Error:`` line naming the argument when
a value is wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediaforge.cli.main import app
from mediaforge.errors import ExitCode
from tests.cli.test_cli import COMMANDS, assert_one_error_line
from tests.mfcli import Mediaforge

# What typer shows when left to itself: "{input}", "<list[str]>", "<int range>",
# "[x>=1]", "[[JOB]]", "STATUS_", and the names of Python types.
LEAKS = re.compile(
    r"\{\w+\}|<[\w\[\], ]+>|\[\[|x\s*[<>]=|\w_\b|\blist\[|"
    r"\b(?:int|str|float|bool|Path|NoneType|Optional)\b"
)


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "mediaforge")
def test_help_shows_plain_metavars_and_no_python_types(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert not LEAKS.findall(result.output), result.output
    usage = result.output.splitlines()[0]
    # After the command words, only [OPTIONS], COMMAND [ARGS]... and upper-case metavars.
    words = usage.split(" ".join(path))[-1].split() if path else usage.split()[3:]
    assert all(re.fullmatch(r"\[?[A-Z_]+\]?(\.\.\.)?|\[ARGS\]\.\.\.", w) for w in words), usage


def test_help_names_values_by_what_they_are() -> None:
    def help_of(*path: str) -> str:
        return CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output

    assert "Usage: mediaforge submit [OPTIONS] INPUT..." in help_of("submit")
    assert "Usage: mediaforge retry [OPTIONS] [JOB]" in help_of("retry")
    assert "--limit, -n N" in help_of("jobs")
    assert "[default: 20; at least 1]" in help_of("jobs")
    assert "--output-dir, -o DIR" in help_of("run")
    assert "--expiry SECONDS" in help_of("s3", "links")


def test_a_bad_job_id_is_one_line_naming_the_argument(tmp_path: Path) -> None:
    mf = Mediaforge(tmp_path / "mf")

    done = mf("status", "abc")

    assert done.code == ExitCode.USAGE
    line = assert_one_error_line(done)
    assert line == "Error: JOB: 'abc' is not a job id ('mediaforge jobs' lists them)"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("jobs", "--limit", "0"), "Error: --limit: 0 is out of range; use at least 1"),
        (("jobs", "--limit", "many"), "Error: --limit: 'many' is not a whole number"),
        (("submit", "x.mov"), "Error: missing --preset (see 'mediaforge submit --help')"),
        (("cancel",), "Error: missing JOB (see 'mediaforge cancel --help')"),
        (("jobs", "--bogus"), "Error: No such option: --bogus (see 'mediaforge jobs --help')"),
    ],
)
def test_usage_errors_are_one_line_in_our_words(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    done = Mediaforge(tmp_path / "mf")(*args)

    assert done.code == ExitCode.USAGE
    assert assert_one_error_line(done) == expected
    assert "Input should" not in done.err
