"""The job model: a job's states and the transitions allowed between them, and
the read-only snapshots of a job that the rest of mediaforge passes around.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import peewee

from mediaforge.units import iso_time

T = TypeVar("T")


class JobStatus(enum.StrEnum):
    """Where a job is in its life; stored as text."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SKIPPED, JobStatus.CANCELLED}
)

# The allowed transitions, written down once: target -> the states it may come from.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RUNNING: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.RUNNING}),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING, JobStatus.QUEUED}),
    JobStatus.SKIPPED: frozenset({JobStatus.RUNNING}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED, JobStatus.RUNNING}),
    # back to the queue: a retry, a hand-back at shutdown, a recovered dead worker
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
}


class JobSource(enum.StrEnum):
    """Which door a job came in by."""

    CLI = "cli"
    WATCH = "watch"
    API = "api"


def snapshot(cls: type[T], row: peewee.Model, **converted: Any) -> T:
    """A frozen dataclass ``cls`` from a row: each field read from the column of
    its name, except those given in ``converted`` (parsed JSON, enums)."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in converted]  # type: ignore[arg-type]
    return cls(**{name: getattr(row, name) for name in names}, **converted)


@dataclass(frozen=True)
class Output:
    """One published output of a job, as ffprobe saw it."""

    path: str
    kind: str
    size: int
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Job:
    """A read-only snapshot of one job row."""

    id: int
    status: JobStatus
    input_path: str
    preset: str
    output_dir: str | None
    priority: int
    progress: float
    attempts: int
    max_attempts: int
    action: str | None
    outputs: tuple[Output, ...]
    note: str | None
    error: str | None
    log_tail: str | None
    worker: str | None
    heartbeat_at: float | None
    retry_at: float | None
    source: str
    batch: str | None
    input_size: int | None
    input_mtime: float | None
    input_hash: str | None
    input_duration: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    handbacks: int = 0  # hand-backs by hosts that could not see its files
    # The submit-time probe of the input (JSON), valid while the input still
    # matches input_size, input_mtime and input_hash; None when not taken.
    input_probe: str | None = None
    refusals: str | None = None  # JSON kept by queue/handover.py
    decisions: str | None = None  # JSON {topic: text}; read it through ``decided``

    @classmethod
    def from_row(cls, row: Any) -> Job:
        """A snapshot of a ``JobRow`` (the model knows rows only by their columns)."""
        outputs = tuple(Output(**o) for o in json.loads(row.outputs or "[]"))
        return snapshot(cls, row, status=JobStatus(row.status), outputs=outputs)

    @property
    def decided(self) -> dict[str, str]:
        """What the worker decided for this attempt, by topic (``JobStore.decide``)."""
        found = json.loads(self.decisions) if self.decisions else {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    @property
    def elapsed(self) -> float | None:
        """Seconds the last attempt ran (so far, when running)."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a job (``--json``); stable for scripts."""

        return {
            "id": self.id,
            "status": self.status.value,
            "input": self.input_path,
            "preset": self.preset,
            "output_dir": self.output_dir,
            "priority": self.priority,
            "progress": round(self.progress, 4),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "action": self.action,
            "outputs": [o.to_dict() for o in self.outputs],
            "note": self.note,
            "decisions": self.decided,
            "error": self.error,
            "log_tail": self.log_tail,
            "worker": self.worker,
            "source": self.source,
            "batch": self.batch,
            "input_size": self.input_size,
            "input_duration": self.input_duration,
            "created_at": iso_time(self.created_at),
            "started_at": iso_time(self.started_at),
            "finished_at": iso_time(self.finished_at),
            "retry_at": iso_time(self.retry_at),
            "elapsed": None if self.elapsed is None else round(self.elapsed, 3),
        }


@dataclass(frozen=True)
class NewJob:
    """What a caller knows about a job it wants to create."""

    input_path: str
    preset: str
    input_size: int | None = None
    input_mtime: float | None = None
    input_hash: str | None = None
    input_probe: str | None = None  # MediaInfo.to_json(), taken for that fingerprint
    output_dir: str | None = None
    priority: int = 0
    source: JobSource = JobSource.CLI
    batch: str | None = None
