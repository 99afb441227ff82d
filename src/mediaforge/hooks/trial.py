"""``mediaforge hooks test``: run configured hooks once for a job, now, and
say what each gave, without recording anything (the job's own hook rows
are left as they are)."""

from __future__ import annotations

from mediaforge.config.schema import Config
from mediaforge.errors import HookError
from mediaforge.events import Event
from mediaforge.hooks.delivery import Hooks, Tried
from mediaforge.jobs.model import JobStatus
from mediaforge.jobs.store import JobStore


def try_hooks(
    config: Config, store: JobStore, name: str | None = None, job_id: int | None = None
) -> list[Tried]:
    """Run hook ``name`` (None: every hook) once for job ``job_id`` (None: the
    newest succeeded job). Raises HookError for an unknown hook or when no
    job can be used, JobNotFound for a wrong id."""
    hooks = Hooks(config, store)
    if not hooks.enabled:
        raise HookError("no hooks are configured; add a 'hooks:' list, see docs/operations.md")
    if name is not None and name not in hooks.by_name:
        raise HookError(
            f"no hook is named {name!r}; the hooks are: {', '.join(sorted(hooks.by_name))}"
        )
    if job_id is None:
        newest = store.list_jobs(JobStatus.SUCCEEDED, limit=1)
        if not newest:
            raise HookError("no job has succeeded yet to test the hooks with; pass --job ID")
        job_id = newest[0].id
    job = store.get(job_id)
    if not job.status.finished:
        raise HookError(f"job {job.id} is {job.status.value}; test the hooks with a finished job")
    event = Event.for_job(job.status).value
    names = [name] if name is not None else list(hooks.by_name)
    return [Tried(n, job.id, hooks.attempt(n, job.id, event)) for n in names]


