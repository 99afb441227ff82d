"""The generic YAML reader: builds a typed, frozen dataclass tree from YAML text
and reports every bad field with its file and line.

It knows nothing of mediaforge's own settings: the configuration schema and
the presets both describe themselves as dataclasses and are read with
``parse_dataclass``. Field metadata (``limits``, ``NOT_IN_FILE``, ``SECRET``)
is the vocabulary a dataclass uses to tell it more than its type hints.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mediaforge.errors import ConfigError
from mediaforge.redact import redact_url

T = TypeVar("T")

# Field metadata understood by the validator.
_GE, _GT, _LE = "ge", "gt", "le"
_SECRET = "secret"
_IN_FILE = "in_file"

SECRET: Mapping[str, bool] = {_SECRET: True}
"""Field metadata: the whole value is a secret, shown as ``***`` by ``config_to_dict``."""

NOT_IN_FILE: Mapping[str, bool] = {_IN_FILE: False}
"""Field metadata: the value is decided by the loader and may not be set in the file."""


def limits(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None
) -> dict[str, float]:
    """Field metadata: the range a number must lie in (``ge``: >=, ``gt``: >, ``le``: <=)."""
    bounds = {_GE: ge, _GT: gt, _LE: le}
    return {name: value for name, value in bounds.items() if value is not None}


def _resolve_path(text: str, base_dir: Path, home: Path) -> Path:
    """Expand ``~`` (with ``home``) and make ``text`` absolute against ``base_dir``."""
    # Path.expanduser reads $HOME from os.environ; use the env we were given.
    # "~user/..." still goes through expanduser (RuntimeError for an unknown user).
    tilde = text == "~" or text.startswith("~/")
    path = home / text[2:] if tilde else Path(text).expanduser()
    # normpath, not resolve(): keep the user's symlinks as written.
    return Path(os.path.normpath(base_dir / path))


def parse_dataclass(
    cls: type[T],
    text: str,
    file: Path,
    *,
    home: Path | None = None,
    supplied: Mapping[str, object] | None = None,
) -> T:
    """Build a ``cls`` instance from YAML ``text`` read from ``file``: the generic validator.

    Supported field types: str, int, float (ints accepted), bool, Path (``~``
    expanded with ``home``, relative paths resolved against ``file``'s
    folder), ``Literal[...]``, ``X | None``, ``list[X]``, ``tuple[X, ...]``,
    ``dict[str, X]`` and nested dataclasses (an empty section means its
    defaults). ``supplied`` gives values for fields that have no default or
    are marked ``NOT_IN_FILE``; the file wins for the others. An empty file
    gives the defaults.

    Raises ConfigError for invalid YAML (with line and column) or, with every
    problem listed as ``"{file}:{line}: {dotted.key}: {problem}"``, for
    invalid settings.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise ConfigError(_yaml_error_message(file, e)) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{file}: not valid YAML: {e}") from None
    reader = _Reader(file=file, base_dir=file.parent, home=home or Path.home(), root=cls)
    line = 1 if root is None else root.start_mark.line + 1
    result = reader.convert(cls, root, "", line, supplied)
    if reader.problems:
        reader.problems.sort(key=lambda problem: problem[0])
        count = len(reader.problems)
        raise ConfigError(
            f"{file}: {count} problem{'s' if count != 1 else ''} in the configuration",
            problems=[message for _, message in reader.problems],
        )
    assert isinstance(result, cls)
    return result


def _yaml_error_message(file: Path, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
    message = f"{where}: not valid YAML: {error.problem or error.context}"
    if error.problem and error.context and error.context_mark:
        message += f" ({error.context} on line {error.context_mark.line + 1})"
    if error.problem and "\\t" in error.problem:
        message += "; indent with spaces, not tabs"
    return message


_INVALID: Any = object()  # a value that failed validation (already reported)

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"

_KIND = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    Path: "a path",
}


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _NULL_TAG)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _shown(text: str) -> str:
    """A value as quoted in a problem: secrets masked, long values shortened."""
    text = redact_url(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _dataclass_keys(cls: type[Any], prefix: str = "") -> Iterator[str]:
    """Every dotted key of a dataclass tree (not descending into lists or dicts)."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get(_IN_FILE, True):
            continue
        key = _join(prefix, f.name)
        yield key
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _dataclass_keys(hints[f.name], key)


def _unquoted_is_valid(tp: type[Any], text: str) -> bool:
    """Whether ``text`` would have been a valid ``tp`` had it not been quoted."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    if tp is bool:
        return isinstance(value, bool)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and (tp is float or isinstance(value, int))


def _range_problem(metadata: Mapping[str, Any], value: float) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    ge, gt, le = metadata.get(_GE), metadata.get(_GT), metadata.get(_LE)
    if ge is not None and value < ge:
        return f"must be at least {ge:g}, got {value:g}"
    if gt is not None and value <= gt:
        return f"must be greater than {gt:g}, got {value:g}"
    if le is not None and value > le:
        return f"must be at most {le:g}, got {value:g}"
    return None


@dataclass
class _Reader:
    """Walks composed YAML nodes along the type hints, collecting problems."""

    file: Path
    base_dir: Path
    home: Path
    root: type[Any]
    problems: list[tuple[int, str]] = field(default_factory=list)
    constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def report(self, line: int, key: str, message: str) -> None:
        where = f"{key}: " if key else ""
        self.problems.append((line, f"{self.file}:{line}: {where}{message}"))

    def scalar(self, node: ScalarNode, key: str) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            self.report(_line(node), key, f"cannot read this value: {problem}")
            return _INVALID

    def describe(self, node: Node) -> str:
        if isinstance(node, MappingNode):
            return "a mapping (indented key: value lines)"
        if isinstance(node, SequenceNode):
            return "a list"
        assert isinstance(node, ScalarNode)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError:
            value = None
        kind = _KIND.get(type(value), "a date" if hasattr(value, "isoformat") else "a value")
        return f"{_shown(node.value)} ({kind})"

    def mismatch(self, node: Node, key: str, expected: str, hint: str = "") -> Any:
        self.report(_line(node), key, f"expected {expected}, got {self.describe(node)}{hint}")
        return _INVALID

    def convert(
        self,
        tp: Any,
        node: Node | None,
        key: str,
        key_line: int,
        supplied: Mapping[str, object] | None = None,
    ) -> Any:
        """The value of ``node`` as type ``tp``, or ``_INVALID`` after reporting why not."""
        origin = get_origin(tp)
        if origin is Union or origin is types.UnionType:
            others = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(others) != 1 or len(get_args(tp)) != 2:
                raise TypeError(f"config field {key}: only 'X | None' unions are supported")
            return None if _is_null(node) else self.convert(others[0], node, key, key_line)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if _is_null(node):
                return self.dataclass(tp, None, key, key_line, supplied)
            if not isinstance(node, MappingNode):
                assert node is not None
                return self.mismatch(node, key, "a mapping of settings (key: value lines)")
            return self.dataclass(tp, node, key, key_line, supplied)
        if node is None or _is_null(node):
            line = key_line if node is None else _line(node)
            self.report(line, key, "has no value; give one, or delete the line to use the default")
            return _INVALID
        if origin is Literal:
            return self.literal(get_args(tp), node, key)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            value = self.literal(tuple(member.value for member in tp), node, key)
            return value if value is _INVALID else tp(value)
        if origin is list or origin is tuple:
            return self.sequence(tp, node, key)
        if origin is dict:
            return self.mapping(tp, node, key)
        if tp in _KIND:
            return self.plain(tp, node, key)
        raise TypeError(f"config field {key}: unsupported type {tp!r}")

    def plain(self, tp: type[Any], node: Node, key: str) -> Any:
        expected = _KIND[tp]
        if not isinstance(node, ScalarNode):
            return self.mismatch(node, key, expected)
        value = self.scalar(node, key)
        if value is _INVALID:
            return _INVALID
        if tp is str or tp is Path:
            if not isinstance(value, str):
                return self.mismatch(node, key, expected, "; put it in quotes")
            if not value.strip():
                self.report(_line(node), key, "is empty; give a value, or delete the line")
                return _INVALID
            if tp is str:
                return value
            try:
                return _resolve_path(value, self.base_dir, self.home)
            except RuntimeError as e:  # "~nobody/..."
                self.report(_line(node), key, f"{e}; use an absolute path")
                return _INVALID
        quoted = "; remove the quotes" if node.style and _unquoted_is_valid(tp, node.value) else ""
        if tp is bool:
            if isinstance(value, bool):
                return value
            return self.mismatch(node, key, expected, quoted)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.mismatch(node, key, expected, quoted)
        if tp is int and not isinstance(value, int):
            return self.mismatch(node, key, expected)
        return tp(value)

    def literal(self, allowed: tuple[Any, ...], node: Node, key: str) -> Any:
        choices = ", ".join(repr(choice) for choice in allowed)
        if not isinstance(node, ScalarNode):
            return self.mismatch(node, key, f"one of {choices}")
        value = self.scalar(node, key)
        if value is _INVALID:
            return _INVALID
        for choice in allowed:
            if type(value) is type(choice) and value == choice:
                return value
        message = f"{_shown(node.value)} is not allowed; use one of {choices}"
        close = difflib.get_close_matches(node.value.lower(), [str(a) for a in allowed], n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        self.report(_line(node), key, message)
        return _INVALID

    def sequence(self, tp: Any, node: Node, key: str) -> Any:
        args = get_args(tp)
        if get_origin(tp) is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            raise TypeError(f"config field {key}: only tuple[X, ...] is supported")
        if not isinstance(node, SequenceNode):
            return self.mismatch(node, key, "a list")
        items = [
            self.convert(args[0], item, f"{key}[{i}]", _line(item))
            for i, item in enumerate(node.value)
        ]
        if any(item is _INVALID for item in items):
            return _INVALID
        return tuple(items) if get_origin(tp) is tuple else items

    def mapping(self, tp: Any, node: Node, key: str) -> Any:
        key_type, value_type = get_args(tp)
        if key_type is not str:
            raise TypeError(f"config field {key}: only dict[str, X] is supported")
        if not isinstance(node, MappingNode):
            return self.mismatch(node, key, "a mapping (indented key: value lines)")
        result: dict[str, Any] = {}
        valid = True
        for name, name_line, value_node in self.items(node, key):
            value = self.convert(value_type, value_node, _join(key, name), name_line)
            valid = valid and value is not _INVALID
            result[name] = value
        return result if valid else _INVALID

    def items(self, node: MappingNode, key: str) -> Iterator[tuple[str, int, Node]]:
        """(name, line, value node) of each entry, after resolving ``<<: *anchor`` merges.

        Keys that are not names and keys given twice are reported; a key set
        beside a merge overrides the merged one, as in YAML.
        """
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if key_node.tag != _STR_TAG:
                self.report(
                    _line(key_node), key, f"{self.describe(key_node)} cannot be a key; use a name"
                )
            elif key_node.value in seen:
                self.report(
                    _line(key_node),
                    _join(key, key_node.value),
                    f"is given twice (also on line {seen[key_node.value]}); delete one",
                )
            else:
                seen[key_node.value] = _line(key_node)
        try:
            self.constructor.flatten_mapping(node)
        except yaml.YAMLError as e:
            self.report(_line(node), key, f"cannot merge: {getattr(e, 'problem', e)}")
            return
        entries: dict[str, tuple[int, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STR_TAG:
                entries[key_node.value] = (_line(key_node), value_node)
        for name, (line, value_node) in entries.items():
            yield name, line, value_node

    def dataclass(
        self,
        cls: type[Any],
        node: MappingNode | None,
        prefix: str,
        section_line: int,
        supplied: Mapping[str, object] | None,
    ) -> Any:
        hints = get_type_hints(cls)
        settable = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get(_IN_FILE, True)}
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        problems_before = len(self.problems)
        for name, line, value_node in self.items(node, prefix) if node is not None else ():
            key = _join(prefix, name)
            lines[name] = line
            if name not in settable:
                self.report(line, key, self.unknown_key_problem(name, prefix, list(settable)))
                continue
            value = self.convert(hints[name], value_node, key, line)
            if value is _INVALID:
                continue
            metadata = settable[name].metadata
            if isinstance(value, int | float) and not isinstance(value, bool):
                problem = _range_problem(metadata, value)
                if problem:
                    self.report(_line(value_node), key, problem)
                    continue
            values[name] = value
        for name, value in (supplied or {}).items():
            values.setdefault(name, value)
        instance = cls(**values)
        cross_check = getattr(instance, "_cross_check", None)
        if cross_check is not None and len(self.problems) == problems_before:
            for name, problem in cross_check():
                self.report(lines.get(name, section_line), _join(prefix, name), problem)
        return instance

    def unknown_key_problem(self, name: str, prefix: str, siblings: list[str]) -> str:
        elsewhere = [k for k in _dataclass_keys(self.root) if k.rpartition(".")[2] == name]
        if elsewhere:
            section = elsewhere[0].rpartition(".")[0]
            where = f"under '{section}:'" if section else "at the top level"
            return f"unknown key here; did you mean {elsewhere[0]!r}? (it belongs {where})"
        close = difflib.get_close_matches(name, siblings, n=1)
        if close:
            return f"unknown key; did you mean {close[0]!r}?"
        place = f"in '{prefix}'" if prefix else "at the top level"
        return f"unknown key; the keys allowed {place} are: {', '.join(siblings)}"
