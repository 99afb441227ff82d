"""The configuration schema: typed, frozen dataclasses, one per section, and
the checks that involve several fields of one section.

Adding a section means declaring a frozen dataclass whose fields all have
defaults and adding it as a field of ``Config``: the validator walks fields by
their type hints (see ``parse_dataclass`` in ``reader``). Numeric ranges go in field metadata
(``limits``), settings to hide from ``config show`` are marked ``SECRET``, and
checks that involve several fields of one section go in a ``_cross_check``
method yielding ``(field name, problem)`` pairs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mediaforge.config.reader import NOT_IN_FILE, SECRET, limits
from mediaforge.events import DEFAULT_EVENTS, Event
from mediaforge.redact import redact_url
from mediaforge.run_windows import parse_window


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
    handback_limit: int = field(default=10, metadata=limits(ge=1))
    handback_delay: float = field(default=30.0, metadata=limits(gt=0))
    # Free space kept on every filesystem a job writes to, beyond its estimated
    # outputs; a job that would eat into it waits space_wait seconds, uncounted.
    min_free_space_mib: int = field(default=1024, metadata=limits(ge=0))
    space_wait: float = field(default=300.0, metadata=limits(gt=0))
    # Run windows (run_windows.py): outside them the worker takes no new jobs;
    # at a window's end a running job finishes or is handed back.
    schedule: tuple[str, ...] = ()
    schedule_end: Literal["finish", "hand_back"] = "finish"
    # Preset name or preset tag -> how many of its jobs this worker runs at once.
    # The last field: below it, "limits" in this class body is this field, not
    # the bounds helper the fields above use.
    limits: dict[str, int] = field(default_factory=dict)

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        for i, text in enumerate(self.schedule):
            try:
                parse_window(text)
            except ValueError as exc:
                yield f"schedule[{i}]", str(exc)
        for name, most in self.limits.items():
            if most < 1:
                yield (
                    f"limits.{name}",
                    f"must be at least 1 (jobs of '{name}' at once on this worker), got {most}",
                )
        if self.stale_after <= self.heartbeat_interval:
            # A live worker would look dead between two heartbeats and its job
            # would be recovered (run twice).
            yield (
                "stale_after",
                f"must be longer than heartbeat_interval ({self.heartbeat_interval:g} s), "
                f"got {self.stale_after:g}; use at least 10 times heartbeat_interval",
            )


@dataclass(frozen=True)
class PathMapping:
    """Shared storage seen at another path on this host (see docs/configuration.md):
    jobs store ``canonical`` paths; this host reads and writes under ``local``."""

    canonical: Path | None = None  # required; checked in _cross_check
    local: Path | None = None  # required; checked in _cross_check

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        for name in ("canonical", "local"):
            value: Path | None = getattr(self, name)
            if value is None:
                yield name, "is required: an absolute folder, e.g. /media"
            elif not value.is_absolute():
                yield name, f"{str(value)!r} is not an absolute path; write it from /"


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
class JobsConfig:
    """How long finished jobs stay in the job database (see jobs/retention.py)."""

    retention_days: float | None = field(default=None, metadata=limits(gt=0))  # None: forever
    prune_interval: float = field(default=3600.0, metadata=limits(ge=1))


@dataclass(frozen=True)
class LogConfig:
    """What mediaforge logs, how, and where."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    file: Path | None = None


@dataclass(frozen=True)
class ServeConfig:
    """The HTTP door (``mediaforge serve``): where uploads land and how big they may be."""

    inbox: Path | None = None  # None: <data_dir>/inbox
    max_upload_mb: int = field(default=20480, metadata=limits(ge=1))


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
    # A health check new content must pass before it is submitted (media/health.py).
    check: Literal["none", "quick", "thorough"] = "none"

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


_MEDIA_SERVERS = ("plex", "jellyfin", "emby")
_JOB_EVENTS = (Event.JOB_SUCCEEDED, Event.JOB_FAILED, Event.JOB_CANCELLED, Event.JOB_SKIPPED)


@dataclass(frozen=True)
class HookConfig:
    """One action run after a job ends (see docs/operations.md#hooks): an HTTP
    call, a media server's library refresh, or a local command."""

    name: str | None = None  # required; checked in _cross_check
    kind: Literal["http", "command", "plex", "jellyfin", "emby"] = "http"
    url: str | None = None  # shown with any password or token in it masked
    token: str | None = field(default=None, metadata=SECRET)
    token_env: str | None = None
    headers: dict[str, str] = field(default_factory=dict, metadata=SECRET)
    command: tuple[str, ...] = ()
    events: tuple[Event, ...] = (Event.JOB_SUCCEEDED,)
    presets: tuple[str, ...] = ()  # empty: every preset
    section: str | None = None  # plex: the library section to scan (default: found by path)
    server_paths: tuple[PathMapping, ...] = ()  # canonical -> the media server's view
    timeout: float = field(default=30.0, metadata=limits(gt=0))
    retries: int = field(default=3, metadata=limits(ge=0))
    retry_backoff: float = field(default=30.0, metadata=limits(ge=0))

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        if not self.name:
            yield "name", "is required: a short name for the hook, e.g. plex"
        elif not _HOOK_NAME.fullmatch(self.name):
            yield "name", f"{self.name!r} is not a name: letters, digits, '.', '_' and '-'"
        if self.kind == "command":
            if not self.command:
                yield "command", "is required for a command hook: a list, e.g. [/usr/bin/true]"
            if self.url is not None:
                yield "url", "is not used by a command hook; remove it"
        else:
            if self.command:
                yield "command", f"is only for a command hook, not {self.kind!r}"
            if self.url is None:
                yield "url", f"is required for a {self.kind} hook, e.g. http://127.0.0.1:8096"
            elif not self.url.startswith(("http://", "https://")):
                yield "url", "must start with http:// or https://"
        if self.kind in _MEDIA_SERVERS and self.token is None and self.token_env is None:
            yield "token", f"a {self.kind} hook needs its API token: set token or token_env"
        if self.token is not None and self.token_env is not None:
            yield "token_env", "set either token or token_env, not both"
        if self.section is not None and self.kind != "plex":
            yield "section", "is only for a plex hook"
        for event in self.events:
            if event not in _JOB_EVENTS:
                yield (
                    "events",
                    f"{event.value!r} is not the end of a job; use "
                    f"{', '.join(e.value for e in _JOB_EVENTS)}",
                )


_HOOK_NAME = re.compile(r"[A-Za-z0-9._-]+")


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
class EncodersConfig:
    """Hardware encoders (docs/presets.md#hardware-encoders): the order ``encoder:
    auto`` tries them in, the test encode, its cache, and when to stop using one."""

    auto: tuple[Literal["nvenc", "qsv", "vaapi"], ...] = ("nvenc", "qsv", "vaapi")
    vaapi_device: str = "/dev/dri/renderD128"
    probe_timeout: float = field(default=10.0, metadata=limits(gt=0))
    cache_ttl: float = field(default=86400.0, metadata=limits(ge=0))
    max_failures: int = field(default=2, metadata=limits(ge=1))


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
    jobs: JobsConfig = field(default_factory=JobsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    watch: tuple[WatchRule, ...] = ()
    paths: tuple[PathMapping, ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    s3: S3Config = field(default_factory=S3Config)
    encoders: EncodersConfig = field(default_factory=EncodersConfig)
    hooks: tuple[HookConfig, ...] = ()

    def _cross_check(self) -> Iterator[tuple[str, str]]:
        names = [hook.name for hook in self.hooks if hook.name]
        for name in sorted({n for n in names if names.count(n) > 1}):
            yield "hooks", f"two hooks are named {name!r}; give each hook its own name"

    @property
    def servers(self) -> frozenset[str]:
        """The database servers the job database and the queue use ("postgres", "redis")."""
        database = self.database.url or ""
        on_postgres = database.startswith(_QUEUE_SCHEMES["postgres"])
        return frozenset({self.queue.backend, *(["postgres"] if on_postgres else [])}) - {"sqlite"}
