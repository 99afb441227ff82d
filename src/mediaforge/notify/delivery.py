"""Recording and delivering notifications: who hears about what, and one message per target.

The job database is the source of truth here too. When a job ends, a
``notification`` row is recorded for each target that wants the event
(``Notifier.job_ended``); a queued task (``mediaforge.notify``) then sends,
for each target with a row due, *all* of its pending rows as one message
(``Notifier.deliver_due``). That is the whole digest mechanism:

- a row is due ``notify.window`` seconds after it was recorded, so jobs that
  end close together leave several rows that go out in one message;
- the jobs of a batch (a multi-file submit, a watch drop) record nothing for
  targets that want ``batch_finished`` until the last of them ends: then one
  ``batch_finished`` row stands for the whole batch.

Workers claim rows with a compare-and-set (status ``pending`` -> ``sending``
under a claim token), so two workers never send the same rows. A failed send
is retried ``notify.retries`` times with backoff; every outcome is recorded on
the rows and shown by ``mediaforge status``. Delivery never touches a job.

Secrets: targets are known by a label (``name`` or ``scheme://host``), never
by their URL. Failure reasons and Apprise's own log lines go through
``redact_text`` with every secret of every target before they are stored or
logged (``notify.sending``, ``notify.redactor``). Apprise is imported only by
``notify.targets``, and only when something is sent or an Apprise
configuration file is read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from mediaforge.config.schema import Config
from mediaforge.errors import JobNotFound, NotifyError
from mediaforge.events import Event
from mediaforge.jobs.model import Job
from mediaforge.jobs.store import JobStore
from mediaforge.notify.messages import Message, compose
from mediaforge.notify.redactor import _REDACTOR
from mediaforge.notify.sending import Delivery, send
from mediaforge.notify.store import (
    NewNotification,
    Notification,
    NotificationStatus,
    NotificationStore,
)
from mediaforge.notify.targets import Target, load_targets
from mediaforge.storage.s3.rows import UploadStore
from mediaforge.units import backoff

log = logging.getLogger(__name__)

_EARLY = 0.2  # seconds before its due time a message may go out


class Notifier:
    """Records what is owed to whom, and sends it; one per worker process."""

    def __init__(self, config: Config, store: JobStore) -> None:
        self.config, self.store = config, store
        self.settings = config.notify
        self.uploads = UploadStore(store)
        self.rows = NotificationStore(store)
        self._targets: dict[str, Target] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.targets) or self.settings.apprise_config is not None

    @property
    def targets(self) -> dict[str, Target]:
        if self._targets is None:
            self._targets = {t.label: t for t in load_targets(self.settings)}
        return self._targets

    def _wanting(self, event: Event) -> list[Target]:
        return [t for t in self.targets.values() if event in t.events] if self.enabled else []

    def job_ended(self, job: Job) -> float | None:
        """Record the messages owed for a job that just ended; returns the
        seconds until they are due (None when nothing was recorded)."""
        if not self.enabled or not job.status.finished:
            return None
        if not self.uploads.settled(job.id):
            return None  # recorded when its uploads settle: the message carries their links
        event = Event.for_job(job.status)
        due = self.rows.now() + self.settings.window
        batch_done = (
            job.batch is not None
            and self.store.batch_finished(job.batch)
            and self.uploads.batch_settled(job.batch)
        )
        batch_key = f"batch:{job.batch}"
        items: list[NewNotification] = []
        for target in self.targets.values():
            if job.batch is not None and Event.BATCH_FINISHED in target.events:
                if not batch_done:
                    continue  # the batch's digest will report it
                digest = self.rows.get(batch_key, Event.BATCH_FINISHED, target.label)
                if digest is None or digest.status is NotificationStatus.PENDING:
                    items.append(
                        NewNotification(
                            batch_key, Event.BATCH_FINISHED, target.label, due, batch=job.batch
                        )
                    )
                    continue
                if job.finished_at is not None and job.finished_at <= digest.created_at:
                    continue  # the digest reported this ending (its uploads settled later)
                # The digest went out before this job ended again (it was retried).
            if event in target.events:
                key = f"job:{job.id}:{job.finished_at!r}"
                items.append(NewNotification(key, event, target.label, due, job.id, job.batch))
        return self.settings.window if self.rows.add(items) else None

    def worker_event(self, event: Event, worker: str, text: str) -> float | None:
        """Record a worker event for the targets that want it; like ``job_ended``."""
        now = self.rows.now()
        payload = {"worker": worker, "text": text}
        items = [
            NewNotification(f"worker:{worker}:{now!r}", event, t.label, now, payload=payload)
            for t in self._wanting(event)
        ]
        return 0.0 if self.rows.add(items) else None

    def deliver_due(self, claimer: str, *, everything: bool = False) -> float | None:
        """Send, for each target with a message due (``everything``: with any
        pending), all its pending messages as one. Returns the seconds until
        the earliest retry this call scheduled, or None."""
        now = self.rows.now()
        # A claim older than this belongs to a worker that died while sending.
        self.rows.release_stale(now - max(60.0, 4 * self.settings.timeout))
        # A little ahead of now: a task that wakes a hair before its rows are
        # due must still send them, or they would wait for the recovery sweep.
        horizon = now + 10**9 if everything else now + _EARLY
        retries: list[float] = []
        for label in self.rows.due_targets(horizon):
            claim = f"{claimer}#{uuid.uuid4().hex[:8]}"
            rows = self.rows.claim(label, claim)
            if rows:
                retry_in = self._deliver(label, rows, claim)
                if retry_in is not None:
                    retries.append(retry_in)
        return min(retries) if retries else None

    def _deliver(self, label: str, rows: list[Notification], claim: str) -> float | None:
        target = self.targets.get(label) if self.enabled else None
        if target is None:
            self._settle(
                rows, claim, Delivery(label, False, "the target is not configured any more")
            )
            return None
        jobs, gone = self._jobs_of(rows)
        if gone:
            self._give_up_gone(gone, claim)
            rows = [r for r in rows if r not in gone]
            if not rows:
                return None
        try:
            message = self._compose(rows, jobs)
        except NotifyError as e:
            delivery = Delivery(label, False, _REDACTOR.scrub(str(e)))
        else:
            delivery = send(target, message, self.settings)
        return self._settle(rows, claim, delivery)

    def _jobs_of(
        self, rows: Sequence[Notification]
    ) -> tuple[dict[int, Job], list[Notification]]:
        """The jobs ``rows`` are about, and the rows whose job no longer exists
        (pruned between the recording and now; on PostgreSQL a prune may
        commit between ``NotificationStore.add``'s check and its insert)."""
        jobs: dict[int, Job] = {}
        gone: list[Notification] = []
        for row in rows:
            if row.job_id is None or row.job_id in jobs:
                continue
            try:
                jobs[row.job_id] = self.store.get(row.job_id)
            except JobNotFound:
                gone.append(row)
        return jobs, gone

    def _give_up_gone(self, rows: Sequence[Notification], claim: str) -> None:
        """Settle rows about jobs that are gone as failed, for good: retrying
        cannot bring a job back, and left claimed they would hold up every
        later message to their target."""
        for row in rows:
            reason = f"job {row.job_id} no longer exists (pruned?)"
            self.rows.settle([row.id], claim, sent=False, error=reason)
            log.warning("notification to %s about job %s: %s", row.target, row.job_id, reason)

    def _compose(self, rows: Sequence[Notification], found: dict[int, Job]) -> Message:
        """The one message for ``rows``; ``found``: their jobs (``_jobs_of``)."""
        jobs: dict[int, Job] = {}
        batch_rows = False
        worker_events = []
        for row in rows:
            if row.job_id is not None:
                jobs.setdefault(row.job_id, found[row.job_id])
            elif row.batch is not None:
                batch_rows = True
                for job in self.store.batch_jobs(row.batch):
                    jobs.setdefault(job.id, job)
            else:
                worker_events.append(row.payload)
        return compose(
            self.settings,
            list(jobs.values()),
            worker_events,
            digest=batch_rows,
            uploads=self.uploads.for_jobs(list(jobs)),
        )

    def _settle(self, rows: Sequence[Notification], claim: str, delivery: Delivery) -> float | None:
        count = f"{len(rows)} notification{'s' if len(rows) != 1 else ''}"
        if delivery.ok:
            self.rows.settle([r.id for r in rows], claim, sent=True)
            log.info("sent %s to %s", count, delivery.target)
            return None
        retry_in: float | None = None
        exhausted = [r.id for r in rows if r.attempts + 1 > self.settings.retries]
        again = [r for r in rows if r.attempts + 1 <= self.settings.retries]
        if exhausted:
            self.rows.settle(exhausted, claim, sent=False, error=delivery.reason)
        if again:
            attempt = max(r.attempts for r in again) + 1
            retry_in = backoff(self.settings.retry_backoff, attempt)
            self.rows.settle(
                [r.id for r in again],
                claim,
                sent=False,
                error=delivery.reason,
                retry_at=self.rows.now() + retry_in,
            )
        log.warning(
            "sending %s to %s failed: %s; %s",
            count,
            delivery.target,
            delivery.reason,
            f"next attempt in {retry_in:g} s" if retry_in is not None else "giving up",
        )
        return retry_in


def notify_job_now(config: Config, store: JobStore, job: Job, claimer: str) -> None:
    """Record and send at once the messages about ``job`` (``mediaforge run``:
    no worker may be running). A failed send stays pending for a worker's
    retry; nothing here fails the job or the command."""
    notifier = Notifier(config, store)
    if not notifier.enabled:
        return
    try:
        if notifier.job_ended(job) is not None:
            notifier.deliver_due(claimer, everything=True)
    except Exception:  # the job is done whatever happens to its notification
        log.exception("could not send the notifications of job %s", job.id)
