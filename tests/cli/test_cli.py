"""The ``mediaforge`` command's contract: exit codes, one-line errors, JSON,
every command with its help and its section in docs/cli.md, and submit/worker
as separate processes.

The command runs as a real subprocess (``python -m mediaforge``), as users
run it; typer's CliRunner is only used to walk the registered commands.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from mediaforge import __version__
from mediaforge.cli.main import app
from mediaforge.errors import ExitCode
from tests.mfcli import REPO, Done, Mediaforge, digest


def assert_one_error_line(done: Done, *, problems: int = 0) -> str:
    """stderr is one ``Error:`` line (and ``problems`` indented lines), no traceback."""
    lines = done.err.rstrip("\n").splitlines()
    assert "Traceback" not in done.err
    assert len(lines) == 1 + problems, done.err
    assert lines[0].startswith("Error: ")
    assert all(line.startswith("  ") for line in lines[1:])
    return lines[0]


# -- every command has help ------------------------------------------------------


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    # typer vendors its own click: a group is recognised by its "commands".
    for name, command in group.commands.items():
        if getattr(command, "hidden", False):
            continue
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def _lookup(path: tuple[str, ...]) -> Any:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def _long_options(command: Any) -> set[str]:
    """Every ``--name`` of a command's options (``--help`` is click's own)."""
    return {
        name
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("--")
    }


COMMANDS = sorted(_commands(typer.main.get_command(app)))


def test_the_core_commands_are_registered() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"run", "submit", "worker", "status", "jobs", "cancel", "retry", "probe", "doctor",
            "presets list", "presets show", "presets validate",
            "config show", "config check", "config init"} <= names  # fmt: skip


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "mediaforge")
def test_every_command_has_help_for_itself_and_each_parameter(path: tuple[str, ...]) -> None:
    command = _lookup(path)

    result = CliRunner().invoke(app, [*path, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert (command.help or "").strip(), f"'{' '.join(path)}' has no docstring"
    for param in command.params:
        if param.name != "help":
            assert getattr(param, "help", None), f"{' '.join(path)}: {param.name} has no help"


# -- every command and option is in docs/cli.md ----------------------------------------

CLI_DOCS = REPO / "docs" / "cli.md"
OPTION = re.compile(r"--[a-z][a-z0-9-]*")
COMMAND_WORD = re.compile(r"[a-z][a-z0-9-]*")  # arguments are upper case: JOB, INPUT...


@dataclass(frozen=True)
class CliDocs:
    """docs/cli.md, read as the command tree it describes.

    The global options are the ones named before the first ``##`` heading.
    A heading ``### `mediaforge COMMAND ARGS...` `` documents COMMAND (the
    leading lower-case words; a heading may name it more than once, as in
    ``retry JOB`` / ``retry --failed``) and every option named in it or in
    the text below it, up to the next heading.
    """

    global_options: set[str]
    sections: dict[tuple[str, ...], set[str]]  # command -> options named in its sections
    usages: list[tuple[tuple[str, ...], set[str]]]  # command -> options named in a heading

    @classmethod
    def read(cls) -> CliDocs:
        text = CLI_DOCS.read_text(encoding="utf-8")
        docs = cls(set(OPTION.findall(text.split("\n## ", 1)[0])), {}, [])
        for block in re.split(r"^(?=#{1,6} )", text, flags=re.MULTILINE):
            heading = block.partition("\n")[0]
            if not heading.startswith("### "):
                continue
            for usage in re.findall(r"`mediaforge ([^`]*)`", heading):
                path = tuple(itertools.takewhile(COMMAND_WORD.fullmatch, usage.split()))
                docs.sections.setdefault(path, set()).update(OPTION.findall(block))
                docs.usages.append((path, set(OPTION.findall(usage))))
        return docs

    def options_of(self, path: tuple[str, ...]) -> set[str] | None:
        """The options documented for a command or group (None: it has no section).

        A group is documented by the sections of its commands."""
        if not path:
            return self.global_options
        found = [opts for doc, opts in self.sections.items() if doc[: len(path)] == path]
        return set().union(*found) if found else None


DOCS = CliDocs.read()


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "mediaforge")
def test_every_command_and_each_of_its_options_is_in_the_cli_docs(path: tuple[str, ...]) -> None:
    command = " ".join(("mediaforge", *path))

    documented = DOCS.options_of(path)

    assert documented is not None, f"{CLI_DOCS.name} has no section '### `{command} ...`'"
    missing = sorted(_long_options(_lookup(path)) - documented)
    assert not missing, f"{CLI_DOCS.name} does not document {', '.join(missing)} of '{command}'"


def test_the_cli_docs_name_only_commands_and_options_that_exist() -> None:
    tree = {path: _long_options(_lookup(path)) for path in [(), *COMMANDS]}
    stale = [f"mediaforge {opt}" for opt in sorted(DOCS.global_options - tree[()])]
    for path, options in DOCS.usages:
        if path not in tree:
            stale.append(" ".join(("mediaforge", *path)))
        else:
            stale += [f"mediaforge {' '.join(path)} {opt}" for opt in sorted(options - tree[path])]

    assert DOCS.usages, f"no '### `mediaforge ...`' headings found in {CLI_DOCS}"
    assert stale == [], f"{CLI_DOCS.name} names what the command does not have"


def test_help_works_in_a_real_process(mf: Mediaforge) -> None:
    done = mf("--help")

    assert done.code == 0
    assert "submit" in done.out and "worker" in done.out


def test_version_prints_the_package_version(mf: Mediaforge) -> None:
    done = mf("--version")

    assert (done.code, done.out.strip()) == (0, f"mediaforge {__version__}")


# -- bad input: one clear line, the documented exit code, nothing touched -------


def _missing(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    return tmp_path / "missing.mp4"


def _folder_without_media(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("no media here\n")
    return folder


def _empty(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    path = tmp_path / "empty.mp4"
    path.touch()
    return path


def _text(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    path = tmp_path / "letter.mp4"
    path.write_text("Dear reader,\nthis is not a video.\n")
    return path


def _truncated(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    whole = make_media("whole.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(whole[: len(whole) // 2])  # an interrupted copy: no moov atom
    return path


BAD_INPUTS = {
    "missing-file": (_missing, "input not found"),
    "folder-without-media": (_folder_without_media, "folder"),
    "empty-file": (_empty, "input is empty (0 bytes)"),
    "text-file-named-mp4": (_text, "not a media file"),
    "truncated-mp4": (_truncated, "not a media file"),
}


def _snapshot(path: Path) -> dict[str, str]:
    if path.is_dir():
        return {str(p): digest(p) for p in path.rglob("*") if p.is_file()}
    return {str(path): digest(path)} if path.exists() else {}


@pytest.mark.parametrize("command", ["run", "submit"])
@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_error_line_with_the_input_exit_code(
    case: str, command: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    make, words = BAD_INPUTS[case]
    path = make(tmp_path, make_media)
    before = _snapshot(path)

    done = mf(command, path, "--preset", "h264-720p")

    assert done.code == ExitCode.INPUT
    line = assert_one_error_line(done)
    assert words in line and path.name in line
    if command == "submit":
        assert mf.jobs() == []  # checked before any job exists
    assert _snapshot(path) == before


@pytest.mark.parametrize("command", ["run", "submit"])
def test_unknown_preset_suggests_the_closest_name(
    command: str, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    source = make_media("clip.mp4")
    before = digest(source)

    done = mf(command, source, "--preset", "h264-702p")

    assert done.code == ExitCode.PRESET
    line = assert_one_error_line(done)
    assert "unknown preset 'h264-702p'" in line and "Did you mean 'h264-720p'?" in line
    assert mf.jobs() == []
    assert digest(source) == before


def test_all_or_nothing_names_each_bad_input_and_submits_nothing(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    good = make_media("good.mp4")
    empty, text = _empty(tmp_path, make_media), _text(tmp_path, make_media)

    done = mf("submit", good, empty, text, "--preset", "poster-jpg", "--all-or-nothing")

    assert done.code == ExitCode.INPUT
    line = assert_one_error_line(done, problems=2)
    assert "2 of 3 inputs" in line
    assert str(empty) in done.err and str(text) in done.err
    assert mf.jobs() == []


def test_a_folder_with_bad_files_submits_the_good_ones_and_lists_each_bad_one(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    goods = [make_media(f"videos/good{i}.mp4") for i in (1, 2)]
    truncated = _truncated(tmp_path, make_media).rename(folder / "truncated.mp4")
    text = _text(tmp_path, make_media).rename(folder / "letter.mp4")

    done = mf("submit", folder, "--preset", "poster-jpg")

    assert done.code == ExitCode.PARTIAL, done.err
    ids = done.out.split()
    assert sorted(mf.status(i)["input"] for i in ids) == sorted(map(str, goods))
    lines = done.err.splitlines()
    assert "Traceback" not in done.err and len(lines) == 3, done.err
    for bad in (text, truncated):
        [line] = [line for line in lines[:2] if f"{bad} " in line]
        assert line.startswith("not submitted: not a media file"), line
    assert lines[2] == (
        "Error: 2 of 4 inputs cannot be processed (listed above) and were not submitted; "
        "the other 2 were"
    )


def test_a_folder_of_only_bad_files_submits_nothing_with_the_input_exit_code(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    _text(tmp_path, make_media).rename(folder / "letter.mp4")
    _empty(tmp_path, make_media).rename(folder / "empty.mp4")

    done = mf("submit", folder, "--preset", "poster-jpg")

    assert done.code == ExitCode.INPUT
    assert "2 of 2 inputs" in assert_one_error_line(done, problems=2)
    assert mf.jobs() == []


def test_debug_shows_the_traceback(mf: Mediaforge, tmp_path: Path) -> None:
    done = mf("--debug", "run", tmp_path / "missing.mp4", "--preset", "h264-720p")

    assert done.code != 0
    assert "Traceback" in done.err and "InputError" in done.err


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("probe_timeout: soon\noutput:\n  collision: maybe\nworker:\n  workers: 0\n", [1, 3, 5]),
        ("worker:\n\tworkers: 1\n", [2]),
    ],
    ids=["bad-fields", "bad-yaml"],
)
def test_bad_config_file_is_reported_with_lines_and_the_config_exit_code(
    text: str, lines: list[int], mf: Mediaforge
) -> None:
    mf.config.write_text(text)

    done = mf("jobs")

    assert done.code == ExitCode.CONFIG
    several = len(lines) > 1
    line = assert_one_error_line(done, problems=len(lines) if several else 0)
    shown = done.err.splitlines()[1:] if several else [line]
    for number, problem in zip(lines, shown, strict=True):
        assert f"{mf.config}:{number}:" in problem


# -- submitting ---------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    """tree/a.mp4, tree/sub/b.mkv, plus what a scan must skip."""
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / ".cache").mkdir()
    clip = make_media("clip.mp4", duration=0.4)
    for name in ("a.mp4", ".hidden.mp4", ".cache/c.mp4"):
        shutil.copy(clip, root / name)
    shutil.copy(make_media("clip.mkv", duration=0.4), root / "sub" / "b.mkv")
    (root / "notes.txt").write_text("not media\n")
    (root / "cover.jpg").write_bytes(b"not media either")
    return root


def test_submit_a_folder_queues_its_media_recursively_skipping_hidden_files(
    mf: Mediaforge, tree: Path
) -> None:
    done = mf("submit", tree, "--preset", "poster-jpg")

    assert done.code == 0, done.err
    ids = [int(i) for i in done.out.split()]
    jobs = mf.jobs()
    assert sorted(j["id"] for j in jobs) == sorted(ids)
    assert sorted(j["input"] for j in jobs) == [str(tree / "a.mp4"), str(tree / "sub" / "b.mkv")]
    assert {j["status"] for j in jobs} == {"queued"}


@pytest.mark.parametrize(
    ("pattern", "names"),
    [("*.mp4", ["a.mp4"]), ("**/*.mkv", ["sub/b.mkv"]), ("*", ["a.mp4", "sub/b.mkv"])],
)
def test_submit_expands_a_glob_itself(
    pattern: str, names: list[str], mf: Mediaforge, tree: Path
) -> None:
    done = mf("submit", f"{tree}/{pattern}", "--preset", "poster-jpg")

    assert done.code == 0, done.err
    assert len(done.out.split()) == len(names)
    assert sorted(j["input"] for j in mf.jobs()) == [str(tree / n) for n in names]


def test_submit_json_prints_the_queued_jobs(mf: Mediaforge, tree: Path) -> None:
    done = mf("submit", tree / "a.mp4", tree / "sub" / "b.mkv", "-p", "poster-jpg", "--json")

    assert done.code == 0, done.err
    jobs = done.json()
    assert [j["input"] for j in jobs] == [str(tree / "a.mp4"), str(tree / "sub" / "b.mkv")]
    assert {j["status"] for j in jobs} == {"queued"}
    assert jobs[0]["batch"] is not None and jobs[0]["batch"] == jobs[1]["batch"]


# -- looking at jobs and acting on them --------------------------------------------


def test_jobs_filters_by_status_and_limits_newest_first(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4")
    broken = [shutil.copy(clip, clip.with_name(f"broken-{i}.mp4")) for i in range(2)]
    failed = [int(mf.ok("submit", b, "-p", "poster-jpg").out) for b in broken]
    for path in broken:  # not media when the worker gets there
        Path(path).write_text("not a video any more\n")
    mf.burst()
    for path in broken:  # fixed before the retry, which checks the input again
        shutil.copy(clip, path)
    assert mf("submit", clip, "-p", "poster-jpg").code == 0

    done = mf("jobs", "--status", "failed", "--limit", "1", "--json")

    assert done.code == 0, done.err
    [job] = done.json()
    assert (job["id"], job["status"]) == (max(failed), "failed")

    retried = mf("retry", "--failed")

    assert retried.code == 0, retried.err
    assert sorted(j["id"] for j in mf.jobs() if j["status"] == "queued") == [*failed, 3]


def test_jobs_rejects_an_unknown_status_as_a_usage_error(mf: Mediaforge) -> None:
    done = mf("jobs", "--status", "bogus")

    assert done.code == ExitCode.USAGE
    assert "'bogus' is not a job status" in done.err
    assert "Traceback" not in done.err


def test_status_shows_one_job_as_json(mf: Mediaforge, make_media: Callable[..., Path]) -> None:
    [job_id] = mf("submit", make_media("clip.mp4"), "-p", "poster-jpg").out.split()

    done = mf("status", job_id, "--json")

    assert done.code == 0, done.err
    assert {k: done.json()[k] for k in ("id", "status", "preset")} == {
        "id": int(job_id), "status": "queued", "preset": "poster-jpg",
    }  # fmt: skip


def test_status_of_an_unknown_job_is_not_found(mf: Mediaforge) -> None:
    done = mf("status", "999")

    assert done.code == ExitCode.NOT_FOUND
    assert "999" in assert_one_error_line(done)


def test_cancel_then_retry_a_queued_job(mf: Mediaforge, make_media: Callable[..., Path]) -> None:
    [job_id] = mf("submit", make_media("clip.mp4"), "-p", "poster-jpg").out.split()

    cancelled = mf("cancel", job_id)
    again = mf("cancel", job_id)
    status_after_cancel = mf("status", job_id, "--json").json()["status"]
    retried = mf("retry", job_id)

    assert (cancelled.code, cancelled.out.strip()) == (0, f"job {job_id} cancelled")
    assert status_after_cancel == "cancelled"
    assert again.code == ExitCode.FAILURE
    assert "already cancelled" in assert_one_error_line(again)
    assert retried.code == 0, retried.err
    assert mf("status", job_id, "--json").json()["status"] == "queued"


def test_retry_needs_a_job_or_failed(mf: Mediaforge) -> None:
    assert mf("retry").code == ExitCode.USAGE


def test_probe_json_describes_the_streams(mf: Mediaforge, make_media: Callable[..., Path]) -> None:
    source = make_media("clip.mp4")

    done = mf("probe", source, "--json")

    assert done.code == 0, done.err
    info = done.json()
    kinds = {s["kind"]: s for s in info["streams"]}
    assert (kinds["video"]["codec"], kinds["video"]["width"]) == ("h264", 320)
    assert kinds["audio"]["codec"] == "aac"
    assert info["duration"] == pytest.approx(1.0, abs=0.1)


# -- configuration ---------------------------------------------------------------------


def test_config_init_writes_a_file_that_checks_and_shows_without_secrets(
    mf: Mediaforge, tmp_path: Path
) -> None:
    path = tmp_path / "etc" / "mediaforge.yaml"

    created = mf("config", "init", path)
    checked = mf("--config", path, "config", "check")
    again = mf("config", "init", path)

    assert created.code == 0 and path.is_file(), created.err
    assert (checked.code, checked.out.strip()) == (0, f"{path}: ok")
    assert again.code == ExitCode.CONFIG and "already exists" in assert_one_error_line(again)

    text = path.read_text()
    assert "# url: postgresql://mediaforge:secret@" in text
    path.write_text(text.replace("  # url: postgresql://mediaforge:secret@",
                                 "  url: postgresql://mediaforge:hunter2@"))  # fmt: skip
    shown = mf("--config", path, "config", "show")
    shown_json = mf("--config", path, "config", "show", "--json")

    assert shown.code == 0 and shown_json.code == 0, shown.err + shown_json.err
    assert "hunter2" not in shown.out + shown.err + shown_json.out
    assert "postgresql://mediaforge:***@db.example.com/mediaforge" in shown.out
    assert shown_json.json()["database"]["url"].startswith("postgresql://mediaforge:***@")


# -- submit --wait with a worker in another process ----------------------------------


def _wait_for_jobs(mf: Mediaforge, count: int, submitter: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while len(mf.jobs()) < count:
        assert submitter.poll() is None, mf.logs()
        assert time.monotonic() < deadline, "submit --wait queued nothing"
        time.sleep(0.2)


@pytest.mark.parametrize("one_goes_bad", [False, True], ids=["all-succeed", "one-fails"])
def test_submit_wait_exits_when_the_worker_is_done_and_reports_failures(
    one_goes_bad: bool, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    good = make_media("good.mp4", duration=0.4)
    other = make_media("other.mp4", duration=0.4)
    submitter = mf.start("submit", "--wait", good, other, "--preset", "poster-jpg")
    _wait_for_jobs(mf, 2, submitter)
    if one_goes_bad:
        # Replaced after submit checked it: the worker meets a file that is not media.
        other.write_text("not a video any more\n")

    worker = mf("worker", "--burst")
    submitted = mf.finish(submitter, timeout=60)

    assert worker.code == 0, worker.err
    assert submitted.code == (ExitCode.FAILURE if one_goes_bad else ExitCode.OK), submitted.err
    statuses = {Path(j["input"]).name: j["status"] for j in mf.jobs()}
    assert statuses == {"good.mp4": "succeeded",
                        "other.mp4": "failed" if one_goes_bad else "succeeded"}  # fmt: skip
    if one_goes_bad:
        assert f"not a media file ffprobe can read: {other}" in submitted.err
    assert "Traceback" not in submitted.err
