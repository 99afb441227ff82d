"""The queue: Huey carrying job ids, nothing else.

SQLite (its own file, beside the job database) is the embedded default;
Redis and PostgreSQL are Huey's own backends for scale-out. The job database
stays the source of truth, so a lost or duplicated queue message is
harmless: workers claim jobs with a compare-and-set, and recovery re-enqueues
queued jobs the queue has forgotten.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from mediaforge import drivers
from mediaforge.config.schema import Config
from mediaforge.errors import ConfigError, EnvironmentProblem

RUN_JOB = "mediaforge.run_job"
NOTIFY = "mediaforge.notify"
UPLOAD = "mediaforge.upload"
HOOK = "mediaforge.hook"
# Sending a notification is short (bounded by notify.timeout): let it pass queued jobs.
NOTIFY_PRIORITY = 1_000_000
QUEUE_NAME = "mediaforge"
# Huey names a task on the wire "<module of its function>.<name>". Messages
# already queued say "mediaforge.queue.mediaforge.run_job" (this module was
# mediaforge/queue.py); the module stays that on the wire wherever the code
# lives, so work queued before an upgrade still runs after it.
WIRE_MODULE = "mediaforge.queue"


def _on_the_wire(func: Callable[..., None]) -> Callable[..., None]:
    """``func`` as a plain function whose module is :data:`WIRE_MODULE`."""

    @functools.wraps(func)
    def task(*args: Any) -> None:
        func(*args)

    task.__module__ = WIRE_MODULE
    return task


def make_huey(config: Config) -> Any:
    """A Huey instance for the configured backend (imported lazily)."""
    qc = config.queue
    if qc.backend == "sqlite":
        from huey import SqliteHuey

        path = qc.url.removeprefix("sqlite://") if qc.url else str(config.data_dir / "queue.db")
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            return SqliteHuey(QUEUE_NAME, filename=path, results=False, timeout=30)
        except Exception as exc:  # sqlite3 errors surface as several types
            raise EnvironmentProblem(f"cannot open the queue database {path}: {exc}") from None
    if qc.backend == "redis":
        if not qc.url:
            raise ConfigError("queue.url: the redis backend needs a URL like redis://HOST:6379/0")
        drivers.redis("queue.backend redis")
        from huey import PriorityRedisHuey

        # The plain RedisHuey refuses priorities; submit --priority and the
        # notification and upload tasks need them.
        return PriorityRedisHuey(QUEUE_NAME, url=qc.url, results=False)
    if qc.backend == "postgres":
        if not qc.url:
            raise ConfigError(
                "queue.url: the postgres backend needs a URL like postgresql://USER@HOST/DB"
            )
        drivers.psycopg("queue.backend postgres")
        from mediaforge.queue.postgres import postgres_huey

        return postgres_huey(QUEUE_NAME, qc.url)
    raise ConfigError(f"queue.backend: unknown backend '{qc.backend}'")


def driver_errors(backend: str) -> tuple[type[Exception], ...]:
    """What the backend's client raises when its server or file cannot be used."""
    if backend == "redis":
        return (drivers.redis("queue.backend redis").RedisError,)
    if backend == "postgres":
        return (drivers.psycopg("queue.backend postgres").Error,)
    return (sqlite3.Error,)


class JobQueue:
    """Enqueue job ids; the worker sets ``handler`` to run them,
    ``notify_handler`` to deliver due notifications (a task without arguments:
    the job database says what is due) and ``upload_handler`` to upload a
    finished job's files to S3."""

    def __init__(self, config: Config) -> None:
        self.huey = make_huey(config)
        self.backend = config.queue.backend
        self._errors = driver_errors(self.backend)
        self.handler: Callable[[int], None] | None = None
        self.notify_handler: Callable[[], None] | None = None
        self.upload_handler: Callable[[int], None] | None = None
        self._task = self.huey.task(name=RUN_JOB)(_on_the_wire(self._dispatch))
        self._notify_task = self.huey.task(name=NOTIFY)(_on_the_wire(self._dispatch_notify))
        self._upload_task = self.huey.task(name=UPLOAD)(_on_the_wire(self._dispatch_upload))
        self.hook_handler: Callable[[], None] | None = None
        self._hook_task = self.huey.task(name=HOOK)(_on_the_wire(self._dispatch_hook))

    @contextlib.contextmanager
    def _sending(self) -> Iterator[None]:
        """A server that is away is one line, not a client library's traceback.
        The job stays queued in the job database; recovery enqueues it later."""
        try:
            yield
        except self._errors as exc:
            reason = " ".join(str(exc).split())
            raise EnvironmentProblem(
                f"cannot reach the {self.backend} queue: {reason}; the job stays queued "
                "and a worker's recovery sweep enqueues it once the queue is back"
            ) from None

    def _dispatch(self, job_id: int) -> None:
        if self.handler is None:
            raise RuntimeError("this JobQueue has no handler; only a worker runs jobs")
        self.handler(job_id)

    def enqueue(self, job_id: int, *, priority: int = 0, delay: float | None = None) -> None:
        """Put ``job_id`` on the queue, optionally to run after ``delay`` seconds."""
        with self._sending():
            if delay:
                self._task.schedule(args=(job_id,), delay=delay, priority=priority)
            else:
                self.huey.enqueue(self._task.s(job_id, priority=priority))

    def _dispatch_notify(self) -> None:
        if self.notify_handler is None:
            raise RuntimeError("this JobQueue has no notify handler; only a worker sends")
        self.notify_handler()

    def enqueue_notify(self, delay: float | None = None) -> None:
        """Wake a worker to deliver due notifications, after ``delay`` seconds."""
        with self._sending():
            if delay:
                self._notify_task.schedule(delay=delay, priority=NOTIFY_PRIORITY)
            else:
                self.huey.enqueue(self._notify_task.s(priority=NOTIFY_PRIORITY))

    def _dispatch_upload(self, job_id: int) -> None:
        if self.upload_handler is None:
            raise RuntimeError("this JobQueue has no upload handler; only a worker uploads")
        self.upload_handler(job_id)

    def enqueue_upload(self, job_id: int, delay: float | None = None) -> None:
        """Wake a worker to upload ``job_id``'s due files, after ``delay`` seconds.
        Uploads go before queued jobs: they free local disk and are short next to a transcode."""
        with self._sending():
            if delay:
                self._upload_task.schedule(args=(job_id,), delay=delay, priority=NOTIFY_PRIORITY)
            else:
                self.huey.enqueue(self._upload_task.s(job_id, priority=NOTIFY_PRIORITY))

    def _dispatch_hook(self) -> None:
        if self.hook_handler is None:
            raise RuntimeError("this JobQueue has no hook handler; only a worker runs hooks")
        self.hook_handler()

    def enqueue_hooks(self, delay: float | None = None) -> None:
        """Wake a worker to run due hooks, after ``delay`` seconds. Like
        notifications, they go before queued jobs: they are short."""
        with self._sending():
            if delay:
                self._hook_task.schedule(delay=delay, priority=NOTIFY_PRIORITY)
            else:
                self.huey.enqueue(self._hook_task.s(priority=NOTIFY_PRIORITY))

    def hooks_pending(self) -> bool:
        """Whether a hook task waits in the queue or its schedule."""
        return any(t.name == HOOK for t in [*self.huey.pending(), *self.huey.scheduled()])

    def pending_upload_job_ids(self) -> set[int]:
        """Jobs whose upload task waits in the queue or its schedule."""
        return self._pending_args(UPLOAD)

    def notify_pending(self) -> bool:
        """Whether a notification task waits in the queue or its schedule."""
        return any(t.name == NOTIFY for t in [*self.huey.pending(), *self.huey.scheduled()])

    def pending_job_ids(self) -> set[int]:
        """Job ids waiting in the queue or its schedule (for recovery)."""
        return self._pending_args(RUN_JOB)

    def _pending_args(self, name: str) -> set[int]:
        ids: set[int] = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            if task.name == name and task.args:
                ids.add(int(task.args[0]))
        return ids

    def is_empty(self) -> bool:
        return bool(self.huey.pending_count() == 0 and self.huey.scheduled_count() == 0)
