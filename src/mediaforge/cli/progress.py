"""Progress while a job runs (``run``) or while jobs are followed
(``submit --wait``, ``status --follow``).

On a terminal, live rich bars; elsewhere (a pipe, a log file, systemd,
cron) one plain line at a steady pace, so a log shows the job moving and a
person can tell a slow job from a stuck one; with ``--quiet``, nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from mediaforge.jobs.model import Job, JobStatus

# A plain line at least every PLAIN_EVERY seconds, and at each PLAIN_STEP of progress.
PLAIN_EVERY = 5.0
PLAIN_STEP = 0.10

# The colour of a bar once its job has ended.
FINISHED_STYLE = {
    JobStatus.SUCCEEDED: "green",
    JobStatus.SKIPPED: "green",
    JobStatus.FAILED: "red",
    JobStatus.CANCELLED: "magenta",
}


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=max(0, round(seconds))))


def running_for(job: Job, now: float) -> float | None:
    """Seconds the job has run: from its start, not from its submission."""
    if job.status.finished and job.elapsed is not None:
        return job.elapsed
    if job.started_at is None:
        return None
    return now - job.started_at


def pace(job: Job, fraction: float, now: float) -> str:
    """``42% (3.1x realtime, ETA 0:00:12)``: speed and ETA once they can be told."""
    text = f"{fraction * 100:.0f}%"
    elapsed = running_for(job, now)
    # Too early to tell: a speed from the first frames is noise.
    if elapsed is None or elapsed < 1 or fraction < 0.01:
        return text
    parts = []
    if job.input_duration:
        parts.append(f"{job.input_duration * fraction / elapsed:.1f}x realtime")
    parts.append(f"ETA {_clock(elapsed * (1 - fraction) / fraction)}")
    return f"{text} ({', '.join(parts)})"


class Display(Protocol):
    """What shows a job's progress; ``close`` when it has ended."""

    def update(self, job: Job, fraction: float) -> None: ...

    def close(self) -> None: ...


class Silent:
    """``--quiet``: no progress at all."""

    def update(self, job: Job, fraction: float) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class PlainLines:
    """One line per job at a steady pace, for output that is not a terminal."""

    console: Console
    clock: Callable[[], float] = time.time
    _last: dict[int, tuple[float, float, JobStatus]] = field(default_factory=dict)

    def update(self, job: Job, fraction: float) -> None:
        now = self.clock()
        seen = self._last.get(job.id)
        if job.status is not JobStatus.RUNNING:
            if seen is None or seen[2] is not job.status:
                self._line(f"job {job.id}: {job.status.value}{self._took(job)}")
                self._last[job.id] = (now, fraction, job.status)
            return
        if seen is not None and seen[2] is JobStatus.RUNNING:
            last_at, last_fraction, _ = seen
            step = int(fraction / PLAIN_STEP) > int(last_fraction / PLAIN_STEP)
            if not step and now - last_at < PLAIN_EVERY:
                return
        self._line(f"job {job.id}: {pace(job, fraction, now)}")
        self._last[job.id] = (now, fraction, job.status)

    def _took(self, job: Job) -> str:
        if job.status.finished and job.elapsed is not None:
            return f" after {job.elapsed:.1f}s"
        return ""

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, soft_wrap=True)

    def close(self) -> None:
        pass


class _StatusBar(BarColumn):
    """A bar all in its job's colour once the job has ended: a failed job's
    bar is red however far it got."""

    def render(self, task: Task) -> Any:
        bar = super().render(task)
        style = task.fields.get("finished_style")
        if style:
            bar.style = bar.complete_style = bar.finished_style = style
        return bar


class _Elapsed(ProgressColumn):
    """How long the job has run (from its start; nothing while queued)."""

    def render(self, task: Task) -> Text:
        seconds = task.fields.get("ran")
        return Text("-:--:--" if seconds is None else _clock(seconds), style="progress.elapsed")


class Bars:
    """Live rich bars, one per job, for a terminal."""

    def __init__(self, console: Console, *, transient: bool) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[label]}"),
            _StatusBar(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[state]}"),
            _Elapsed(),
            console=console,
            transient=transient,
        )
        self.progress.start()
        self.tasks: dict[int, TaskID] = {}

    def update(self, job: Job, fraction: float) -> None:
        if job.id not in self.tasks:
            self.tasks[job.id] = self.progress.add_task(
                "", total=1.0, label=f"job {job.id}", state="", ran=None, finished_style=None
            )
        task = self.tasks[job.id]
        now = time.time()
        state = escape(job.status.value)
        if job.status is JobStatus.RUNNING:
            # The speed and ETA without the percentage: the column before shows it.
            state = escape(pace(job, fraction, now).partition(" ")[2].strip("()"))
        self.progress.update(
            task,
            completed=1.0 if job.status in (JobStatus.SUCCEEDED, JobStatus.SKIPPED) else fraction,
            state=state,
            ran=running_for(job, now),
            finished_style=FINISHED_STYLE.get(job.status),
        )
        if job.status.finished:
            self.progress.stop_task(task)

    def close(self) -> None:
        self.progress.stop()


def display_for(console: Console, *, quiet: bool, transient: bool) -> Display:
    """Bars on a terminal, plain lines elsewhere, nothing with ``--quiet``."""
    if quiet:
        return Silent()
    if console.is_terminal:
        return Bars(console, transient=transient)
    return PlainLines(console)


def follow(
    console: Console,
    ids: Sequence[int],
    load: Callable[[int], Job],
    *,
    quiet: bool = False,
    interval: float = 0.5,
    on_poll: Callable[[list[Job]], None] | None = None,
) -> list[Job]:
    """Show the jobs' progress until every one has ended; returns the jobs.
    ``on_poll`` sees the jobs at each look (it may print on ``console``)."""
    display = display_for(console, quiet=quiet, transient=False)
    try:
        while True:
            jobs = [load(i) for i in ids]
            for job in jobs:
                display.update(job, job.progress)
            if all(j.status.finished for j in jobs):
                return jobs
            if on_poll is not None:
                on_poll(jobs)
            time.sleep(interval)
    finally:
        display.close()
