"""``mediaforge doctor``: is this machine ready to run jobs?"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mediaforge.config.schema import Config
from mediaforge.errors import EnvironmentProblem, MediaforgeError
from mediaforge.media.process import program_version
from mediaforge.presets.loading import load_presets
from mediaforge.storage.paths import share_present

if TYPE_CHECKING:
    from mediaforge.jobs.store import JobStore
    from mediaforge.queue.backend import JobQueue


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _version(key: str, binary: str) -> Check:
    name = os.path.basename(binary)
    try:
        first = program_version(key, binary, timeout=15)
    except EnvironmentProblem as exc:
        return Check(name, False, str(exc))
    return Check(name, True, f"{shutil.which(binary) or binary}: {first}")


def _ffmpeg_output(binary: str, option: str) -> subprocess.CompletedProcess[str]:
    """``binary -hide_banner OPTION``, its output captured (15 s at most)."""
    return subprocess.run(
        [binary, "-hide_banner", option],
        capture_output=True,
        text=True,
        timeout=15,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _encoders(ffmpeg: str) -> set[str]:
    out = _ffmpeg_output(ffmpeg, "-encoders")
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return names


def run_checks(config: Config) -> list[Check]:
    """Every check, in the order a person would fix them."""
    checks = [_version("ffmpeg", config.ffmpeg), _version("ffprobe", config.ffprobe)]
    if checks[0].ok:
        try:
            available = _encoders(config.ffmpeg)
            presets = load_presets(config.presets_dir)
            missing: dict[str, list[str]] = {}
            for preset in presets.values():
                for out in preset.outputs:
                    for spec in (out.video, out.audio):
                        if spec and spec.codec != "copy" and spec.codec not in available:
                            missing.setdefault(spec.codec, []).append(preset.name)
            if missing:
                detail = "; ".join(
                    f"{enc} (used by {', '.join(sorted(set(p)))})"
                    for enc, p in sorted(missing.items())
                )
                checks.append(Check("encoders", False, f"missing: {detail}"))
            else:
                checks.append(Check("encoders", True, f"all encoders of {len(presets)} presets"))
        except MediaforgeError as exc:
            checks.append(Check("presets", False, str(exc)))
        except (OSError, subprocess.TimeoutExpired) as exc:
            checks.append(Check("encoders", False, f"cannot list encoders: {exc}"))
        checks.append(_hardware_check(config))
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir, prefix=".doctor-"):
            pass
        checks.append(Check("data dir", True, f"{config.data_dir} is writable"))
    except OSError as exc:
        checks.append(Check("data dir", False, f"{config.data_dir}: {exc.strerror}"))
    queued: set[int] | None = None
    try:
        from mediaforge.jobs.model import JobStatus
        from mediaforge.jobs.store import JobStore

        store = JobStore.open(config)
        counts = store.count_by_status()
        queued = set(store.ids_with_status(JobStatus.QUEUED))
        intake = _intake_check(config, store)
        store.close()
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "no jobs yet"
        checks.append(Check("job database", True, summary))
        checks.append(intake)
    except MediaforgeError as exc:
        checks.append(Check("job database", False, str(exc)))
    try:
        from mediaforge.queue.backend import JobQueue

        queue = JobQueue(config)
        checks.append(Check("queue", True, f"{config.queue.backend}: {_waiting(queue, queued)}"))
    except MediaforgeError as exc:
        checks.append(Check("queue", False, str(exc)))
    except Exception as exc:  # redis/postgres client errors have no common base
        checks.append(Check("queue", False, f"{config.queue.backend} unreachable: {exc}"))
    if config.paths:
        checks.append(_paths_check(config))
    if config.s3.enabled:
        checks.append(_s3_check(config))
    if config.hooks:
        checks.append(_hooks_check(config))
    if config.worker.limits:
        checks.append(_limits_check(config))
    return checks


def _limits_check(config: Config) -> Check:
    """``worker.limits`` keys must name a preset or a tag (or be ``*``): a typo
    would limit nothing, silently."""
    try:
        presets = load_presets(config.presets_dir).values()
    except MediaforgeError as exc:
        return Check("limits", False, str(exc))
    known = {p.name for p in presets} | {t for p in presets for t in p.tags} | {"*"}
    unknown = sorted(set(config.worker.limits) - known)
    if unknown:
        tags = sorted({t for p in presets for t in p.tags})
        return Check(
            "limits",
            False,
            f"worker.limits names no preset or tag: {', '.join(unknown)} (tags: "
            f"{', '.join(tags) or 'none'}; 'mediaforge presets list' for the presets)",
        )
    shown = ", ".join(f"{name}: {most}" for name, most in sorted(config.worker.limits.items()))
    return Check("limits", True, f"at most {shown} at once per worker")


def _hardware_check(config: Config) -> Check:
    """Which hardware encoders work here (test encodes, cached per host). None
    is no fault: ``encoder: auto`` then encodes in software; a preset with
    ``encoder_strict: true`` that this host cannot serve is one."""
    from mediaforge.media.encoder_choice import choose_encoder
    from mediaforge.media.encoder_probe import host_report

    try:
        statuses = host_report(config)
        strict = [p for p in load_presets(config.presets_dir).values() if p.encoder_strict]
        refused = []
        for preset in strict:
            try:
                choose_encoder(config, preset)
            except MediaforgeError as exc:
                refused.append(str(exc))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("hardware encoders", False, f"cannot list encoders: {exc}")
    except MediaforgeError as exc:  # a broken preset file: the encoders check names it
        return Check("hardware encoders", False, str(exc))
    if refused:
        return Check("hardware encoders", False, "; ".join(refused))
    working = [s.encoder for s in statuses if s.ok]
    usable = ", ".join(working) if working else "none (encoder: auto runs in software)"
    others = "; ".join(f"{s.encoder}: {s.reason}" for s in statuses if not s.ok)
    return Check("hardware encoders", True, f"usable: {usable}" + (f"; {others}" if others else ""))


def _intake_check(config: Config, store: JobStore) -> Check:
    """Pause and drain orders, and this host's run windows: informational
    (a pause is on purpose), so the check passes either way."""
    from datetime import datetime

    from mediaforge.jobs.control import ControlStore
    from mediaforge.run_windows import clock_text, next_opening, parse_schedule

    orders = ControlStore(store.db).orders()
    found = []
    if orders.pause is not None:
        now_too = " --now: running jobs handed back" if orders.pause.value == "now" else ""
        found.append(f"paused{now_too} ('mediaforge resume' lifts it)")
    if orders.drain_before is not None:
        found.append("drain ordered: workers started before it finish and exit")
    windows = parse_schedule(config.worker.schedule)
    now = datetime.now()
    opening = next_opening(windows, now)
    if opening is not None:
        found.append(f"outside this host's run windows: waits for {clock_text(opening, now)}")
    elif windows:
        found.append(f"inside a run window ({', '.join(config.worker.schedule)})")
    return Check("intake", True, "; ".join(found) or "workers take new jobs")


def _hooks_check(config: Config) -> Check:
    """Each hook's token variable is set and each command's program is found
    (in this environment: a worker started elsewhere needs them in its own)."""
    from mediaforge.hooks.spec import readiness_problems

    problems = readiness_problems(config.hooks)
    if problems:
        return Check("hooks", False, "; ".join(problems))
    return Check("hooks", True, f"{len(config.hooks)} hook(s) ready to run")


def _paths_check(config: Config) -> Check:
    """Every mapped local folder (``paths:``) shows its share here: a missing
    one, or an empty folder that is not a mount point, is a share that is not
    mounted, and jobs under it go to other hosts."""
    missing = [m for m in config.paths if m.local is not None and not share_present(m.local)]
    if missing:
        detail = "; ".join(f"{m.local} (for {m.canonical}) {_absence(m.local)}" for m in missing)
        return Check(
            "paths",
            False,
            f"{detail}: mount it, or fix paths[].local; jobs there are left to other hosts",
        )
    return Check("paths", True, f"{len(config.paths)} mapped folder(s) present")


def _absence(local: Path | None) -> str:
    if local is not None and local.is_dir():
        return "is an empty folder, not a mount point (share not mounted?)"
    return "is missing"


def _waiting(queue: JobQueue, queued: set[int] | None) -> str:
    """How many jobs wait in the queue. A cancelled job's message stays there
    until a worker reaches it and drops it: only messages of jobs the job
    database has as queued count (all of them when the database is unreadable)."""
    if queued is None:
        return f"{queue.huey.pending_count()} message(s) waiting"
    return f"{len(queue.pending_job_ids() & queued)} job(s) waiting"


def _s3_check(config: Config) -> Check:
    """boto3 is installed, credentials are found and the bucket answers."""
    from mediaforge.storage.s3.client import S3Client

    bucket = config.s3.bucket
    assert bucket is not None
    try:
        client = S3Client(config.s3)
        client.check_bucket(bucket)
    except MediaforgeError as exc:
        return Check("s3", False, str(exc))
    where = config.s3.endpoint_url or "AWS"
    return Check("s3", True, f"bucket {bucket} at {where} is reachable")
