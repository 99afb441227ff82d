"""Typed, validated configuration, resolved once at start-up and passed explicitly.

``load_config`` finds the YAML file (``find_config_file``), checks it against
the ``Config`` dataclass tree and returns one frozen ``Config``. Precedence:
``--config`` > environment (``MEDIAFORGE_CONFIG``, ``MEDIAFORGE_DATA_DIR``) >
file > built-in defaults. Every setting is documented in
``data/config.example.yaml`` (also the repository's ``config.example.yaml``)
and ``docs/configuration.md``.

Adding a section means declaring a frozen dataclass whose fields all have
defaults and adding it as a field of ``Config``: the validator walks fields by
their type hints (see ``parse_dataclass``). Numeric ranges go in field metadata
(``limits``), settings to hide from ``config show`` are marked ``SECRET``, and
checks that involve several fields of one section go in a ``_cross_check``
method yielding ``(field name, problem)`` pairs.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import re
import string
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mediaforge.errors import ConfigError
from mediaforge.events import DEFAULT_EVENTS, Event
from mediaforge.redact import MASK, redact_url

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


@dataclass(frozen=True)
class WorkerConfig:
    """How ``mediaforge worker`` runs jobs."""

    workers: int = field(default=1, metadata=limits(ge=1))
    heartbeat_interval: float = field(default=2.0, metadata=limits(gt=0))
    stale_after: float = field(default=60.0, metadata=limits(gt=0))
    stall_timeout: float = field(default=120.0, metadata=limits(gt=0))
    max_attempts: int = field(default=3, metadata=limits(ge=1))
    retry_backoff: float = field(default=30.0, metadata=limits(ge=0))
    shutdown_grace: float = field(default=10.0, metadata=limits(ge=0))
    recovery_interval: int = field(default=60, metadata=limits(ge=1))

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if self.stale_after <= self.heartbeat_interval:
            # A live worker would look dead between two heartbeats and its job
            # would be recovered (run twice).
            yield (
                "stale_after",
                f"must be longer than heartbeat_interval ({self.heartbeat_interval:g} s), "
                f"got {self.stale_after:g}; use at least 10 times heartbeat_interval",
            )


@dataclass(frozen=True)
class OutputConfig:
    """Where outputs go and what happens when the name is taken."""

    dir: Path | None = None
    collision: Literal["rename", "skip", "overwrite", "fail"] = "rename"


@dataclass(frozen=True)
class VerifyConfig:
    """How closely an output must match its input to count as good."""

    duration_tolerance: float = field(default=0.5, metadata=limits(ge=0))
    duration_tolerance_ratio: float = field(default=0.02, metadata=limits(ge=0, le=1))


_QUEUE_SCHEMES = {
    "redis": ("redis://", "rediss://", "unix://"),
    "postgres": ("postgres://", "postgresql://"),
}
_DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://")


@dataclass(frozen=True)
class QueueConfig:
    """The queue that carries job ids to workers."""

    backend: Literal["sqlite", "redis", "postgres"] = "sqlite"
    url: str | None = None

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        schemes = _QUEUE_SCHEMES.get(self.backend)
        if schemes is None:
            if self.url is not None and "://" in self.url:
                yield (
                    "url",
                    f"{redact_url(self.url)!r} is a URL, but the sqlite backend takes a file "
                    "path; set queue.backend to 'redis' or 'postgres' to use a server",
                )
        elif self.url is None:
            yield "url", f"is required when queue.backend is {self.backend!r}; e.g. {schemes[0]}..."
        elif not self.url.startswith(schemes):
            yield (
                "url",
                f"{redact_url(self.url)!r} does not suit queue.backend {self.backend!r}; "
                f"it must start with {' or '.join(schemes)}",
            )


@dataclass(frozen=True)
class DatabaseConfig:
    """The job database (the source of truth about jobs)."""

    url: str | None = None

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if self.url is not None and not self.url.startswith(_DATABASE_SCHEMES):
            yield (
                "url",
                f"{redact_url(self.url)!r} is not a supported database URL; "
                f"it must start with {' or '.join(_DATABASE_SCHEMES)}",
            )


@dataclass(frozen=True)
class LogConfig:
    """What mediaforge logs, how, and where."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    file: Path | None = None


@dataclass(frozen=True)
class WatchRule:
    """One watched folder (``mediaforge watch``): what to pick up, which presets
    to run, and what becomes of the original afterwards (see docs/watch.md)."""

    path: Path | None = None  # required; checked in _cross_check
    presets: tuple[str, ...] = ()
    recursive: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    output_dir: Path | None = None
    mode: Literal["auto", "events", "poll"] = "auto"
    settle_seconds: float = field(default=10.0, metadata=limits(ge=0))
    poll_interval: float = field(default=10.0, metadata=limits(gt=0))
    rescan_interval: float = field(default=600.0, metadata=limits(gt=0))
    on_success: Literal["keep", "move", "delete"] = "keep"
    done_dir: Path | None = None
    on_failure: Literal["keep", "move"] = "keep"
    failed_dir: Path | None = None

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if self.path is None:
            yield "path", "is required: the folder to watch"
        if not self.presets:
            yield "presets", "is required: at least one preset name, e.g. [h264-720p]"
        for name in ("output_dir", "done_dir", "failed_dir"):
            if self.path is not None and getattr(self, name) == self.path:
                # Files put there would be picked up again as new work.
                yield (
                    name,
                    "is the watched folder itself; use a subfolder of it (subfolders "
                    "mediaforge writes to are never watched) or another folder",
                )


JOB_FIELDS = (
    "id", "name", "input", "preset", "status", "event", "icon", "took", "speed",
    "input_size", "output_size", "ratio", "outputs", "error", "note", "attempts",
    "batch", "host", "upload", "links",
)  # fmt: skip
"""Fields of ``notify.title``, ``notify.body`` and ``notify.digest_item`` (see the docs)."""

DIGEST_FIELDS = (
    "count", "summary", "succeeded", "failed", "skipped", "cancelled", "input_size",
    "output_size", "ratio", "took", "batch", "items", "more", "host",
)  # fmt: skip
"""Fields of ``notify.digest_title`` and ``notify.digest_body``."""


def template_problem(template: str, fields: tuple[str, ...]) -> str | None:
    """Why ``template`` (``str.format`` style) cannot be filled from ``fields``, or None."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        return f"is not a valid template ({e}); write {{{{ and }}}} for literal braces"
    for _, name, _, _ in parsed:
        if name is None:
            continue
        base = name.split(".", 1)[0].split("[", 1)[0]
        if base not in fields:
            shown = f"{{{name}}}" if name else "{}"
            return f"uses {shown}, which is not a field; the fields are: {', '.join(fields)}"
    return None


@dataclass(frozen=True)
class NotifyTarget:
    """One place notifications go: an Apprise URL, its tags and the events it wants."""

    url: str | None = field(default=None, metadata=SECRET)  # required; checked in _cross_check
    name: str | None = None
    tags: tuple[str, ...] = ()
    events: tuple[Event, ...] | None = None  # None: notify.events

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if self.url is None:
            yield "url", "is required: an Apprise URL, e.g. mailtos://user:password@example.com"
        elif "://" not in self.url:
            yield (
                "url",
                "is not a URL; Apprise URLs look like scheme://..., see docs/notifications.md",
            )


@dataclass(frozen=True)
class NotifyConfig:
    """Where notifications go, which events they report, and how messages look."""

    targets: tuple[NotifyTarget, ...] = ()
    apprise_config: Path | None = None
    events: tuple[Event, ...] = DEFAULT_EVENTS
    window: float = field(default=10.0, metadata=limits(ge=0))
    digest_max_items: int = field(default=20, metadata=limits(ge=1))
    timeout: float = field(default=10.0, metadata=limits(gt=0))
    retries: int = field(default=3, metadata=limits(ge=0))
    retry_backoff: float = field(default=30.0, metadata=limits(ge=0))
    format: Literal["markdown", "text", "html"] = "markdown"
    title: str = "mediaforge: {name} {status}"
    body: str = (
        "**{name}** {status} (preset {preset})\n"
        "Error: {error}\n"
        "Took: {took}\n"
        "Speed: {speed}\n"
        "Size: {input_size} → {output_size} ({ratio} of the input)\n"
        "Output: {outputs}\n"
        "Upload: {upload}\n"
        "Links: {links}\n"
        "Note: {note}"
    )
    digest_title: str = "mediaforge: {count} jobs finished ({summary})"
    digest_body: str = (
        "{summary}\n"
        "Total: {input_size} → {output_size} ({ratio} of the input) in {took}\n"
        "\n"
        "{items}\n"
        "\n"
        "{more}"
    )
    digest_item: str = "- {icon} **{name}**: {status}. {error} {upload}"

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        templates = {
            "title": JOB_FIELDS,
            "body": JOB_FIELDS,
            "digest_item": JOB_FIELDS,
            "digest_title": DIGEST_FIELDS,
            "digest_body": DIGEST_FIELDS,
        }
        for name, fields in templates.items():
            problem = template_problem(getattr(self, name), fields)
            if problem:
                yield name, problem


S3_STORAGE_CLASSES = (
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE", "EXPRESS_ONEZONE",
)  # fmt: skip
MAX_LINK_EXPIRY = 7 * 24 * 3600  # S3's limit for a SigV4 pre-signed URL


@dataclass(frozen=True)
class S3Config:
    """Optional sync to S3 or an S3-compatible store (needs the ``s3`` extra: boto3).

    Off while ``bucket`` is unset. Credentials are never set here: boto3 finds
    them in the environment, a profile or an instance role.
    """

    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    raw_prefix: str = "raw/"
    processed_prefix: str = "processed/"
    upload: Literal["outputs", "originals", "both"] = "outputs"
    storage_class: str | None = None
    delete_local: bool = False
    link_expiry: int = field(default=MAX_LINK_EXPIRY, metadata=limits(ge=0, le=MAX_LINK_EXPIRY))
    multipart_threshold_mb: int = field(default=64, metadata=limits(ge=5))
    part_size_mb: int = field(default=16, metadata=limits(ge=5, le=5120))
    concurrency: int = field(default=4, metadata=limits(ge=1, le=64))
    timeout: float = field(default=60.0, metadata=limits(gt=0))
    max_attempts: int = field(default=5, metadata=limits(ge=1))
    retry_backoff: float = field(default=60.0, metadata=limits(ge=0))
    download_dir: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if self.bucket is not None and not _BUCKET_NAME.fullmatch(self.bucket):
            yield (
                "bucket",
                f"{self.bucket!r} is not a bucket name: 3-63 characters, lowercase letters, "
                "digits, dots and hyphens (just the name, no s3:// and no folder)",
            )
        if self.region is not None and not _REGION.fullmatch(self.region):
            yield "region", f"{self.region!r} is not a region name, e.g. eu-west-1"
        if self.endpoint_url is not None:
            host = self.endpoint_url.partition("://")[2].split("/", 1)[0]
            if not self.endpoint_url.startswith(("http://", "https://")):
                yield "endpoint_url", "must start with http:// or https://, e.g. http://nas:9000"
            elif not host or any(c.isspace() for c in self.endpoint_url):
                yield "endpoint_url", "is not a URL with a host, e.g. http://nas:9000"
            elif "@" in self.endpoint_url.split("://", 1)[1].split("/", 1)[0]:
                yield (
                    "endpoint_url",
                    "holds credentials; remove them and set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY (or a profile) instead, see docs/s3.md",
                )
        for name in ("raw_prefix", "processed_prefix"):
            value: str = getattr(self, name)
            if value.startswith("/") or "//" in value or ".." in value.split("/"):
                yield name, f"{value!r} is not a key prefix; write it like 'media/processed/'"
        if self.storage_class is not None and self.storage_class not in S3_STORAGE_CLASSES:
            yield (
                "storage_class",
                f"{self.storage_class!r} is not an S3 storage class; "
                f"use one of {', '.join(S3_STORAGE_CLASSES)} (or leave it unset)",
            )


_REGION = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class Config:
    """The whole configuration: built by ``load_config``, then passed to whoever needs it."""

    source: Path | None = field(metadata=NOT_IN_FILE)
    data_dir: Path
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    probe_timeout: float = field(default=30.0, metadata=limits(gt=0))
    presets_dir: Path | None = None
    output: OutputConfig = field(default_factory=OutputConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    log: LogConfig = field(default_factory=LogConfig)
    watch: tuple[WatchRule, ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    s3: S3Config = field(default_factory=S3Config)


# -- finding the file ---------------------------------------------------------

SYSTEM_CONFIG = Path("/etc/mediaforge/config.yaml")


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    # The XDG spec says relative values are invalid and must be ignored.
    value = env.get(variable)
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(env) / fallback


def _resolve_path(text: str, base_dir: Path, home: Path) -> Path:
    """Expand ``~`` (with ``home``) and make ``text`` absolute against ``base_dir``."""
    # Path.expanduser reads $HOME from os.environ; use the env we were given.
    # "~user/..." still goes through expanduser (RuntimeError for an unknown user).
    tilde = text == "~" or text.startswith("~/")
    path = home / text[2:] if tilde else Path(text).expanduser()
    # normpath, not resolve(): keep the user's symlinks as written.
    return Path(os.path.normpath(base_dir / path))


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The built-in data folder: ``$XDG_DATA_HOME/mediaforge`` (``~/.local/share/mediaforge``)."""
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "mediaforge"


def candidate_config_files(env: Mapping[str, str]) -> list[Path]:
    """Where to look, in order, when neither ``--config`` nor ``$MEDIAFORGE_CONFIG`` is given."""
    return [
        Path.cwd() / "mediaforge.yaml",
        _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "mediaforge" / "config.yaml",
        SYSTEM_CONFIG,
    ]


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The configuration file to use, or None to run on built-in defaults.

    Order: ``explicit`` (``--config``), ``$MEDIAFORGE_CONFIG``, then
    ``candidate_config_files``. A file named explicitly or by the environment
    must exist; the others are skipped when absent. Returns an absolute path.
    """
    named: list[tuple[str, str]] = []
    if explicit is not None:
        named.append((str(explicit), "given with --config"))
    if env.get("MEDIAFORGE_CONFIG"):
        named.append((env["MEDIAFORGE_CONFIG"], "named by $MEDIAFORGE_CONFIG"))
    if named:
        text, origin = named[0]
        path = _resolve_path(text, Path.cwd(), _home(env))
        if path.is_dir():
            raise ConfigError(
                f"config file {path} ({origin}) is a folder; name a YAML file inside it"
            )
        if not path.is_file():
            raise ConfigError(
                f"config file {path} ({origin}) does not exist; fix the path, "
                f"or create it with 'mediaforge config init {path}'"
            )
        return path
    for path in candidate_config_files(env):
        if path.is_file():
            return path
    return None


# -- loading ------------------------------------------------------------------


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate the configuration (``env`` defaults to ``os.environ``).

    Raises ConfigError listing every invalid field, with file and line.
    """
    env = os.environ if env is None else env
    home = _home(env)
    path = find_config_file(explicit, env)
    if path is None:
        config = Config(source=None, data_dir=default_data_dir(env))
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
        config = parse_dataclass(
            Config,
            text,
            path,
            home=home,
            supplied={"source": path, "data_dir": default_data_dir(env)},
        )
    data_dir = env.get("MEDIAFORGE_DATA_DIR")
    if data_dir:
        try:
            resolved = _resolve_path(data_dir, Path.cwd(), home)
        except RuntimeError as e:
            raise ConfigError(f"$MEDIAFORGE_DATA_DIR: {e}") from None
        config = dataclasses.replace(config, data_dir=resolved)
    return config


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


# -- showing ------------------------------------------------------------------


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The configuration as plain data for ``mediaforge config show`` (JSON and YAML safe).

    Paths become strings; fields marked ``SECRET`` become ``***`` and every
    other string goes through ``redact_url``, so passwords and tokens in URLs
    are hidden.
    """
    result = _plain(cfg)
    assert isinstance(result, dict)
    return result


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: MASK
            if f.metadata.get(_SECRET) and getattr(value, f.name) is not None
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
