"""Configuration: finding the file, validating it, showing it, and hiding secrets.

Every test works on real files under tmp_path, with the environment passed
explicitly and the current folder moved to tmp_path (never the real one).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from mediaforge.config.discovery import (
    SYSTEM_CONFIG,
    candidate_config_files,
    default_data_dir,
    find_config_file,
    load_config,
)
from mediaforge.config.display import config_to_dict, example_config_text
from mediaforge.config.reader import parse_dataclass
from mediaforge.config.schema import (
    Config,
    DatabaseConfig,
    LogConfig,
    OutputConfig,
    QueueConfig,
    VerifyConfig,
    WorkerConfig,
)
from mediaforge.errors import ConfigError, ExitCode
from tests.mfcli import REPO

# Every section added to Config appears here; "source" is not settable in the file.
TOP_LEVEL_KEYS = ", ".join(f.name for f in dataclasses.fields(Config) if f.name != "source")

needs_no_system_config = pytest.mark.skipif(
    SYSTEM_CONFIG.exists(), reason=f"this machine has {SYSTEM_CONFIG}, which would be found"
)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def env(home: Path, cwd: Path) -> dict[str, str]:
    """A clean environment: a fresh HOME and nothing else (cwd is moved too)."""
    return {"HOME": str(home)}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(text: str, tmp_path: Path, env: dict[str, str]) -> tuple[Path, ConfigError]:
    path = write(tmp_path / "conf" / "config.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    return path, caught.value


def dotted_keys(cls: type[Any], prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        key = f"{prefix}{f.name}"
        keys.append(key)
        if isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            keys.extend(dotted_keys(f.default_factory, key + "."))
    return keys


# -- finding the file ---------------------------------------------------------


@needs_no_system_config
def test_built_in_defaults_apply_when_no_file_exists(env: dict[str, str], home: Path) -> None:
    config = load_config(None, env)

    assert config == Config(source=None, data_dir=home / ".local/share/mediaforge")
    assert config.worker == WorkerConfig()
    assert config.output.collision == "rename"
    assert config.output.dir is None
    assert config.queue.backend == "sqlite"
    assert config.database.url is None
    assert config.log.level == "info"


@pytest.mark.parametrize(
    ("xdg_data_home", "expected"),
    [
        (None, "home/.local/share/mediaforge"),
        ("", "home/.local/share/mediaforge"),
        ("{tmp}/xdg-data", "xdg-data/mediaforge"),
        ("relative/data", "home/.local/share/mediaforge"),  # the XDG spec ignores relative values
    ],
)
def test_default_data_dir_follows_xdg_data_home(
    tmp_path: Path, env: dict[str, str], xdg_data_home: str | None, expected: str
) -> None:
    if xdg_data_home is not None:
        env["XDG_DATA_HOME"] = xdg_data_home.format(tmp=tmp_path)

    assert default_data_dir(env) == tmp_path / expected


@pytest.mark.parametrize(
    ("present", "winner"),
    [
        (("explicit", "env", "cwd", "xdg", "home_config"), "explicit"),
        (("env", "cwd", "xdg", "home_config"), "env"),
        (("cwd", "xdg", "home_config"), "cwd"),
        (("xdg", "home_config"), "xdg"),
        (("home_config",), "home_config"),
    ],
)
def test_config_file_is_found_in_precedence_order(
    tmp_path: Path,
    cwd: Path,
    home: Path,
    env: dict[str, str],
    present: tuple[str, ...],
    winner: str,
) -> None:
    places = {
        "explicit": tmp_path / "explicit.yaml",
        "env": tmp_path / "from-env.yaml",
        "cwd": cwd / "mediaforge.yaml",
        "xdg": tmp_path / "xdg-config/mediaforge/config.yaml",
        "home_config": home / ".config/mediaforge/config.yaml",
    }
    for name in present:
        write(places[name], f"ffmpeg: ffmpeg-from-{name}\n")
    explicit = places["explicit"] if "explicit" in present else None
    if "env" in present:
        env["MEDIAFORGE_CONFIG"] = str(places["env"])
    if "xdg" in present:
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")

    assert find_config_file(explicit, env) == places[winner]
    config = load_config(explicit, env)
    assert config.source == places[winner]
    assert config.ffmpeg == f"ffmpeg-from-{winner}"


def test_the_system_file_is_searched_last(tmp_path: Path, cwd: Path, env: dict[str, str]) -> None:
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")

    assert candidate_config_files(env) == [
        cwd / "mediaforge.yaml",
        tmp_path / "xdg/mediaforge/config.yaml",
        Path("/etc/mediaforge/config.yaml"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("conf/my.yaml", "cwd/conf/my.yaml"),
        ("~/my.yaml", "home/my.yaml"),
        ("{tmp}/abs.yaml", "abs.yaml"),
    ],
)
@pytest.mark.parametrize("given_by", ["explicit", "env"])
def test_named_config_paths_are_expanded_and_made_absolute(
    tmp_path: Path, env: dict[str, str], given_by: str, name: str, expected: str
) -> None:
    write(tmp_path / expected, "ffprobe: my-ffprobe\n")
    name = name.format(tmp=tmp_path)
    explicit = Path(name) if given_by == "explicit" else None
    if given_by == "env":
        env["MEDIAFORGE_CONFIG"] = name

    config = load_config(explicit, env)

    assert config.source == tmp_path / expected
    assert config.ffprobe == "my-ffprobe"


@pytest.mark.parametrize(
    ("given_by", "origin"),
    [("explicit", "given with --config"), ("env", "named by $MEDIAFORGE_CONFIG")],
)
def test_a_named_config_file_that_does_not_exist_is_an_error(
    tmp_path: Path, cwd: Path, env: dict[str, str], given_by: str, origin: str
) -> None:
    write(cwd / "mediaforge.yaml", "{}\n")  # must not be used as a fall-back
    missing = tmp_path / "nope.yaml"
    explicit = missing if given_by == "explicit" else None
    if given_by == "env":
        env["MEDIAFORGE_CONFIG"] = str(missing)

    with pytest.raises(ConfigError) as caught:
        load_config(explicit, env)

    assert str(caught.value) == (
        f"config file {missing} ({origin}) does not exist; fix the path, "
        f"or create it with 'mediaforge config init {missing}'"
    )
    assert caught.value.exit_code == ExitCode.CONFIG


def test_a_named_config_that_is_a_folder_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="is a folder; name a YAML file inside it"):
        find_config_file(tmp_path, env)


def test_an_empty_mediaforge_config_variable_is_ignored(cwd: Path, env: dict[str, str]) -> None:
    write(cwd / "mediaforge.yaml", "ffmpeg: local-ffmpeg\n")
    env["MEDIAFORGE_CONFIG"] = ""

    assert load_config(None, env).ffmpeg == "local-ffmpeg"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_an_unreadable_file_is_a_config_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path / "secret.yaml", "ffmpeg: x\n")
    path.chmod(0)

    with pytest.raises(ConfigError, match=f"cannot read config file {path}: Permission denied"):
        load_config(path, env)


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("ffmpeg: caf\xe9\n".encode("latin-1"))

    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path, env)


# -- data_dir and paths -------------------------------------------------------


@pytest.mark.parametrize(
    ("in_file", "in_env", "expected"),
    [
        (None, None, "home/.local/share/mediaforge"),
        ("data", None, "conf/data"),
        ("/srv/mf", None, "/srv/mf"),
        ("data", "{tmp}/from-env", "from-env"),
        (None, "{tmp}/from-env", "from-env"),
        ("data", "relative", "cwd/relative"),
        ("data", "~/mf-data", "home/mf-data"),
        ("data", "", "conf/data"),
    ],
)
def test_mediaforge_data_dir_beats_the_file_which_beats_the_default(
    tmp_path: Path, env: dict[str, str], in_file: str | None, in_env: str | None, expected: str
) -> None:
    path = write(tmp_path / "conf/config.yaml", f"data_dir: {in_file}\n" if in_file else "")
    if in_env is not None:
        env["MEDIAFORGE_DATA_DIR"] = in_env.format(tmp=tmp_path)

    assert load_config(path, env).data_dir == tmp_path / expected


@needs_no_system_config
def test_mediaforge_data_dir_applies_without_a_file(tmp_path: Path, env: dict[str, str]) -> None:
    env["MEDIAFORGE_DATA_DIR"] = str(tmp_path / "data")

    config = load_config(None, env)

    assert config.source is None
    assert config.data_dir == tmp_path / "data"


def test_relative_paths_resolve_against_the_config_files_folder(
    tmp_path: Path, home: Path, env: dict[str, str]
) -> None:
    path = write(
        tmp_path / "etc/mf/config.yaml",
        """\
        data_dir: state
        presets_dir: ./presets
        output:
          dir: ../../media/out
        log:
          file: ~/logs/mf.log
        """,
    )

    config = load_config(path, env)

    assert config.data_dir == tmp_path / "etc/mf/state"
    assert config.presets_dir == tmp_path / "etc/mf/presets"
    assert config.output.dir == tmp_path / "media/out"
    assert config.log.file == home / "logs/mf.log"


def test_every_setting_can_be_changed(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(
        tmp_path / "conf/config.yaml",
        """\
        data_dir: /var/lib/mediaforge
        ffmpeg: /opt/ffmpeg/bin/ffmpeg
        ffprobe: /opt/ffmpeg/bin/ffprobe
        probe_timeout: 45
        presets_dir: /etc/mediaforge/presets
        output:
          dir: /srv/out
          collision: fail
        worker:
          workers: 4
          heartbeat_interval: 1
          stale_after: 30
          stall_timeout: 300.5
          max_attempts: 1
          retry_backoff: 0
          shutdown_grace: 0
          recovery_interval: 15
        verify:
          duration_tolerance: 1
          duration_tolerance_ratio: 0.1
        queue:
          backend: redis
          url: redis://:pw@queue:6379/0
        database:
          url: postgresql://mf:pw@db/mf
        log:
          level: debug
          format: json
          file: /var/log/mediaforge.log
        """,
    )

    config = load_config(path, env)

    assert config == Config(
        source=path,
        data_dir=Path("/var/lib/mediaforge"),
        ffmpeg="/opt/ffmpeg/bin/ffmpeg",
        ffprobe="/opt/ffmpeg/bin/ffprobe",
        probe_timeout=45.0,
        presets_dir=Path("/etc/mediaforge/presets"),
        output=OutputConfig(dir=Path("/srv/out"), collision="fail"),
        worker=WorkerConfig(
            workers=4,
            heartbeat_interval=1.0,
            stale_after=30.0,
            stall_timeout=300.5,
            max_attempts=1,
            retry_backoff=0.0,
            shutdown_grace=0.0,
            recovery_interval=15,
        ),
        verify=VerifyConfig(duration_tolerance=1.0, duration_tolerance_ratio=0.1),
        queue=QueueConfig(backend="redis", url="redis://:pw@queue:6379/0"),
        database=DatabaseConfig(url="postgresql://mf:pw@db/mf"),
        log=LogConfig(level="debug", format="json", file=Path("/var/log/mediaforge.log")),
    )
    # Whole numbers given for float settings become floats.
    assert type(config.probe_timeout) is float
    assert type(config.worker.heartbeat_interval) is float


def test_config_is_frozen(env: dict[str, str], tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.yaml", ""), env)

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.ffmpeg = "other"  # type: ignore[misc]


# -- empty files, empty sections, merges -------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# nothing but a comment\n",
        "---\n",
        "null\n",
        "~\n",
        "{}\n",
        "worker:\n",
        "worker: {}\noutput:\n  # dir: /srv/out\n",
        "output:\n  dir:\nlog:\n  file: null\n",
    ],
)
def test_empty_files_and_sections_mean_defaults(
    tmp_path: Path, env: dict[str, str], home: Path, text: str
) -> None:
    path = write(tmp_path / "c.yaml", text)

    assert load_config(path, env) == Config(source=path, data_dir=default_data_dir(env))


def test_yaml_merge_keys_work_and_a_key_beside_a_merge_overrides_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(
        tmp_path / "c.yaml",
        """\
        verify:
          <<: {duration_tolerance: 1.5, duration_tolerance_ratio: 0.1}
          duration_tolerance_ratio: 0.05
        """,
    )

    assert load_config(path, env).verify == VerifyConfig(1.5, 0.05)


# -- the example file ---------------------------------------------------------


@pytest.mark.parametrize("where", ["packaged", "repository"])
def test_the_example_file_loads_to_exactly_the_defaults(
    tmp_path: Path, env: dict[str, str], where: str
) -> None:
    if where == "packaged":
        path = write(tmp_path / "example.yaml", example_config_text())
    else:
        path = REPO / "config.example.yaml"

    config = load_config(path, env)

    assert config == Config(source=path, data_dir=default_data_dir(env))


def test_the_repository_example_is_a_relative_symlink_to_the_packaged_one() -> None:
    link = REPO / "config.example.yaml"

    assert link.is_symlink()
    assert os.readlink(link) == "src/mediaforge/data/config.example.yaml"
    assert link.read_text(encoding="utf-8") == example_config_text()


@pytest.mark.parametrize("key", dotted_keys(Config))
def test_every_key_is_in_the_example_and_the_docs(key: str) -> None:
    example = example_config_text().splitlines()
    *sections, name = key.split(".")
    indent = "  " * len(sections)
    documented = [
        line
        for line in example
        if line.startswith(f"{indent}{name}:") or line.startswith(f"{indent}# {name}:")
    ]
    assert documented, f"{key} is missing from config.example.yaml"
    # A comment explains it: above it, or above the keys grouped with it.
    index = example.index(documented[0]) - 1
    while index >= 0 and example[index].strip() and not example[index].lstrip().startswith("#"):
        index -= 1
    assert index >= 0 and example[index].lstrip().startswith("#"), f"{key} has no comment"

    docs = (REPO / "docs/configuration.md").read_text(encoding="utf-8")
    is_section = any(k.startswith(key + ".") for k in dotted_keys(Config))
    assert (f"### `{key}`" if is_section else f"| `{key}` |") in docs


# -- problems -----------------------------------------------------------------

BAD = """\
ffmpeg: 12
probe_timeout: 0
wokers: 3
output:
  dir: [a, b]
  collision: clobber
worker:
  workers: 0
  heartbeat_interval: fast
  max_attempts: 2.5
  retry_backoff: -1
  shutdown_grace: "10"
  stall_timeout:
verify:
  duration_tolerance_ratio: 2
queue:
  backend: rabbitmq
database: postgresql://u:hunter2@db/jobs
log:
  level: INFO
  format: json
  colour: true
"""


def test_every_bad_field_is_reported_with_its_line(tmp_path: Path, env: dict[str, str]) -> None:
    path, error = problems_of(BAD, tmp_path, env)

    assert str(error) == f"{path}: 16 problems in the configuration"
    assert error.problems == [
        f"{path}:1: ffmpeg: expected text, got '12' (a whole number); put it in quotes",
        f"{path}:2: probe_timeout: must be greater than 0, got 0",
        f"{path}:3: wokers: unknown key; did you mean 'worker'?",
        f"{path}:5: output.dir: expected a path, got a list",
        f"{path}:6: output.collision: 'clobber' is not allowed; "
        "use one of 'rename', 'skip', 'overwrite', 'fail'",
        f"{path}:8: worker.workers: must be at least 1, got 0",
        f"{path}:9: worker.heartbeat_interval: expected a number, got 'fast' (text)",
        f"{path}:10: worker.max_attempts: expected a whole number, got '2.5' (a number)",
        f"{path}:11: worker.retry_backoff: must be at least 0, got -1",
        f"{path}:12: worker.shutdown_grace: expected a number, got '10' (text); remove the quotes",
        f"{path}:13: worker.stall_timeout: has no value; give one, "
        "or delete the line to use the default",
        f"{path}:15: verify.duration_tolerance_ratio: must be at most 1, got 2",
        f"{path}:17: queue.backend: 'rabbitmq' is not allowed; "
        "use one of 'sqlite', 'redis', 'postgres'",
        f"{path}:18: database: expected a mapping of settings (key: value lines), "
        "got 'postgresql://u:***@db/jobs' (text)",
        f"{path}:20: log.level: 'INFO' is not allowed; "
        "use one of 'debug', 'info', 'warning', 'error' (did you mean 'info'?)",
        f"{path}:22: log.colour: unknown key; the keys allowed in 'log' are: level, format, file",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "worker:\n  workers: true\n",
            "2: worker.workers: expected a whole number, got 'true' (true or false)",
        ),
        (
            "worker:\n  workers: '2'\n",
            "2: worker.workers: expected a whole number, got '2' (text); remove the quotes",
        ),
        (
            "worker:\n  retry_backoff: 'soon'\n",
            "2: worker.retry_backoff: expected a number, got 'soon' (text)",
        ),
        ("worker:\n  max_attempts: 0\n", "2: worker.max_attempts: must be at least 1, got 0"),
        (
            "worker:\n  recovery_interval: 0\n",
            "2: worker.recovery_interval: must be at least 1, got 0",
        ),
        (
            "worker:\n  stall_timeout: -3\n",
            "2: worker.stall_timeout: must be greater than 0, got -3",
        ),
        (
            "worker:\n  heartbeat_interval: 0\n",
            "2: worker.heartbeat_interval: must be greater than 0, got 0",
        ),
        (
            "worker:\n  stale_after: .inf\n",
            "2: worker.stale_after: must be a finite number, got inf",
        ),
        ("probe_timeout: .nan\n", "1: probe_timeout: must be a finite number, got nan"),
        (
            "verify:\n  duration_tolerance: -0.1\n",
            "2: verify.duration_tolerance: must be at least 0, got -0.1",
        ),
        ("ffprobe: ''\n", "1: ffprobe: is empty; give a value, or delete the line"),
        ("ffprobe:\n", "1: ffprobe: has no value; give one, or delete the line to use the default"),
        ("ffprobe: [a]\n", "1: ffprobe: expected text, got a list"),
        (
            "presets_dir: {a: 1}\n",
            "1: presets_dir: expected a path, got a mapping (indented key: value lines)",
        ),
        (
            "presets_dir: 2024-01-01\n",
            "1: presets_dir: expected a path, got '2024-01-01' (a date); put it in quotes",
        ),
        (
            "presets_dir: !custom x\n",
            "1: presets_dir: cannot read this value: "
            "could not determine a constructor for the tag '!custom'",
        ),
        ("log:\n  format: [json]\n", "2: log.format: expected one of 'text', 'json', got a list"),
        (
            "output: rename\n",
            "1: output: expected a mapping of settings (key: value lines), got 'rename' (text)",
        ),
        (
            "source: /x.yaml\n",
            "1: source: unknown key; the keys allowed at the top level are: " + TOP_LEVEL_KEYS,
        ),
        (
            "worker:\n  workers: 1\n  workers: 2\n",
            "3: worker.workers: is given twice (also on line 2); delete one",
        ),
        ("worker:\n  1: 2\n", "2: worker: '1' (a whole number) cannot be a key; use a name"),
        (
            "database:\n  url: mysql://db/mf\n",
            "2: database.url: 'mysql://db/mf' is not a supported database URL; "
            "it must start with sqlite:// or postgres:// or postgresql://",
        ),
        (
            "queue:\n  backend: redis\n",
            "1: queue.url: is required when queue.backend is 'redis'; e.g. redis://...",
        ),
        (
            "queue:\n  backend: postgres\n  url: redis://h/0\n",
            "3: queue.url: 'redis://h/0' does not suit queue.backend 'postgres'; "
            "it must start with postgres:// or postgresql://",
        ),
        (
            "queue:\n  url: postgresql://h/db\n",
            "2: queue.url: 'postgresql://h/db' is a URL, but the sqlite backend takes a file "
            "path; set queue.backend to 'redis' or 'postgres' to use a server",
        ),
        (
            "worker:\n  heartbeat_interval: 10\n  stale_after: 10\n",
            "3: worker.stale_after: must be longer than heartbeat_interval (10 s), got 10; "
            "use at least 10 times heartbeat_interval",
        ),
    ],
)
def test_each_kind_of_bad_value_is_explained(
    tmp_path: Path, env: dict[str, str], text: str, expected: str
) -> None:
    path, error = problems_of(text, tmp_path, env)

    assert error.problems == [f"{path}:{expected}"]
    assert str(error) == f"{path}: 1 problem in the configuration"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wrker:\n  workers: 2\n", "1: wrker: unknown key; did you mean 'worker'?"),
        ("worker:\n  wrkers: 2\n", "2: worker.wrkers: unknown key; did you mean 'workers'?"),
        ("log:\n  levle: info\n", "2: log.levle: unknown key; did you mean 'level'?"),
        (
            "workers: 2\n",
            "1: workers: unknown key here; did you mean 'worker.workers'? "
            "(it belongs under 'worker:')",
        ),
        (
            "log:\n  ffmpeg: x\n",
            "2: log.ffmpeg: unknown key here; did you mean 'ffmpeg'? (it belongs at the top level)",
        ),
        (
            "zzz: 1\n",
            "1: zzz: unknown key; the keys allowed at the top level are: " + TOP_LEVEL_KEYS,
        ),
    ],
)
def test_unknown_keys_come_with_a_suggestion(
    tmp_path: Path, env: dict[str, str], text: str, expected: str
) -> None:
    path, error = problems_of(text, tmp_path, env)

    assert error.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "1: expected a mapping of settings (key: value lines), got a list"),
        (
            "just some text\n",
            "1: expected a mapping of settings (key: value lines), got 'just some text' (text)",
        ),
        (
            "\n\n42\n",
            "3: expected a mapping of settings (key: value lines), got '42' (a whole number)",
        ),
    ],
)
def test_a_top_level_that_is_not_a_mapping_is_reported(
    tmp_path: Path, env: dict[str, str], text: str, expected: str
) -> None:
    path, error = problems_of(text, tmp_path, env)

    assert error.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("worker:\n  workers: 1\n   bad: x\n", "3:7", "mapping values are not allowed here"),
        ("worker: [1, 2\n", "2:1", "expected ',' or ']', but got '<stream end>'"),
        ("worker:\n\tworkers: 1\n", "2:1", "found character '\\t' that cannot start any token"),
        ("ffmpeg: 'unterminated\n", "2:1", "found unexpected end of stream"),
        ("ffmpeg: *nowhere\n", "1:9", "found undefined alias 'nowhere'"),
        ("a: 1\n---\nb: 2\n", "2:1", "but found another document"),
    ],
)
def test_a_yaml_syntax_error_gives_line_and_column(
    tmp_path: Path, env: dict[str, str], text: str, where: str, problem: str
) -> None:
    path, error = problems_of(text, tmp_path, env)

    assert str(error).startswith(f"{path}:{where}: not valid YAML: {problem}")
    assert error.exit_code == ExitCode.CONFIG


def test_tabs_come_with_a_hint(tmp_path: Path, env: dict[str, str]) -> None:
    _, error = problems_of("worker:\n\tworkers: 1\n", tmp_path, env)

    assert str(error).endswith("; indent with spaces, not tabs")


@pytest.mark.parametrize(
    "text",
    [
        "database: postgresql://u:hunter2@db/jobs\n",
        "database:\n  url: mysql://u:hunter2@db/jobs\n",
        "queue:\n  backend: redis\n  url: postgresql://u:hunter2@db/jobs\n",
        "queue:\n  url: redis://:hunter2@db/0\n",
        "log:\n  level: postgresql://u:hunter2@db/jobs\n",
    ],
)
def test_problems_never_show_a_password(tmp_path: Path, env: dict[str, str], text: str) -> None:
    _, error = problems_of(text, tmp_path, env)

    assert error.problems
    assert not any("hunter2" in problem for problem in error.problems)
    assert "hunter2" not in str(error)


# -- the generic validator ----------------------------------------------------


class Speed(enum.StrEnum):
    FAST = "fast"
    SLOW = "slow"


@dataclass(frozen=True)
class Target:
    url: str = "json://localhost"
    events: list[Literal["succeeded", "failed"]] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    enabled: bool = False
    tags: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    sizes: tuple[int, ...] = ()
    fallback: Target | None = None
    primary: Target = field(default_factory=Target)
    speed: Speed = Speed.FAST


@dataclass(frozen=True)
class Root:
    section: Section = field(default_factory=Section)


@dataclass(frozen=True)
class Unsupported:
    names: set[str] = field(default_factory=set)


def test_the_validator_reads_lists_dicts_tuples_and_nested_dataclasses(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        section:
          enabled: yes
          tags: [a, b]
          folders: [in, ~/media]
          targets:
            - url: mailtos://me:pw@example.com
              events: [failed]
            - {}
          headers: {X-Token: abc}
          sizes: [1, 2]
          fallback:
            url: json://backup
          speed: slow
        """
    )

    root = parse_dataclass(Root, text, tmp_path / "c.yaml", home=tmp_path / "home")

    assert root == Root(
        Section(
            enabled=True,
            tags=["a", "b"],
            folders=[tmp_path / "in", tmp_path / "home/media"],
            targets=[Target("mailtos://me:pw@example.com", ["failed"]), Target()],
            headers={"X-Token": "abc"},
            sizes=(1, 2),
            fallback=Target("json://backup"),
            speed=Speed.SLOW,
        )
    )


def test_the_validator_reports_bad_items_by_index(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        section:
          enabled: "yes"
          tags: [a, 2]
          folders: in
          targets:
            - url: json://x
            - events: [failed, started]
              colour: red
          headers:
            X-Count: 5
          sizes: [1, two]
          primary:
          speed: warp
        """
    )
    file = tmp_path / "c.yaml"

    with pytest.raises(ConfigError) as caught:
        parse_dataclass(Root, text, file)

    assert caught.value.problems == [
        f"{file}:2: section.enabled: expected true or false, got 'yes' (text); remove the quotes",
        f"{file}:3: section.tags[1]: expected text, got '2' (a whole number); put it in quotes",
        f"{file}:4: section.folders: expected a list, got 'in' (text)",
        f"{file}:7: section.targets[1].events[1]: 'started' is not allowed; "
        "use one of 'succeeded', 'failed'",
        f"{file}:8: section.targets[1].colour: unknown key; the keys allowed in "
        "'section.targets[1]' are: url, events",
        f"{file}:10: section.headers.X-Count: expected text, got '5' (a whole number); "
        "put it in quotes",
        f"{file}:11: section.sizes[1]: expected a whole number, got 'two' (text)",
        f"{file}:13: section.speed: 'warp' is not allowed; use one of 'fast', 'slow'",
    ]


def test_the_validator_refuses_types_it_does_not_support(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unsupported type"):
        parse_dataclass(Unsupported, "names: [a]\n", tmp_path / "c.yaml")


# -- config_to_dict -----------------------------------------------------------


def test_config_to_dict_is_plain_data_with_secrets_hidden(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(
        tmp_path / "conf/config.yaml",
        """\
        data_dir: data
        queue:
          backend: redis
          url: redis://:queuepass@queue:6379/0
        database:
          url: postgresql://mediaforge:dbpass@db.example.com/mediaforge
        """,
    )

    shown = config_to_dict(load_config(path, env))

    assert shown["source"] == str(path)
    assert shown["data_dir"] == str(tmp_path / "conf/data")
    assert shown["database"] == {"url": "postgresql://mediaforge:***@db.example.com/mediaforge"}
    assert shown["queue"] == {"backend": "redis", "url": "redis://:***@queue:6379/0"}
    assert shown["worker"]["max_attempts"] == 3
    assert shown["output"] == {"dir": None, "collision": "rename"}
    dumped = json.dumps(shown) + yaml.safe_dump(shown)
    assert "queuepass" not in dumped
    assert "dbpass" not in dumped


@needs_no_system_config
def test_config_to_dict_of_the_defaults(env: dict[str, str], home: Path) -> None:
    shown = config_to_dict(load_config(None, env))

    assert shown["source"] is None
    assert shown["data_dir"] == str(home / ".local/share/mediaforge")
    assert list(shown) == [f.name for f in dataclasses.fields(Config)]
