"""How jobs, probes and presets look in a terminal (rich), and live progress."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mediaforge.hooks.store import HookRun, HookStatus
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.stats import Stats
from mediaforge.jobs.workers import WorkerInfo, WorkerState
from mediaforge.media.probe import MediaInfo
from mediaforge.notify.store import Notification, NotificationStatus
from mediaforge.storage.s3.report import SyncReport
from mediaforge.storage.s3.rows import Upload, UploadStatus
from mediaforge.units import human_size

STATUS_STYLE = {
    JobStatus.QUEUED: "cyan",
    JobStatus.RUNNING: "yellow",
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.SKIPPED: "blue",
    JobStatus.CANCELLED: "magenta",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _status_text(job: Job) -> str:
    text = f"[{STATUS_STYLE[job.status]}]{job.status.value}[/]"
    if job.status is JobStatus.RUNNING:
        text += f" {job.progress * 100:.0f}%"
    if job.status is JobStatus.QUEUED and job.retry_at and job.retry_at > time.time():
        text += f" (retry in {job.retry_at - time.time():.0f}s)"
    return text


def print_block(console: Console, renderable: Any) -> None:
    """Print a table; off a terminal, without the spaces that pad its lines
    (nobody sees the alignment there, and a script would read them as data)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    for line in captured.get().splitlines():
        console.print(line.rstrip(), markup=False, highlight=False, soft_wrap=True)


def _outputs_text(job: Job) -> str:
    """Where a job's outputs went: the first one's path, and how many more."""
    if not job.outputs:
        return "-"
    more = f" (+{len(job.outputs) - 1} more)" if len(job.outputs) > 1 else ""
    return escape(job.outputs[0].path) + more


def jobs_table(console: Console, jobs: Sequence[Job]) -> None:
    table = Table(box=None, pad_edge=False)
    for col in ("ID", "STATUS", "PRESET", "INPUT", "OUTPUT", "CREATED"):
        table.add_column(col, no_wrap=col not in ("INPUT", "OUTPUT"), overflow="fold")
    for job in jobs:
        table.add_row(
            str(job.id),
            _status_text(job),
            escape(job.preset),
            escape(job.input_path),
            _outputs_text(job),
            _when(job.created_at),
        )
    print_block(console, table)


WORKER_STYLE = {WorkerState.IDLE: "cyan", WorkerState.RUNNING: "yellow", WorkerState.STALE: "red"}


def workers_table(console: Console, workers: Sequence[WorkerInfo]) -> None:
    if not workers:
        console.print("no workers have registered (start one with 'mediaforge worker')")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("HOST", "PID", "STATE", "JOBS", "HEARTBEAT", "ID"):
        table.add_column(col, no_wrap=col != "JOBS", overflow="fold")
    for w in workers:
        jobs = ", ".join(f"{j.id} {j.progress * 100:.0f}% {escape(j.input_path)}" for j in w.jobs)
        table.add_row(
            escape(w.host),
            str(w.pid),
            f"[{WORKER_STYLE[w.state]}]{w.state.value}[/]"
            + (f", {escape(w.intake)}" if w.intake and w.state is not WorkerState.STALE else ""),
            jobs or "-",
            f"{w.age:.0f}s ago",
            escape(w.id),
        )
    console.print(table)


def job_detail(
    console: Console,
    job: Job,
    notifications: Sequence[Notification] = (),
    uploads: Sequence[Upload] = (),
    *,
    error: bool = True,
    waiting: str | None = None,
    hooks: Sequence[HookRun] = (),
) -> None:
    """A job's fields, one per row; ``error=False`` leaves out the error (the
    caller prints it as its ``Error:`` line); ``waiting``: why a queued job
    is not taken (paused, run windows)."""
    # Values are markup: every string a user or a file supplied goes through escape().
    rows: list[tuple[str, str]] = [
        ("job", str(job.id)),
        ("status", _status_text(job) + (f" ({escape(waiting)})" if waiting else "")),
        ("input", escape(job.input_path)),
        ("preset", escape(job.preset)),
        ("attempts", f"{job.attempts}/{job.max_attempts}"),
        ("source", escape(job.source)),
        ("created", _when(job.created_at)),
    ]
    if job.action:
        rows.append(("action", escape(job.action)))
    if job.started_at:
        rows.append(("started", _when(job.started_at)))
    if job.finished_at:
        rows.append(("finished", _when(job.finished_at)))
    if job.elapsed is not None and job.status.finished:
        speed = ""
        # A speed only for work that was done: a stopped job's is meaningless.
        if job.status is JobStatus.SUCCEEDED and job.input_duration and job.elapsed > 0:
            speed = f" ({job.input_duration / job.elapsed:.1f}x realtime)"
        rows.append(("took", f"{job.elapsed:.1f}s{speed}"))
    if job.worker and job.status is JobStatus.RUNNING:
        rows.append(("worker", escape(job.worker)))
    if job.note:
        rows.append(("note", escape(job.note)))
    for topic, text in job.decided.items():
        rows.append((escape(topic), escape(text)))
    if job.error and error:
        rows.append(("error", f"[red]{escape(job.error)}[/]"))
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    for out in job.outputs:
        dims = f" {out.width}x{out.height}" if out.width else ""
        codecs = "/".join(c for c in (out.video_codec, out.audio_codec) if c)
        size = human_size(out.size)
        table.add_row("output", f"{escape(out.path)}  [dim]{escape(codecs)}{dims} {size}[/]")
    for upload in uploads:
        table.add_row("s3", _upload_text(upload))
    for note in notifications:
        table.add_row("notify", _notification_text(note))
    for run in hooks:
        table.add_row("hook", _hook_text(run))
    print_block(console, table)
    # Links go last, each on one unwrapped line, so they can be copied whole.
    for upload in uploads:
        if upload.url is None:
            continue
        if upload.link_valid:
            until = _when(upload.url_expires_at)
            console.print(
                f"link {upload.name} (until {until}): {upload.url}", markup=False, soft_wrap=True
            )
        else:
            console.print(
                f"link {upload.name}: expired; "
                f"'mediaforge s3 links {upload.job_id}' makes new ones",
                markup=False,
                soft_wrap=True,
            )


def _upload_text(upload: Upload) -> str:
    what = escape(upload.s3_url)
    error = escape(upload.error or "")
    gone = " [dim](local copy deleted)[/]" if upload.local_deleted else ""
    if upload.status is UploadStatus.UPLOADED:
        return f"[green]uploaded[/] {what}{gone}"
    if upload.status is UploadStatus.UPLOADING:
        return f"[yellow]uploading[/] {what}"
    failed = upload.status is UploadStatus.FAILED
    return _unsettled(what, failed, upload.attempts, error, upload.due_at, "")


def _hook_text(run: HookRun) -> str:
    what = escape(f"{run.hook} ({run.kind})")
    result = escape(run.result or "")
    tail = f"\n[dim]{escape(run.output)}[/]" if run.output else ""
    if run.status is HookStatus.DONE:
        return f"[green]done[/] {what}: {result}{tail}"
    if run.status is HookStatus.RUNNING:
        return f"[yellow]running[/] {what}"
    failed = run.status is HookStatus.FAILED
    return _unsettled(what, failed, run.attempts, result, run.due_at, "") + tail


def _unsettled(
    what: str, failed: bool, attempts: int, error: str, due_at: float, pending: str
) -> str:
    """Something retried with backoff (an upload, a notification) that is not
    through yet: failed for good, waiting for its next attempt, or not tried."""
    if failed:
        return f"[red]failed[/] {what} after {attempts} attempt(s): {error}"
    if attempts:
        return (
            f"[yellow]retrying[/] {what}: attempt {attempts} failed: {error}; "
            f"next at {_when(due_at)}"
        )
    return f"[cyan]pending[/] {what}{pending}"


def sync_report(console: Console, report: SyncReport) -> None:
    """What ``mediaforge s3 sync`` did, one line per kind of outcome."""
    r = report.round

    def line(text: str) -> None:
        console.print(text, markup=False, soft_wrap=True)

    if report.recorded:
        line(f"{report.recorded} file(s) of earlier jobs were not in S3 yet")
    if report.retried_failed:
        line(f"{report.retried_failed} failed upload(s) tried again")
    for u in r.uploaded:
        line(f"uploaded {u.path} -> {u.s3_url}")
    if r.already:
        line(f"{len(r.already)} file(s) were in S3 already (same bytes)")
    for u in r.retrying:
        line(f"not uploaded {u.path}: {u.error}; a worker tries again later")
    for u in report.still_failed:
        line(f"failed {u.path} -> {u.s3_url}: {u.error}")
    for u in report.in_flight:
        line(f"still owed {u.path} -> {u.s3_url}: {u.status.value} elsewhere (a worker has it)")
    for path in report.missing:
        line(f"cannot upload {path}: it is gone locally")
    if r.deleted:
        line(f"deleted {len(r.deleted)} local file(s) after their verified upload")
    total = len(r.uploaded)
    size = human_size(sum(u.size for u in r.uploaded))
    line(
        f"{total} file(s) uploaded ({size}), {len(r.already)} already there, "
        f"{len(r.retrying)} to retry, {len(report.still_failed)} failed"
        + (f", {len(report.in_flight)} in a worker's hands" if report.in_flight else "")
    )


def _notification_text(note: Notification) -> str:
    """One delivery outcome: target labels and errors hold no secrets (see notify/)."""
    what = f"{escape(note.target)} [dim]({note.event})[/]"
    error = escape(note.error or "")
    if note.status is NotificationStatus.SENT:
        return f"[green]sent[/] {what} at {_when(note.sent_at)}"
    if note.status is NotificationStatus.SENDING:
        return f"[yellow]sending[/] {what}"
    failed = note.status is NotificationStatus.FAILED
    return _unsettled(
        what, failed, note.attempts, error, note.due_at, f" from {_when(note.due_at)}"
    )


def media_info(console: Console, info: MediaInfo) -> None:
    console.print(
        f"[bold]{escape(str(info.path))}[/]  {escape(info.format_name)}  "
        f"{info.duration or 0:.2f}s  {human_size(info.size) or '-'}"
    )
    for s in info.streams:
        parts = [f"#{s.index}", s.kind, s.codec]
        if s.width:
            parts.append(f"{s.width}x{s.height}")
            if s.rotation:
                parts.append(f"rotated {s.rotation}")
        if s.fps:
            parts.append(f"{s.fps:.3g} fps")
        if s.sample_rate:
            parts.append(f"{s.sample_rate} Hz")
        if s.channels:
            parts.append(f"{s.channels} ch")
        if s.attached_pic:
            parts.append("(cover art)")
        if s.kind in ("audio", "subtitle"):  # what a preset's streams: policy chooses by
            parts.append(s.language)
            parts += ["(default)"] * s.default + ["(commentary)"] * s.comment
        console.print("  " + "  ".join(parts), markup=False)


def _saved(n: int) -> str:
    """Space saved; a job can make outputs bigger than its input."""
    return f"-{human_size(-n)}" if n < 0 else human_size(n)


def stats_report(console: Console, stats: Stats) -> None:
    """``mediaforge stats``: totals, then one row per preset, then failures by reason."""
    total = stats.total
    factor = total.realtime_factor
    per_hour = stats.succeeded_per_hour()
    counts = ", ".join(f"{n} {status}" for status, n in total.by_status.items() if n)
    lines = [
        f"jobs: {counts or 'none'}",
        f"in {human_size(total.bytes_in)}, out {human_size(total.bytes_out)}, "
        f"saved {_saved(total.space_saved)}",
        f"realtime factor: {'-' if factor is None else f'{factor:.2f}x'}, "
        f"throughput: {'-' if per_hour is None else f'{per_hour:.1f} jobs/hour of work'}",
    ]
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
    if stats.by_preset:
        table = Table("preset", "succeeded", "failed", "in", "out", "saved", "realtime")
        for name, t in sorted(stats.by_preset.items()):
            f = t.realtime_factor
            table.add_row(
                escape(name), str(t.by_status[JobStatus.SUCCEEDED]),
                str(t.by_status[JobStatus.FAILED]), human_size(t.bytes_in),
                human_size(t.bytes_out), _saved(t.space_saved),
                "-" if f is None else f"{f:.2f}x",
            )  # fmt: skip
        print_block(console, table)
    for reason, n in stats.failures.most_common():
        console.print(f"failed {n}x: {reason}", markup=False, soft_wrap=True)
