"""The job store: every read and write of jobs, the one source of truth about them.

The queue only carries job ids. Every status change here is one short
transaction that compares and sets (``UPDATE ... WHERE status IN (...)``), so
two workers, a cancel and a recovery sweep can race without a job being lost
or done twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import peewee

from mediaforge.errors import EnvironmentProblem, JobNotFound, JobStateError
from mediaforge.jobs.clock import database_time
from mediaforge.jobs.database import MIGRATIONS, MODELS, SCHEMA_VERSION, connect
from mediaforge.jobs.model import (
    FINISHED,
    TRANSITIONS,
    Job,
    JobStatus,
    NewJob,
    Output,
)
from mediaforge.jobs.postgres import lock_for_migrations
from mediaforge.jobs.tables import (
    HookRow,
    JobRow,
    MetaRow,
    NotificationRow,
    PrunedJobRow,
    UploadRow,
    WorkerRow,
)
from mediaforge.jobs.upload_rows import NewUpload, insert_uploads
from mediaforge.jobs.workers import WorkerStore

if TYPE_CHECKING:
    from mediaforge.config.schema import Config


# Waits between tries when a new SQLite file is locked by another process's first open.
_LOCKED_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def mentioning(column: Any, paths: Iterable[str]) -> Any:
    """A condition for rows whose JSON text ``column`` mentions one of ``paths``
    (None for no paths). Outputs are stored as JSON: the rows it finds are
    then checked exactly by the caller."""
    condition = None
    for path in paths:
        clause = column.contains(json.dumps(path))
        condition = clause if condition is None else condition | clause
    return condition


class JobStore:
    """All reads and writes of jobs. One per process; thread-safe (peewee
    keeps one connection per thread)."""

    def __init__(self, db: peewee.Database, max_attempts: int = 3) -> None:
        self.db = db
        self.max_attempts = max_attempts
        tables: list[type[peewee.Model]] = [*MODELS, NotificationRow, UploadRow, WorkerRow]
        tables += [PrunedJobRow, HookRow]
        db.bind(tables, bind_refs=False, bind_backrefs=False)
        self._migrate()
        self.workers = WorkerStore(db)

    @classmethod
    def open(cls, config: Config) -> JobStore:
        """The job database named by ``config`` (created and migrated as needed)."""
        return cls(connect(config.database.url, config.data_dir), config.worker.max_attempts)

    def _migrate(self) -> None:
        # Processes opening a new SQLite file at the same moment can meet
        # "database is locked" where the busy timeout does not apply (switching
        # the file to WAL takes it for itself): they wait a moment and try again.
        for delay in (*_LOCKED_RETRY_DELAYS, None):
            try:
                self._migrate_once()
                return
            except (peewee.OperationalError, peewee.InterfaceError) as exc:
                locked = isinstance(self.db, peewee.SqliteDatabase) and "locked" in str(exc)
                if delay is None or not locked:
                    reason = " ".join(str(exc).split())  # psycopg's messages span lines
                    raise EnvironmentProblem(f"cannot open the job database: {reason}") from None
                self.db.close()
                time.sleep(delay)

    def _migrate_once(self) -> None:
        with self.db.atomic():
            lock_for_migrations(self.db)
            self.db.create_tables([MetaRow], safe=True)
            row = MetaRow.get_or_none(MetaRow.key == "schema_version")
            version = int(row.value) if row else 0
            if version > SCHEMA_VERSION:
                raise EnvironmentProblem(
                    f"the job database has schema version {version}, newer than this "
                    f"mediaforge understands ({SCHEMA_VERSION}); upgrade mediaforge"
                )
            for step in MIGRATIONS[version:]:
                step(self.db)
            if version != SCHEMA_VERSION:
                MetaRow.insert(key="schema_version", value=str(SCHEMA_VERSION)).on_conflict(
                    conflict_target=[MetaRow.key], update={MetaRow.value: str(SCHEMA_VERSION)}
                ).execute()

    def now(self) -> float:
        """Now by the database's clock: the one heartbeats are written and judged by."""
        return database_time(self.db)

    def close(self) -> None:
        self.db.close()

    # -- creating and reading ------------------------------------------------

    def create(self, new_jobs: Sequence[NewJob]) -> list[int]:
        """Insert jobs as ``queued`` in one transaction; returns their ids in order."""
        now = time.time()
        ids: list[int] = []
        with self.db.atomic():
            after = self._pruned_above()
            for nj in new_jobs:
                fixed = {"id": after + 1} if after is not None and not ids else {}
                ids.append(
                    JobRow.insert(
                        **fixed,
                        input_path=nj.input_path,
                        input_size=nj.input_size,
                        input_mtime=nj.input_mtime,
                        input_hash=nj.input_hash,
                        input_probe=nj.input_probe,
                        preset=nj.preset,
                        output_dir=nj.output_dir,
                        priority=nj.priority,
                        source=nj.source.value,
                        batch=nj.batch,
                        max_attempts=self.max_attempts,
                        created_at=now,
                        updated_at=now,
                    ).execute()
                )
        return ids

    def _pruned_above(self) -> int | None:
        """The highest pruned job id when it is above every job left (SQLite
        only; call inside the creating transaction), else None.

        SQLite numbers a new row after the highest id in its table, so once
        the newest jobs are pruned their ids would be handed out again, and the
        memory of pruned jobs (keyed by id) and every log line naming them with
        them. PostgreSQL's sequences never go back.
        """
        if not isinstance(self.db, peewee.SqliteDatabase):
            return None
        pruned = PrunedJobRow.select(peewee.fn.MAX(PrunedJobRow.id)).scalar()
        if pruned is None:
            return None
        left = JobRow.select(peewee.fn.MAX(JobRow.id)).scalar() or 0
        return int(pruned) if int(pruned) > int(left) else None

    def get(self, job_id: int) -> Job:
        row = JobRow.get_or_none(JobRow.id == job_id)
        if row is None:
            raise JobNotFound(f"no job with id {job_id}; see 'mediaforge jobs' for the ids")
        return Job.from_row(row)

    def list_jobs(
        self, status: JobStatus | None = None, limit: int = 20, offset: int = 0,
        preset: str | None = None,
    ) -> list[Job]:  # fmt: skip
        """Newest first; only those in ``status`` and of ``preset`` when given."""
        query = JobRow.select().order_by(JobRow.id.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(JobRow.status == status.value)
        if preset is not None:
            query = query.where(JobRow.preset == preset)
        return [Job.from_row(r) for r in query]

    def changed_since(
        self, after: float, job_id: int | None = None, limit: int = 200
    ) -> list[Job]:
        """Jobs written after ``after`` (their ``updated_at``), oldest change
        first: what a live view has not seen yet."""
        query = (
            JobRow.select()
            .where(JobRow.updated_at > after)
            .order_by(JobRow.updated_at, JobRow.id)
            .limit(limit)
        )
        if job_id is not None:
            query = query.where(JobRow.id == job_id)
        return [Job.from_row(r) for r in query]

    def ended_between(self, after: float, until: float, limit: int = 200) -> list[Job]:
        """Finished jobs that ended after ``after`` and by ``until`` (their
        ``finished_at``), the earliest first."""
        query = (
            JobRow.select()
            .where(
                (JobRow.finished_at > after)
                & (JobRow.finished_at <= until)
                & JobRow.status.in_([s.value for s in JobStatus if s.finished])
            )
            .order_by(JobRow.finished_at, JobRow.id)
            .limit(limit)
        )
        return [Job.from_row(r) for r in query]

    def count_by_status(self) -> dict[JobStatus, int]:
        rows = JobRow.select(JobRow.status, peewee.fn.COUNT(JobRow.id)).group_by(JobRow.status)
        counts = dict.fromkeys(JobStatus, 0)
        for status, n in cast(Any, rows.tuples()):
            counts[JobStatus(status)] = n
        return counts

    def ids_with_status(self, status: JobStatus) -> list[int]:
        return [
            r
            for (r,) in cast(
                Any, JobRow.select(JobRow.id).where(JobRow.status == status.value).tuples()
            )
        ]

    def handed_back(self, due_by: float, limit: int = 50) -> list[Job]:
        """Queued jobs that a host handed back (it could not see their files)
        and that may run by ``due_by``, the most urgent first."""
        query = (
            JobRow.select()
            .where(
                (JobRow.status == JobStatus.QUEUED.value)
                & JobRow.refusals.is_null(False)
                & (JobRow.retry_at.is_null() | (JobRow.retry_at <= due_by))
            )
            .order_by(JobRow.priority.desc(), JobRow.id)
            .limit(limit)
        )
        return [Job.from_row(r) for r in query]

    def find_by_fingerprint(self, input_hash: str, preset: str) -> Iterator[Job]:
        """Jobs for the same content and preset (used to avoid duplicate work)."""
        query = JobRow.select().where((JobRow.input_hash == input_hash) & (JobRow.preset == preset))
        return (Job.from_row(r) for r in query)

    def newer_job(self, job: Job) -> int | None:
        """The newest job created after ``job`` for the same input and preset
        (cancelled ones aside), if any."""
        row = (
            JobRow.select(JobRow.id)
            .where(
                (JobRow.input_path == job.input_path)
                & (JobRow.preset == job.preset)
                & (JobRow.id > job.id)
                & (JobRow.status != JobStatus.CANCELLED.value)
            )
            .order_by(JobRow.id.desc())
            .first()
        )
        return None if row is None else int(row.id)

    def active_jobs_like(self, new_jobs: Sequence[NewJob]) -> list[Job | None]:
        """:meth:`active_job_like` for many jobs at once: a few queries by content
        hash (indexed) instead of one per job, whose cost grew with the queue."""
        found: dict[tuple[str, str, str | None, str | None], Job] = {}
        hashes = sorted({nj.input_hash for nj in new_jobs if nj.input_hash is not None})
        for start in range(0, len(hashes), 500):  # SQLite's bound-variable limit is far above
            rows = (
                JobRow.select()
                .where(
                    JobRow.input_hash.in_(hashes[start : start + 500])
                    & JobRow.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
                )
                .order_by(JobRow.id.desc())  # the oldest last, so it wins below
            )
            for row in rows:
                key = (row.input_path, row.preset, row.input_hash, row.output_dir)
                found[key] = Job.from_row(row)
        return [
            found.get((nj.input_path, nj.preset, nj.input_hash, nj.output_dir))
            if nj.input_hash is not None
            else self.active_job_like(nj)
            for nj in new_jobs
        ]

    def active_job_like(self, new_job: NewJob) -> Job | None:
        """A queued or running job that would make what ``new_job`` would make:
        the same input path and content (partial hash), preset and output folder."""
        row = (
            JobRow.select()
            .where(
                (JobRow.input_path == new_job.input_path)
                & (JobRow.preset == new_job.preset)
                & (JobRow.input_hash == new_job.input_hash)
                & (
                    JobRow.output_dir.is_null()
                    if new_job.output_dir is None
                    else JobRow.output_dir == new_job.output_dir
                )
                & JobRow.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
            )
            .order_by(JobRow.id)
            .first()
        )
        return None if row is None else Job.from_row(row)

    def job_with_output(self, paths: Sequence[str]) -> int | None:
        """The job that published one of ``paths`` as an output, if any."""
        wanted = set(paths)
        condition = mentioning(JobRow.outputs, wanted)
        if condition is None:
            return None
        for row in JobRow.select(JobRow.id, JobRow.outputs).where(condition):
            if any(o.get("path") in wanted for o in json.loads(row.outputs or "[]")):
                return int(row.id)
        return None

    # -- transitions -----------------------------------------------------------

    def _move(
        self,
        job_id: int,
        to: JobStatus,
        *,
        owner: str | None = None,
        sources: Iterable[JobStatus] | None = None,
        and_then: Callable[[], object] | None = None,
        stale_before: float | None = None,
        **fields: Any,
    ) -> bool:
        """Compare-and-set one job's status in one short transaction.

        Only moves a job from a state ``TRANSITIONS`` allows (narrowed by
        ``sources``) and, with ``owner``, only while that worker holds it;
        ``and_then`` runs in the same transaction when the move happened;
        with ``stale_before``, only while the job's heartbeat is older than that
        (or missing): a heartbeat that lands first keeps the job with its worker.
        Returns False when the job was not in such a state (someone else won).
        """
        allowed = TRANSITIONS[to] if sources is None else TRANSITIONS[to] & set(sources)
        now = time.time()
        query = JobRow.update(status=to.value, updated_at=now, **fields).where(
            (JobRow.id == job_id) & (JobRow.status.in_([s.value for s in allowed]))
        )
        if owner is not None:
            query = query.where(JobRow.worker == owner)
        if stale_before is not None:
            query = query.where(
                JobRow.heartbeat_at.is_null() | (JobRow.heartbeat_at < stale_before)
            )
        with self.db.atomic():
            moved = bool(query.execute())
            if moved and and_then is not None:
                and_then()
            return moved

    def claim(self, job_id: int, worker: str) -> Job | None:
        """Take a queued job for ``worker``; None if it is not queued any more.

        This is what makes a duplicate delivery from the queue harmless: only
        one claim of a queued job can win.
        """
        now = self.now()
        won = self._move(
            job_id,
            JobStatus.RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            retry_at=None,
            progress=0.0,
            attempts=JobRow.attempts + 1,
            decisions=None,  # each attempt decides afresh
        )
        return self.get(job_id) if won else None

    def heartbeat(self, job_id: int, worker: str, progress: float) -> bool:
        """Record progress; False when ``worker`` no longer holds a running job
        (it was cancelled, or recovered by another worker): stop work then."""
        now = self.now()
        return self._update_held(job_id, worker, progress=progress, heartbeat_at=now)

    def set_input_facts(self, job_id: int, worker: str, **facts: Any) -> None:
        """Record what the worker learned about the input (duration, action, note)."""
        query = JobRow.update(updated_at=time.time(), **facts).where(
            (JobRow.id == job_id) & (JobRow.worker == worker)
        )
        with self.db.atomic():
            query.execute()

    def decide(self, job_id: int, worker: str, topic: str, text: str) -> bool:
        """Record one decision of this attempt on a running job ``worker`` holds
        (``topic`` such as "streams" or "encoder", ``text`` one line for people);
        a later decision on the same topic replaces the earlier one. False when
        the worker lost the job meanwhile."""
        with self.db.atomic():
            row = JobRow.select(JobRow.decisions).where(JobRow.id == job_id).get_or_none()
            found = json.loads(row.decisions) if row is not None and row.decisions else {}
            found[topic] = text
            return self._update_held(job_id, worker, decisions=json.dumps(found))

    def plan_publishing(self, job_id: int, worker: str, plan: Sequence[dict[str, Any]]) -> bool:
        """Record what ``worker`` is about to publish for a running job it holds
        (before the first rename); False when it lost the job meanwhile."""
        plan_text = json.dumps(list(plan))
        return self._update_held(job_id, worker, publishing=plan_text, heartbeat_at=self.now())

    def _update_held(self, job_id: int, worker: str, **fields: Any) -> bool:
        """Write ``fields`` on a running job only while ``worker`` holds it."""
        query = JobRow.update(updated_at=time.time(), **fields).where(
            (JobRow.id == job_id)
            & (JobRow.worker == worker)
            & (JobRow.status == JobStatus.RUNNING.value)
        )
        with self.db.atomic():
            return bool(query.execute())

    def publishing(self, job_id: int) -> list[dict[str, Any]]:
        """The publish plan an earlier attempt recorded and did not finish (or [])."""
        row = JobRow.select(JobRow.publishing).where(JobRow.id == job_id).get_or_none()
        plan: list[dict[str, Any]] = json.loads(row.publishing) if row and row.publishing else []
        return plan

    def drop_publishing(self, job_id: int, worker: str) -> None:
        """Forget a publish plan whose files were adopted into a new plan or removed."""
        query = JobRow.update(publishing=None, updated_at=time.time()).where(
            (JobRow.id == job_id) & (JobRow.worker == worker)
        )
        with self.db.atomic():
            query.execute()

    def finish(
        self,
        job_id: int,
        worker: str,
        status: JobStatus,
        *,
        outputs: Sequence[Output] = (),
        error: str | None = None,
        log_tail: str | None = None,
        note: str | None = None,
        uploads: Sequence[NewUpload] = (),
        stale_before: float | None = None,
    ) -> bool:
        """End a running job held by ``worker``; False if it lost the job meanwhile.

        ``uploads`` are recorded in the same transaction: a job is never
        succeeded with the files it owes to S3 forgotten. ``stale_before``: only
        if the job's heartbeat is older than that (recovery of a silent worker).
        """
        fields: dict[str, Any] = {
            # The database's clock, like started_at: a job's run time is one clock's difference.
            "finished_at": self.now(),
            "outputs": json.dumps([o.to_dict() for o in outputs]),
            "error": error,
            "log_tail": log_tail,
        }
        if status is JobStatus.SUCCEEDED:
            fields["progress"] = 1.0
            fields["publishing"] = None  # done: the outputs are recorded
        if note is not None:
            fields["note"] = note
        return self._move(
            job_id,
            status,
            owner=worker,
            sources=[JobStatus.RUNNING],
            and_then=(lambda: insert_uploads(job_id, uploads, time.time())) if uploads else None,
            stale_before=stale_before,
            **fields,
        )

    def release(
        self,
        job_id: int,
        worker: str,
        *,
        retry_at: float | None = None,
        error: str | None = None,
        log_tail: str | None = None,
        count_attempt: bool = True,
        stale_before: float | None = None,
    ) -> bool:
        """Give a running job back to the queue (a retry later, or a hand-back).

        A hand-back at shutdown is not the job's fault, so it does not use up
        an attempt (``count_attempt=False``). ``stale_before``: as for ``finish``.
        """
        fields: dict[str, Any] = {
            "worker": None,
            "heartbeat_at": None,
            "retry_at": retry_at,
            "error": error,
            "log_tail": log_tail,
            "progress": 0.0,
        }
        if not count_attempt:
            fields["attempts"] = JobRow.attempts - 1
        return self._move(
            job_id,
            JobStatus.QUEUED,
            owner=worker,
            sources=[JobStatus.RUNNING],
            stale_before=stale_before,
            **fields,
        )

    def hand_over(
        self, job_id: int, worker: str, *, note: str, retry_at: float, refusals: str
    ) -> bool:
        """Give a running job back for another host: this one cannot see its
        files. Not the job's fault: no attempt is used; the hand-back is counted
        and ``refusals`` (which hosts refused it) recorded."""
        return self._move(
            job_id,
            JobStatus.QUEUED,
            owner=worker,
            sources=[JobStatus.RUNNING],
            worker=None,
            heartbeat_at=None,
            retry_at=retry_at,
            progress=0.0,
            note=note,
            attempts=JobRow.attempts - 1,
            handbacks=JobRow.handbacks + 1,
            refusals=refusals,
        )

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued or running job. A running job's worker notices at its
        next heartbeat, kills ffmpeg and removes its temporary files."""
        job = self.get(job_id)
        if job.status.finished:
            raise JobStateError(
                f"job {job_id} is already {job.status.value}; only queued or running jobs "
                "can be cancelled"
            )
        if not self._move(job_id, JobStatus.CANCELLED, finished_at=self.now()):
            return self.cancel(job_id)  # it changed state under us; look again
        return self.get(job_id)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again, with a fresh set of attempts."""
        job = self.get(job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobStateError(
                f"job {job_id} is {job.status.value}; only failed or cancelled jobs can be retried"
            )
        moved = self._move(
            job_id,
            JobStatus.QUEUED,
            sources=[JobStatus.FAILED, JobStatus.CANCELLED],
            attempts=0,
            handbacks=0,
            refusals=None,
            error=None,
            log_tail=None,
            progress=0.0,
            worker=None,
            retry_at=None,
            finished_at=None,
        )
        if not moved:
            raise JobStateError(f"job {job_id} changed state meanwhile; look at it again")
        return self.get(job_id)

    def fail_queued(self, job_id: int, error: str) -> bool:
        """Fail a job that never started (e.g. its input vanished before a worker got it)."""
        return self._move(
            job_id,
            JobStatus.FAILED,
            sources=[JobStatus.QUEUED],
            error=error,
            finished_at=self.now(),
        )

    def running_with_fresh_heartbeat(self, stale_after: float) -> int:
        """How many jobs are running with a heartbeat newer than ``stale_after``
        seconds: each one means a live worker (on any host) holds it."""
        cutoff = self.now() - stale_after
        query = JobRow.select(JobRow.id).where(
            (JobRow.status == JobStatus.RUNNING.value) & (JobRow.heartbeat_at >= cutoff)
        )
        return int(query.count())

    def recover(self, stale_after: float) -> tuple[list[int], list[int]]:
        """Give back running jobs whose worker is gone.

        A worker is gone when its heartbeat is older than ``stale_after`` (on
        the database's clock), or when it ran in this PID namespace in a process
        that no longer exists (see ``WorkerStore.proven_dead``). Jobs with attempts
        left go back to ``queued``; the others fail, except a job whose worker
        died while publishing its verified outputs: it gets one more attempt,
        which adopts what was published (see queue/publishing.py). Returns
        (requeued, failed).
        """
        cutoff = self.now() - stale_after
        requeued: list[int] = []
        failed: list[int] = []
        query = JobRow.select(
            JobRow.id,
            JobRow.worker,
            JobRow.heartbeat_at,
            JobRow.attempts,
            JobRow.max_attempts,
            JobRow.publishing,
        ).where(JobRow.status == JobStatus.RUNNING.value)
        rows = list(query)
        dead = self.workers.proven_dead(r.worker for r in rows)
        for row in rows:
            owner = row.worker or ""
            stale = row.heartbeat_at is None or row.heartbeat_at < cutoff
            if not (stale or owner in dead):
                continue
            # A worker judged by its heartbeat may beat between the read above
            # and the release: the release then misses, and the job stays with it.
            # A worker whose process is gone cannot beat any more.
            silent = None if owner in dead else cutoff
            publishing = bool(row.publishing) and row.attempts <= row.max_attempts
            if row.attempts < row.max_attempts or publishing:
                if self.release(
                    row.id, owner, error="worker stopped while running it", stale_before=silent
                ):
                    requeued.append(row.id)
            elif self.finish(
                row.id,
                owner,
                JobStatus.FAILED,
                error=f"the worker running it died {row.attempts} time(s); "
                "look at the worker's log, then 'mediaforge retry'",
                stale_before=silent,
            ):
                failed.append(row.id)
        return requeued, failed

    # -- batches ---------------------------------------------------------------

    def batch_jobs(self, batch: str) -> list[Job]:
        """Every job of one batch (a multi-file submit or a watch drop), oldest first."""
        query = JobRow.select().where(JobRow.batch == batch).order_by(JobRow.id)
        return [Job.from_row(r) for r in query]

    def batch_finished(self, batch: str) -> bool:
        """Whether every job of ``batch`` has ended."""
        unfinished = JobRow.select().where(
            (JobRow.batch == batch) & JobRow.status.not_in([s.value for s in FINISHED])
        )
        return not unfinished.exists()
