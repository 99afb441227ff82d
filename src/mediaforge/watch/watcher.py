"""Watch folders: each file dropped into a watched folder becomes jobs, once, when complete.

A file is submitted only when it is *stable*: its size, mtime and inode stayed
the same for the rule's ``settle_seconds`` (:class:`StabilityTracker`), it can
be opened, and ffprobe reads it (``submit_each`` probes every input).
Events (inotify, through watchdog) and scans only mark files as candidates;
one loop (:meth:`Watcher.step`) decides, so a burst of events costs a few
``stat`` calls, not a storm of probes. Network and FUSE mounts, where inotify
sees nothing of other machines' writes, are polled instead (``mode: auto``).

The same content is never submitted twice: a stable file's fingerprint (size
and a hash of its first and last MiB) is looked up in the job database first,
so a renamed file is not new work and changed content is. What becomes of an
original afterwards (keep, move, delete) happens in :mod:`.originals`, called
here once the watcher sees every job of the file finished, never inside the
pipeline: DESIGN.md's invariant 1 (an original is touched only after its
outputs are verified and in place) stays in one obvious place.

The rest of the watch package: :mod:`.mounts` (poll or events),
:mod:`.stability` (when a file is complete), :mod:`.rules` (which files are
work).
"""

# Over ~450 lines: the Watcher is one loop over one state (events, scans,
# submitting, job checks all read and update the same folders); its parts
# read best side by side.

from __future__ import annotations

import contextlib
import logging
import os
import queue as queue_module
import signal
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import peewee

from mediaforge.config.schema import Config, WatchRule
from mediaforge.errors import FFmpegError, InputError, Interrupted, JobNotFound, MediaforgeError
from mediaforge.jobs.model import JobSource, JobStatus
from mediaforge.jobs.retention import remembered_job, remembered_output
from mediaforge.jobs.store import JobStore
from mediaforge.media.health import CheckKind, Decoders, check_file
from mediaforge.media.probe import check_readable
from mediaforge.presets.loading import get_preset
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.submission import submit_each
from mediaforge.storage.inputs import Fingerprint, fingerprint
from mediaforge.storage.s3.rows import UploadStore
from mediaforge.units import backoff
from mediaforge.watch.mounts import filesystem_type, needs_polling
from mediaforge.watch.originals import act_on_original
from mediaforge.watch.rules import FolderRule
from mediaforge.watch.stability import FileState, StabilityTracker

log = logging.getLogger(__name__)

JOB_CHECK_INTERVAL = 1.0  # seconds between looks at the jobs of tracked files
ACTION_RETRY = 30.0  # seconds before retrying a move or delete that failed
MAX_BACKOFF = 60.0
MAX_FOLDER_WAIT = 10.0  # longest pause between looks for a missing folder
# --once: seconds between the two looks at a file with an old mtime. A copy
# in progress writes many times a second; a writer stalled longer than this
# with a misleading mtime is left to the probe (see Watcher.run_once).
ONCE_RECHECK = 1.0
BATCH_SIZE = 100  # files submitted in one call (one batch id, one transaction)
# Errors a busy or unreachable job database, queue or share can raise: the
# watcher logs them, backs off and carries on.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    MediaforgeError,
    peewee.PeeweeException,
    sqlite3.Error,
    OSError,
)


# -- the watcher -----------------------------------------------------------------------


@dataclass
class _Tracked:
    """A submitted (or already known) file whose jobs the watcher waits for."""

    path: Path
    fingerprint: Fingerprint
    job_ids: tuple[int, ...]
    retry_at: float = 0.0


@dataclass
class _Decision:
    """A stable file on its way to being submitted."""

    path: Path
    state: FileState
    fingerprint: Fingerprint
    jobs: dict[str, int | None]  # preset -> the job for this content, or None (not yet)
    own_jobs: bool = False  # a job was created for this very file
    rejected: bool = False  # submit refused it (not media, or gone)


class _Folder(FolderRule):
    """One rule and what the watcher knows about its folder."""

    def __init__(self, index: int, rule: WatchRule, config: Config,
                 clock: Callable[[], float]) -> None:
        super().__init__(rule, config)
        self.index = index
        self.tracker = StabilityTracker(rule.settle_seconds, clock)
        self.known: dict[Path, FileState] = {}  # stable files already dealt with
        self.tracked: dict[Path, _Tracked] = {}
        self.dirty_dirs: set[Path] = set()  # folders an event says need a scan
        self.online = False
        self.identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the root
        self.mode: str | None = None  # "events" or "poll" while online
        self.watch: Any = None  # the watchdog ObservedWatch
        self.deleted = False  # the root's own deletion event came: its watch is dead
        self.generation = 0  # counts the watches set up; tells a dead one's events apart
        self.next_scan = 0.0
        self.retry_at = 0.0  # no work on this folder before then (backoff)
        self.failures = 0
        self.waits = 0  # looks at a missing folder so far
        self.next_job_check = 0.0


@dataclass
class WatchReport:
    """What a ``--once`` pass did."""

    submitted: list[int] = field(default_factory=list)
    waiting: int = 0  # files still changing, left for the next pass
    missing: list[Path] = field(default_factory=list)  # watched folders not found


class Watcher:
    """Turns files dropped into watched folders into jobs (see the module docstring).

    :meth:`run` is the daemon (until ``stop`` is set); :meth:`run_once` scans,
    submits what is ready and returns. ``clock`` drives settle times and
    schedules, so tests can run it with a fake one.
    """

    def __init__(
        self,
        config: Config,
        rules: Sequence[WatchRule],
        store: JobStore,
        queue: JobQueue,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for rule in rules:
            for preset in rule.presets:
                get_preset(preset, config.presets_dir)  # a typo fails now, not per file
        self.config, self.store, self.queue, self.clock = config, store, queue, clock
        self.uploads = UploadStore(store)
        self.folders = [_Folder(i, rule, config, clock) for i, rule in enumerate(rules)]
        self.wake = threading.Event()
        # (folder index, watch generation, kind, path, is a directory)
        self._events: queue_module.SimpleQueue[tuple[int, int, str, str, bool]] = (
            queue_module.SimpleQueue()
        )
        self._observer: Any = None
        self.submitted: list[int] = []
        self.decoders = Decoders()  # thorough checks running, ended when the watcher stops

    # -- the loop -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Watch until ``stop`` is set (and ``wake`` set, to end a wait early)."""
        for folder in self.folders:
            log.info("watching %s for %s", folder.root, ", ".join(folder.rule.presets))
        # A thorough check can take as long as a film takes to decode: a stop
        # request ends it, and the file is checked again on the next start.
        def end_checks_on_stop() -> None:
            stop.wait()
            self.decoders.stop()

        threading.Thread(target=end_checks_on_stop, name="watch-stop", daemon=True).start()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.step(stop)
                    failures = 0
                except Exception:  # the watcher must outlive any one bad pass
                    failures += 1
                    pause = backoff(1.0, failures + 1, cap=MAX_BACKOFF)
                    log.exception("watch pass failed; trying again in %.0f s", pause)
                    stop.wait(pause)
                    continue
                self.wake.wait(self._timeout())
                self.wake.clear()
        finally:
            self.close()

    def run_once(self) -> WatchReport:
        """Scan every folder, submit files already complete, move or delete
        originals whose jobs have finished.

        A ``--once`` run sees each file once, so it cannot wait ``settle_seconds``
        for it. A file counts as complete at first sight when (1) its mtime is
        older than ``settle_seconds``, (2) a second ``stat`` a moment later
        (:data:`ONCE_RECHECK`) finds the same size, mtime and inode, and (3) it
        probes (``submit`` probes every input). (1) alone is enough for writers
        that only write: each write moves the mtime to now. It is not enough
        when the mtime says nothing of the writes: a NAS whose clock lags
        stamps a copy in progress hours old, and a tool may set a preserved
        mtime before its last write. (2) catches such a file while data still
        arrives; (3) a file cut short between writes. Anything else waits for
        the next run (DESIGN.md, invariant 6).
        """
        report = WatchReport()
        now = time.time()
        for folder in self.folders:
            if not folder.root.is_dir():
                log.warning("%s is missing (not mounted?); skipped", folder.root)
                report.missing.append(folder.root)
                continue
            old = []
            for path, st in folder.walk(folder.root):
                if now - st.st_mtime >= folder.rule.settle_seconds:
                    old.append((path, FileState.of(st)))
                else:
                    report.waiting += 1
            ready = self._unchanged(folder, old, report)
            before = len(self.submitted)
            self._take(folder, ready)
            report.submitted += self.submitted[before:]
            self._check_jobs(folder)
        return report

    def _unchanged(self, folder: _Folder, files: list[tuple[Path, FileState]],
                   report: WatchReport) -> list[tuple[Path, FileState]]:
        """The ``files`` a second ``stat`` after :data:`ONCE_RECHECK` finds
        unchanged (one pause for the whole folder); the others are counted
        as waiting."""
        if not files or folder.rule.settle_seconds <= 0:
            return files  # settle 0: whatever is there counts as complete
        time.sleep(min(ONCE_RECHECK, folder.rule.settle_seconds))
        unchanged = []
        for path, state in files:
            try:
                again = FileState.of(os.stat(path))
            except OSError:  # gone meanwhile (renamed into place, or deleted)
                continue
            if again == state:
                unchanged.append((path, state))
            else:
                log.debug("%s is still changing; left for the next run", path)
                report.waiting += 1
        return unchanged

    def step(self, stop: threading.Event | None = None) -> None:
        """One pass: take in events, scan what is due, submit what settled,
        and deal with originals whose jobs finished."""
        self._drain_events()
        for folder in self.folders:
            if stop is not None and stop.is_set():
                return
            now = self.clock()
            if now < folder.retry_at:
                continue
            try:
                if not self._attach(folder, now):
                    continue
                self._scan_due(folder, now)
                ready = self._settled(folder)
                if ready:
                    self._take(folder, ready, stop)
                if self.clock() >= folder.next_job_check:
                    folder.next_job_check = self.clock() + JOB_CHECK_INTERVAL
                    self._check_jobs(folder)
                folder.failures = 0
            except TRANSIENT_ERRORS as exc:
                folder.failures += 1
                pause = backoff(1.0, folder.failures + 1, cap=MAX_BACKOFF)
                folder.retry_at = self.clock() + pause
                log.warning("%s: %s; trying again in %.0f s", folder.root, exc, pause)

    def _timeout(self) -> float:
        """Seconds the loop may sleep before something is due."""
        now = self.clock()
        deadlines = [now + 5.0]
        for folder in self.folders:
            if folder.retry_at > now or not folder.online:
                deadlines.append(folder.retry_at)
                continue
            deadlines.append(folder.next_scan)
            due = folder.tracker.next_due()
            if due is not None:
                deadlines.append(due)
            if folder.tracked:
                deadlines.append(folder.next_job_check)
        # A short floor: a copy fires an event per write; batch them.
        return max(0.05, min(deadlines) - now)

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    # -- folders coming and going ---------------------------------------------------

    def _attach(self, folder: _Folder, now: float) -> bool:
        """Whether ``folder`` is there to work on; (re)starts watching it when it
        (re)appears, waits with backoff while it is missing."""
        try:
            st = os.stat(folder.root)
            present = stat.S_ISDIR(st.st_mode)
        except OSError:  # missing, or a share gone stale (ESTALE, EIO)
            present = False
        if not present:
            if folder.online or folder.waits == 0:
                # Logged once: nothing is forgotten, nothing counts as deleted.
                log.warning("%s is missing (not mounted?); waiting for it", folder.root)
            self._detach(folder)
            folder.waits += 1
            folder.retry_at = now + backoff(0.5, folder.waits + 1, cap=MAX_FOLDER_WAIT)
            return False
        identity = (st.st_dev, st.st_ino)
        if folder.online and identity == folder.identity and not folder.deleted:
            return True
        # New, back, or replaced (recreated, or a share mounted over it). A
        # folder removed and made again often has the same inode (ext4 hands
        # it back), so the identity alone cannot tell: its deletion event can.
        if folder.waits or folder.deleted:
            log.info("%s is back; rescanning it", folder.root)
        self._detach(folder)
        folder.waits = 0
        folder.identity = identity
        folder.mode = self._mode(folder)
        if folder.mode == "events":
            try:
                folder.watch = self._schedule(folder)
            except OSError as exc:  # e.g. the inotify watch limit
                log.warning("%s: cannot watch for events (%s); polling instead", folder.root,
                            exc.strerror or exc)
                folder.mode = "poll"
        folder.online = True
        folder.next_scan = now
        log.debug("%s: %s mode", folder.root, folder.mode)
        return True

    def _mode(self, folder: _Folder) -> str:
        if folder.rule.mode != "auto":
            return folder.rule.mode
        fs_type = filesystem_type(folder.root)
        if needs_polling(fs_type):
            log.info("%s is on %s, where events do not arrive; polling every %g s",
                     folder.root, fs_type, folder.rule.poll_interval)
            return "poll"
        return "events"

    def _schedule(self, folder: _Folder) -> Any:
        from watchdog.events import (
            DirCreatedEvent,
            DirDeletedEvent,
            DirMovedEvent,
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        events = self._events
        wake = self.wake
        index = folder.index
        folder.generation += 1
        generation = folder.generation

        class Handler(FileSystemEventHandler):
            # Runs on watchdog's thread: only record the event; the loop decides.
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type == "moved":
                    events.put((index, generation, "deleted", os.fsdecode(event.src_path),
                                event.is_directory))
                    events.put((index, generation, "created", os.fsdecode(event.dest_path),
                                event.is_directory))
                else:
                    events.put((index, generation, event.event_type,
                                os.fsdecode(event.src_path), event.is_directory))
                wake.set()

        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        kinds = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent,
                 FileDeletedEvent, DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
        return self._observer.schedule(Handler(), str(folder.root),
                                       recursive=folder.rule.recursive, event_filter=kinds)

    def _detach(self, folder: _Folder) -> None:
        folder.online = False
        folder.deleted = False
        if folder.watch is not None and self._observer is not None:
            # KeyError: its emitter already stopped itself (the folder was deleted).
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(folder.watch)
        folder.watch = None

    # -- noticing files ----------------------------------------------------------------

    def _drain_events(self) -> None:
        touched: dict[Path, _Folder] = {}
        while True:
            try:
                index, generation, kind, text, is_dir = self._events.get_nowait()
            except queue_module.Empty:
                break
            folder, path = self.folders[index], Path(text)
            if kind == "deleted":
                if path == folder.root and generation == folder.generation and folder.online:
                    # inotify dropped the watch with the folder; a folder made
                    # again under the same name needs a new one, whatever its inode.
                    log.info("%s was deleted; watching it again once it exists", folder.root)
                    folder.deleted = True
                    folder.retry_at = 0.0  # look at it now: it is gone, or replaced
                folder.tracker.forget(path)
                folder.known.pop(path, None)
                touched.pop(path, None)
            elif is_dir:
                if kind == "created" and folder.wants_dir(path):
                    folder.dirty_dirs.add(path)  # moved in whole: no event per file
            elif folder.wants_file(path):
                touched[path] = folder
        for path, folder in touched.items():
            try:
                state = FileState.of(os.stat(path))
            except OSError:
                continue
            if folder.known.get(path) != state:
                folder.tracker.observe(path, state)

    def _scan_due(self, folder: _Folder, now: float) -> None:
        if now >= folder.next_scan:
            self._scan(folder, folder.root, full=True)
            interval = (
                folder.rule.poll_interval if folder.mode == "poll" else folder.rule.rescan_interval
            )
            folder.next_scan = now + interval
            folder.dirty_dirs.clear()
        while folder.dirty_dirs:
            self._scan(folder, folder.dirty_dirs.pop(), full=False)

    def _scan(self, folder: _Folder, top: Path, *, full: bool) -> None:
        seen: set[Path] = set()
        for path, st in folder.walk(top):
            seen.add(path)
            state = FileState.of(st)
            if folder.known.get(path) != state:
                folder.tracker.observe(path, state)
        if full and seen:
            # Forget files that are gone. Not after an empty listing: that is
            # what an unmounted share looks like, and its files will be back.
            for path in [p for p in folder.known if p not in seen]:
                del folder.known[path]

    def _settled(self, folder: _Folder) -> list[tuple[Path, FileState]]:
        ready = []
        for path in folder.tracker.due():
            try:
                state = FileState.of(os.stat(path))
            except OSError:
                folder.tracker.forget(path)
                continue
            if folder.known.get(path) == state:
                folder.tracker.forget(path)
            elif folder.tracker.observe(path, state):
                ready.append((path, state))
        return ready

    # -- submitting --------------------------------------------------------------------

    def _take(self, folder: _Folder, ready: list[tuple[Path, FileState]],
              stop: threading.Event | None = None) -> None:
        """Submit the stable files in ``ready`` that are new work, a batch at a
        time (a stop request waits for one batch at most)."""
        for start in range(0, len(ready), BATCH_SIZE):
            if stop is not None and stop.is_set():
                return
            decisions = []
            for path, state in ready[start:start + BATCH_SIZE]:
                decision = self._decide(folder, path, state)
                if decision is not None:
                    decisions.append(decision)
            self._submit(folder, decisions)
            for d in decisions:
                self._done_with(folder, d)

    def _decide(self, folder: _Folder, path: Path, state: FileState) -> _Decision | None:
        """What is known about the content of a stable file; None when it is not work."""
        try:
            check_readable(path)
            fp = fingerprint(path)
            now_state = FileState.of(os.stat(path))
        except (InputError, OSError) as exc:
            if path.exists():
                log.warning("not picked up: %s", exc)
                self._settle(folder, path, state)
            else:
                folder.tracker.forget(path)
            return None
        if now_state != state:  # it changed while we read it: wait again
            folder.tracker.observe(path, now_state)
            return None
        jobs = {preset: self._previous_job(fp, preset, path) for preset in folder.rule.presets}
        # Only for new content: the look-up scans the job history.
        output_of = self._output_of(folder, path) if None in jobs.values() else None
        if output_of is not None:
            log.debug("%s is an output of job %d; not new work", path, output_of)
            self._settle(folder, path, state)
            return None
        if None in jobs.values() and not self._passes_check(folder, path, state):
            return None
        return _Decision(path, state, fp, jobs)

    def _passes_check(self, folder: _Folder, path: Path, state: FileState) -> bool:
        """Whether new content passes the rule's health check (``check:``). A file
        that fails is reported once and not looked at again until it changes."""
        if folder.rule.check == "none":
            return True
        try:
            report = check_file(path, CheckKind(folder.rule.check), ffprobe=self.config.ffprobe,
                                timeout=self.config.probe_timeout, decoders=self.decoders)
        except (FFmpegError, Interrupted) as exc:  # a slow share, or ffprobe killed: no verdict
            if self.decoders.stopped:
                return False  # the watcher is stopping
            log.warning("%s: %s; trying again later", path, exc)
            folder.tracker.defer(path, ACTION_RETRY)
            return False
        try:
            now_state = FileState.of(os.stat(path))
        except OSError:
            folder.tracker.forget(path)  # gone while it was checked
            return False
        if now_state != state:  # changed while it was checked: wait again
            folder.tracker.observe(path, now_state)
            return False
        if not report.ok:
            log.warning("not picked up: %s failed its %s check: %s; replace or repair the file",
                        path, report.kind.value, report.problem)
            self._settle(folder, path, state)
        return report.ok

    def _previous_job(self, fp: Fingerprint, preset: str, path: Path) -> int | None:
        """The job that already did (or does) this content with ``preset``."""
        jobs = sorted(self.store.find_by_fingerprint(fp.partial_hash, preset), key=lambda j: j.id)
        # A job pruned from the history (jobs/retention.py) is remembered: not done again.
        latest = jobs[-1] if jobs else remembered_job(fp.partial_hash, preset)
        if latest is None:
            return None
        if latest.status in (JobStatus.FAILED, JobStatus.CANCELLED) and latest.finished_at:
            # A failed file put back into the folder after its job ended (a
            # rename changes ctime) asks for another try; one that stayed does not.
            try:
                if path.stat().st_ctime > latest.finished_at:
                    return None
            except OSError:
                return latest.id
        return latest.id

    def _output_of(self, folder: _Folder, path: Path) -> int | None:
        """The job that published ``path`` (or the folder it is in) as an output, if any."""
        names = [path, *(p for p in path.parents if p.is_relative_to(folder.root)
                         and p != folder.root)]
        canonical = [folder.paths.to_canonical(str(p)) for p in names]
        return self.store.job_with_output(canonical) or remembered_output(canonical)

    def _submit(self, folder: _Folder, decisions: list[_Decision]) -> None:
        """Create the missing jobs of ``decisions``, one batch per preset."""
        known = [{p for p, i in d.jobs.items() if i is not None} for d in decisions]
        for preset in folder.rule.presets:
            first_of: dict[str, _Decision] = {}  # one job per content, even if dropped twice
            for d in decisions:
                if d.jobs[preset] is None and not d.rejected:
                    first_of.setdefault(d.fingerprint.partial_hash, d)
            self._submit_batch(folder, list(first_of.values()), preset)
            for d in decisions:
                if d.jobs[preset] is None and d.fingerprint.partial_hash in first_of:
                    d.jobs[preset] = first_of[d.fingerprint.partial_hash].jobs[preset]
        for d, before in zip(decisions, known, strict=True):
            created = [(p, i) for p, i in d.jobs.items() if i is not None and p not in before]
            if d.own_jobs and created:
                log.info("picked up %s -> %s", d.path,
                         ", ".join(f"job {i} ({p})" for p, i in created))
            elif before or created:
                old = ", ".join(str(i) for i in d.jobs.values() if i is not None)
                log.debug("%s: same content as job %s; not new work", d.path, old)

    def _submit_batch(self, folder: _Folder, batch: list[_Decision], preset: str) -> None:
        """Submit ``batch`` in one call: its files are probed several at once and
        its jobs made in one transaction (they share a batch id). A file that is
        refused holds back none of the others."""
        if not batch:
            return
        results = submit_each(
            self.config, self.store, self.queue, [d.path for d in batch], preset,
            output_dir=folder.output_dir, source=JobSource.WATCH,
        )  # fmt: skip
        for d, result in zip(batch, results, strict=True):
            if isinstance(result, FFmpegError):  # ffprobe timed out: a slow share
                log.warning("%s: %s; trying again later", d.path, result)
            elif isinstance(result, InputError):  # not media, or gone since it settled
                if d.path.exists():
                    log.warning("not picked up: %s", result)  # looked at again if it changes
                d.rejected = True
            else:
                d.jobs[preset], d.own_jobs = result, True
                self.submitted.append(result)

    def _settle(self, folder: _Folder, path: Path, state: FileState) -> None:
        """Done with this state of ``path``: not looked at again until it changes."""
        folder.tracker.forget(path)
        folder.known[path] = state

    def _done_with(self, folder: _Folder, d: _Decision) -> None:
        if d.rejected:
            if d.path.exists():
                self._settle(folder, d.path, d.state)
            else:
                folder.tracker.forget(d.path)
            return
        job_ids = tuple(i for i in d.jobs.values() if i is not None)
        if len(job_ids) < len(d.jobs):  # a submit failed for a passing reason: again later
            folder.tracker.defer(d.path, ACTION_RETRY)
            return
        self._settle(folder, d.path, d.state)
        if (folder.rule.on_success, folder.rule.on_failure) != ("keep", "keep"):
            folder.tracked[d.path] = _Tracked(d.path, d.fingerprint, job_ids)

    # -- originals after their jobs ----------------------------------------------------

    def _check_jobs(self, folder: _Folder) -> None:
        now = self.clock()
        for tracked in list(folder.tracked.values()):
            if now < tracked.retry_at:
                continue
            try:
                jobs = [self.store.get(i) for i in tracked.job_ids]
            except JobNotFound:  # deleted from the job history meanwhile
                del folder.tracked[tracked.path]
                continue
            # An original owed to S3 stays where it is until its upload settles.
            if all(job.status.finished for job in jobs) and self.uploads.originals_settled(
                tracked.job_ids
            ):
                try:
                    if act_on_original(folder, tracked.path, tracked.fingerprint, jobs,
                                       self.uploads):
                        folder.known.pop(tracked.path, None)
                except (MediaforgeError, OSError) as exc:
                    log.warning("%s: %s; trying again in %.0f s", tracked.path, exc, ACTION_RETRY)
                    tracked.retry_at = now + ACTION_RETRY
                    continue
                del folder.tracked[tracked.path]



# -- entry points -------------------------------------------------------------------------


def run_watch(
    config: Config,
    rules: Sequence[WatchRule],
    *,
    once: bool = False,
    stop: threading.Event | None = None,
) -> WatchReport:
    """Watch ``rules`` until stopped (SIGTERM/SIGINT, or ``stop``), or with
    ``once`` make one pass and return what it did."""
    store = JobStore.open(config)
    watcher = Watcher(config, rules, store, JobQueue(config))
    if once:
        try:
            return watcher.run_once()
        finally:
            watcher.close()
    if stop is None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()  # handlers only set flags; the loop acts
            watcher.wake.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watcher.run(stop)
    log.info("watcher stopped")
    return WatchReport(submitted=watcher.submitted)
