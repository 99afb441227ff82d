"""The settings sections of the stages (watch rules, notify, s3): read from
the config file, and every bad field reported with its path and line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from mediaforge.config.discovery import load_config
from mediaforge.config.display import example_config_text
from mediaforge.config.reader import parse_dataclass
from mediaforge.config.schema import Config, WatchRule
from mediaforge.errors import ConfigError
from tests.mfcli import REPO, Mediaforge

# -- watch rules ----------------------------------------------------------------------------


def test_watch_rules_are_read_from_the_config_file(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        watch:
          - path: inbox
            presets: [h264-720p, poster-jpg]
            recursive: false
            include: ["*.mov"]
            exclude: ["raw/*"]
            mode: poll
            settle_seconds: 30
            on_success: move
            done_dir: ~/done
            on_failure: move
        """
    )

    config = parse_dataclass(Config, text, tmp_path / "c.yaml", home=tmp_path / "home",
                             supplied={"source": None, "data_dir": tmp_path})

    assert config.watch == (
        WatchRule(
            path=tmp_path / "inbox", presets=("h264-720p", "poster-jpg"), recursive=False,
            include=("*.mov",), exclude=("raw/*",), mode="poll", settle_seconds=30.0,
            on_success="move", done_dir=tmp_path / "home/done", on_failure="move",
        ),
    )


def test_bad_watch_rules_are_reported_field_by_field(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        watch:
          - presets: []
          - path: /in
            presets: [x]
            output_dir: /in
            on_failure: delete
            settle_seconds: -1
        """
    )

    with pytest.raises(ConfigError) as error:
        parse_dataclass(Config, text, tmp_path / "c.yaml",
                        supplied={"source": None, "data_dir": tmp_path})

    problems = "\n".join(error.value.problems)
    assert "watch[0].path: is required" in problems
    assert "watch[0].presets: is required" in problems
    assert "watch[1].on_failure: 'delete' is not allowed; use one of 'keep', 'move'" in problems
    assert "watch[1].settle_seconds: must be at least 0" in problems


def test_an_output_folder_that_is_the_watched_folder_itself_is_refused(tmp_path: Path) -> None:
    text = "watch:\n  - {path: /in, presets: [x], output_dir: /in}\n"

    with pytest.raises(ConfigError) as error:
        parse_dataclass(Config, text, tmp_path / "c.yaml",
                        supplied={"source": None, "data_dir": tmp_path})

    assert "watch[0].output_dir: is the watched folder itself" in error.value.problems[0]


def test_the_example_rule_in_config_example_is_a_valid_rule(tmp_path: Path) -> None:
    text = example_config_text()
    block = text[text.index("# watch:\n"):text.index("\nwatch: []")]
    uncommented = "\n".join(line[2:] for line in block.splitlines())

    config = parse_dataclass(Config, uncommented, tmp_path / "c.yaml",
                             supplied={"source": None, "data_dir": tmp_path})

    assert config.watch == (WatchRule(path=Path("/srv/media/inbox"), presets=("h264-720p",)),)


@pytest.mark.parametrize("key", [f.name for f in WatchRule.__dataclass_fields__.values()])
def test_every_watch_rule_key_is_in_the_example_and_the_docs(key: str) -> None:
    example = example_config_text()
    docs = (REPO / "docs/configuration.md").read_text(encoding="utf-8")

    assert re.search(rf"^#\s+(- )?(# )?{key}:", example, re.MULTILINE), key
    assert f"| `watch[].{key}` |" in docs



# -- notify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("title: '{nam}'", "notify.title: uses {nam}, which is not a field; the fields are: id,"),
        ("digest_body: '{name}'", "notify.digest_body: uses {name}, which is not a field"),
        ("body: 'a {'", "notify.body: is not a valid template"),
        ("targets: [{name: x}]", "notify.targets[0].url: is required"),
        ("targets: [{url: example.com}]", "notify.targets[0].url: is not a URL"),
        ("events: [job_done]", "'job_done' is not allowed; use one of 'job_succeeded'"),
    ],
)
def test_bad_notify_settings_are_reported_with_their_line(
    tmp_path: Path, setting: str, problem: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"notify:\n  {setting}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_config(path, {"HOME": str(tmp_path)})

    assert any(f"{path}:2: " in p and problem in p for p in error.value.problems), (
        error.value.problems
    )



# -- s3 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("region", "'eu west 1'"),
        ("endpoint_url", "'http://nas box:9000'"),
        ("endpoint_url", "http://"),
    ],
)
def test_a_region_or_endpoint_boto3_cannot_use_is_a_config_error(
    tmp_path: Path, setting: str, value: str
) -> None:
    settings = {"bucket": "media", "endpoint_url": "http://127.0.0.1:9", setting: value}
    path = tmp_path / "mediaforge.yaml"
    path.write_text("s3:\n" + "".join(f"  {k}: {v}\n" for k, v in settings.items()), "utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path, {"HOME": str(tmp_path)})
    assert f"s3.{setting}" in "\n".join(caught.value.problems)


def test_config_check_names_each_bad_s3_setting(mf: Mediaforge) -> None:
    mf.configure(
        "s3:\n"
        "  bucket: My_Videos\n"
        "  endpoint_url: http://minio:hunter2@127.0.0.1:9000\n"
        "  storage_class: CHEAPEST\n"
    )
    done = mf("config", "check")
    assert done.code == 3, done.err
    for field, words in (
        ("s3.bucket", "is not a bucket name"),
        ("s3.endpoint_url", "holds credentials"),
        ("s3.storage_class", "is not an S3 storage class"),
    ):
        [line] = [ln for ln in done.err.splitlines() if f"{field}:" in ln]
        assert words in line
    assert "hunter2" not in done.err
    assert "3 problems" in done.err

    # A value out of range is reported on its own: a section's other checks wait for it.
    mf.configure("s3: {bucket: media, link_expiry: 604801}\n")
    done = mf("config", "check")
    assert done.code == 3, done.err
    assert "s3.link_expiry: must be at most 604800, got 604801" in done.err
