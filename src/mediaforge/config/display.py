"""The configuration as people see it: plain data for ``config show`` and the
commented example that ``config init`` writes.
"""

from __future__ import annotations

import dataclasses
import enum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaforge.config.reader import _SECRET
from mediaforge.redact import MASK, redact_url

if TYPE_CHECKING:
    from mediaforge.config.schema import Config


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The configuration as plain data for ``mediaforge config show`` (JSON and YAML safe).

    Paths become strings; fields marked ``SECRET`` become ``***`` and every
    other string goes through ``redact_url``, so passwords and tokens in URLs
    are hidden.
    """
    result = _plain(cfg)
    assert isinstance(result, dict)
    return result


def config_yaml(data: dict[str, Any]) -> str:
    """``config show`` as YAML that reads like the example config: multi-line
    strings (message templates) as ``|`` blocks, unicode as it is (``→``, not
    ``\\u2192``), and no line folded with a backslash."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    text = yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=float("inf")
    )
    return str(text)


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: MASK
            if f.metadata.get(_SECRET) and getattr(value, f.name) not in (None, {})
            else _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def example_config_text() -> str:
    """The shipped, fully commented example configuration (``mediaforge config init`` writes it)."""
    return (
        resources.files("mediaforge")
        .joinpath("data/config.example.yaml")
        .read_text(encoding="utf-8")
    )
