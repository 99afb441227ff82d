"""Recording and running hooks: which hooks a job's end owes, and one run each.

The job database is the source of truth, as for notifications. When a job
ends, a ``hook`` row is recorded for each configured hook that wants that
end (``Hooks.job_ended``); a queued task (``mediaforge.hook``) then runs
every due row once (``Hooks.run_due``). A failed run is retried
``retries`` times with backoff (``retry_backoff``, doubled each time); every
attempt's outcome is on the row and shown by ``mediaforge status``. A hook
never changes its job: a failing hook leaves a succeeded job succeeded. The
claim on a row is refreshed every ``worker.heartbeat_interval`` while its
hook runs, so a row whose claim is older than ``worker.stale_after`` was
left by a dead worker and is run again.

Secrets: a hook is known by its ``name``; its token and header values are
scrubbed from every result, output tail and log line (``Hook.scrub``).
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass

from mediaforge.config.schema import Config
from mediaforge.errors import HookError, JobNotFound
from mediaforge.events import Event
from mediaforge.hooks.calls import call_hook
from mediaforge.hooks.command import run_command
from mediaforge.hooks.spec import Hook, Outcome, resolve, wanted
from mediaforge.hooks.store import HookRun, HookStore, NewHookRun
from mediaforge.jobs.model import Job
from mediaforge.jobs.pulse import Pulse
from mediaforge.jobs.store import JobStore
from mediaforge.storage.paths import PathMap
from mediaforge.units import backoff

log = logging.getLogger(__name__)

_EARLY = 0.2  # seconds before its due time a run may start


@dataclass(frozen=True)
class Tried:
    """What one attempt of one hook gave, as recorded."""

    hook: str
    job_id: int
    outcome: Outcome


class Hooks:
    """Records which hooks a job's end owes, and runs them; one per worker process."""

    def __init__(self, config: Config, store: JobStore) -> None:
        self.config, self.store = config, store
        self.rows = HookStore(store)
        self.by_name = {h.name: h for h in config.hooks if h.name}

    @property
    def enabled(self) -> bool:
        return bool(self.by_name)

    def job_ended(self, job: Job) -> bool:
        """Record the runs owed for a job that just ended; True when any was new."""
        if not self.enabled or not job.status.finished:
            return False
        event = Event.for_job(job.status).value
        now = self.rows.now()
        key = f"job:{job.id}:{job.finished_at!r}"
        items = [
            NewHookRun(job.id, key, name, hook.kind, event, now)
            for name, hook in self.by_name.items()
            if wanted(hook, job, event)
        ]
        return self.rows.add(items) > 0

    def run_due(self, claimer: str, *, everything: bool = False) -> float | None:
        """Run every due hook row once (``everything``: every pending one).
        Returns the seconds until the earliest retry this call scheduled, or None."""
        now = self.rows.now()
        # A claim not refreshed for this long belongs to a worker that died running it.
        self.rows.release_stale(now - self.config.worker.stale_after)
        horizon = now + 10**9 if everything else now + _EARLY
        retries: list[float] = []
        for row_id in self.rows.due_ids(horizon):
            claim = f"{claimer}#{uuid.uuid4().hex[:8]}"
            run = self.rows.claim(row_id, claim)
            if run is None:
                continue  # another worker took it
            # The claim is refreshed while the hook runs, as a job's heartbeat is.
            beat = functools.partial(self.rows.refresh, run.id, claim)
            with Pulse(beat, self.config.worker.heartbeat_interval):
                outcome = self.attempt(run.hook, run.job_id, run.event)
            retry_in = self._settle(run, claim, outcome)
            if retry_in is not None:
                retries.append(retry_in)
        return min(retries) if retries else None

    def attempt(self, name: str, job_id: int, event: str) -> Outcome:
        """Run hook ``name`` once for job ``job_id``, without recording anything."""
        config = self.by_name.get(name)
        if config is None:
            return Outcome(False, "the hook is not configured any more")
        try:
            hook = resolve(config, every=self.config.hooks)
        except HookError as e:
            return Outcome(False, str(e))
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            # Pruned between its end and this run: nothing to run the hook for,
            # and retrying cannot bring the job back.
            return Outcome(False, f"job {job_id} no longer exists (pruned?)", gone=True)
        return run_hook(hook, job, event, PathMap.of(self.config))

    def _settle(self, run: HookRun, claim: str, outcome: Outcome) -> float | None:
        if outcome.ok:
            self.rows.settle(run.id, claim, done=True, result=outcome.result, output=outcome.output)
            log.info("hook %s for job %s: %s", run.hook, run.job_id, outcome.result)
            return None
        config = self.by_name.get(run.hook)
        attempt = run.attempts + 1
        retry_in: float | None = None
        if config is not None and attempt <= config.retries and not outcome.gone:
            retry_in = backoff(config.retry_backoff, attempt)
        self.rows.settle(
            run.id,
            claim,
            done=False,
            result=outcome.result,
            output=outcome.output,
            error=outcome.result,
            retry_at=None if retry_in is None else self.rows.now() + retry_in,
        )
        log.warning(
            "hook %s for job %s failed: %s; %s",
            run.hook,
            run.job_id,
            outcome.result,
            f"next attempt in {retry_in:g} s" if retry_in is not None else "giving up",
        )
        return retry_in


def run_hook(hook: Hook, job: Job, event: str, paths: PathMap) -> Outcome:
    """One run of ``hook`` for ``job`` ending with ``event``."""
    if hook.config.kind == "command":
        return run_command(hook, job, event, paths)
    return call_hook(hook, job, event)


def run_hooks_now(config: Config, store: JobStore, job: Job, claimer: str) -> None:
    """Record and run at once the hooks of ``job`` (``mediaforge run``: no worker
    may be running). A failed run stays pending for a worker's retry; nothing
    here fails the job or the command."""
    hooks = Hooks(config, store)
    if not hooks.enabled:
        return
    try:
        if hooks.job_ended(job):
            hooks.run_due(claimer)
    except Exception:  # the job is done whatever happens to its hooks
        log.exception("could not run the hooks of job %s", job.id)
