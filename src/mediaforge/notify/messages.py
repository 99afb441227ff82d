"""Message composition: job and digest template fields, filled into a title and body.

Templates come from ``notify.title``/``body`` (one job) and ``notify.digest_*``
(several jobs or worker events); a body line whose field has no value is left out.
"""

from __future__ import annotations

import socket
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaforge.config.schema import NotifyConfig
from mediaforge.errors import NotifyError
from mediaforge.events import Event
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.storage.s3.report import upload_summary
from mediaforge.storage.s3.rows import Upload
from mediaforge.units import human_duration, human_size

ICONS = {
    JobStatus.SUCCEEDED: "✅",
    JobStatus.FAILED: "❌",
    JobStatus.SKIPPED: "⏭️",
    JobStatus.CANCELLED: "🚫",
}
WORKER_ICON = "⚠️"


@dataclass(frozen=True)
class Message:
    """What goes to one target at once."""

    title: str
    body: str
    kind: str  # Apprise's notify type: info, success, warning or failure


def _ratio(output_size: int, input_size: int | None) -> str:
    return f"{output_size / input_size * 100:.0f}%" if input_size else ""


def job_fields(job: Job, uploads: Sequence[Upload] = ()) -> dict[str, str]:
    """The template fields of one job (``config.JOB_FIELDS``); missing facts are ''.
    ``uploads`` are the job's files owed to S3 (for ``upload`` and ``links``)."""
    output_size = sum(o.size for o in job.outputs)
    elapsed = job.elapsed if job.started_at is not None else None
    speed = ""
    if job.status is JobStatus.SUCCEEDED and job.input_duration and elapsed:
        speed = f"{job.input_duration / elapsed:.1f}x realtime"
    return {
        "id": str(job.id),
        "name": Path(job.input_path).name,
        "input": job.input_path,
        "preset": job.preset,
        "status": job.status.value,
        "event": Event.for_job(job.status).value if job.status.finished else "",
        "icon": ICONS.get(job.status, ""),
        "took": human_duration(elapsed),
        "speed": speed,
        "input_size": human_size(job.input_size),
        "output_size": human_size(output_size) if job.outputs else "",
        "ratio": _ratio(output_size, job.input_size) if job.outputs else "",
        "outputs": ", ".join(o.path for o in job.outputs),
        "error": job.error or "",
        "note": job.note or "",
        "attempts": f"{job.attempts}/{job.max_attempts}",
        "batch": job.batch or "",
        "host": socket.gethostname(),
        "upload": upload_summary(uploads),
        "links": "".join(
            f"\n- {u.name}: {u.url}" for u in uploads if u.url is not None and u.link_valid
        ),
    }


def render(template: str, fields: dict[str, str], *, setting: str, drop_lines: bool) -> str:
    """Fill a ``str.format`` template. With ``drop_lines``, a line that uses a
    field with no value is left out."""
    lines = []
    for line in template.split("\n"):
        names = [n.split(".", 1)[0].split("[", 1)[0] for _, n, _, _ in _parse(line) if n]
        if drop_lines and any(not fields.get(name) for name in names):
            continue
        try:
            lines.append(line.format_map(fields).rstrip())
        except (KeyError, ValueError, AttributeError, IndexError) as e:
            raise NotifyError(f"notify.{setting}: cannot fill {line!r}: {e}") from None
    return "\n".join(lines).strip()


def _parse(line: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(line))


def compose(
    settings: NotifyConfig,
    jobs: Sequence[Job],
    worker_events: Sequence[dict[str, Any]] = (),
    *,
    digest: bool = False,
    uploads: Mapping[int, Sequence[Upload]] | None = None,
) -> Message:
    """The message for ``jobs`` and worker events: a single-job message when
    there is one job and nothing else (and ``digest`` is not forced), else a digest.
    ``uploads`` maps job ids to their files owed to S3."""
    uploads = uploads or {}
    if len(jobs) == 1 and not worker_events and not digest:
        [job] = jobs
        fields = job_fields(job, uploads.get(job.id, ()))
        kind = {JobStatus.SUCCEEDED: "success", JobStatus.FAILED: "failure"}.get(job.status, "info")
        return Message(
            render(settings.title, fields, setting="title", drop_lines=False),
            render(settings.body, fields, setting="body", drop_lines=True),
            kind,
        )
    if not jobs:
        texts = [str(event.get("text", "")) for event in worker_events]
        title = texts[0] if len(texts) == 1 else f"{len(texts)} worker events"
        body = "\n".join(f"- {WORKER_ICON} {text}" for text in texts)
        return Message(f"mediaforge: {title}", body, "warning")
    fields = digest_fields(settings, jobs, worker_events, uploads)
    failed = any(j.status is JobStatus.FAILED for j in jobs)
    return Message(
        render(settings.digest_title, fields, setting="digest_title", drop_lines=False),
        render(settings.digest_body, fields, setting="digest_body", drop_lines=True),
        "failure" if failed else "warning" if worker_events else "success",
    )


def digest_fields(
    settings: NotifyConfig,
    jobs: Sequence[Job],
    worker_events: Sequence[dict[str, Any]],
    uploads: Mapping[int, Sequence[Upload]] | None = None,
) -> dict[str, str]:
    """The template fields of a digest (``config.DIGEST_FIELDS``).

    Sizes and the ratio count the jobs that produced outputs; ``took`` runs
    from the first start to the last end.
    """
    counts = {status: sum(j.status is status for j in jobs) for status in ICONS}
    summary = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
    with_outputs = [j for j in jobs if j.outputs]
    input_size = sum(j.input_size or 0 for j in with_outputs)
    output_size = sum(o.size for j in with_outputs for o in j.outputs)
    starts = [j.started_at for j in jobs if j.started_at is not None]
    ends = [j.finished_at for j in jobs if j.finished_at is not None]
    items = [
        render(
            settings.digest_item,
            job_fields(j, (uploads or {}).get(j.id, ())),
            setting="digest_item",
            drop_lines=False,
        )
        for j in jobs[: settings.digest_max_items]
    ]
    items += [f"- {WORKER_ICON} {event.get('text', '')}" for event in worker_events]
    hidden = len(jobs) - settings.digest_max_items
    batches = {j.batch for j in jobs}
    return {
        "count": str(len(jobs)),
        "summary": summary,
        **{status.value: str(n) for status, n in counts.items()},
        "input_size": human_size(input_size) if with_outputs else "",
        "output_size": human_size(output_size) if with_outputs else "",
        "ratio": _ratio(output_size, input_size) if with_outputs else "",
        "took": human_duration(max(ends) - min(starts)) if starts and ends else "",
        "batch": (batches.pop() or "") if len(batches) == 1 else "",
        "items": "\n".join(items),
        "more": f"…and {hidden} more: see 'mediaforge jobs'" if hidden > 0 else "",
        "host": socket.gethostname(),
    }
