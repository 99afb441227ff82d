"""The two guards around an attempt's ffmpeg: room to write before it starts,
and outputs worth keeping after they verified.

Free space: a job that would leave less than ``worker.min_free_space_mib`` on
a filesystem it writes to goes back to the queue for ``worker.space_wait``
seconds, without using an attempt (a full disk is not the job's fault), with
a decision on the job saying what it waits for. It waits until there is room
or it is cancelled. ffmpeg running out of room anyway (the estimate was low,
or something else filled the disk) is one retryable line, attempts counted.

Size guard: a preset's ``size_guard`` ends a job ``skipped`` when its
verified outputs are not small enough; they are removed unpublished, the
original stays untouched (watch folders keep it where it is) and nothing is
owed to S3.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import NoSpaceLeft
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.media.planning import Plan
from mediaforge.media.sizing import estimate_plan_bytes, judge_size
from mediaforge.presets.model import Preset
from mediaforge.storage.space import MIB, find_shortage

log = logging.getLogger(__name__)

# Topics of JobStore.decide: shown by `status` and in the JSON job's "decisions".
SIZE_TOPIC = "size guard"
SPACE_TOPIC = "free space"
# What the size guard's skip note starts with (kept_by_guard reads it).
SIZE_NOTE = "size guard: "

_NO_SPACE = "No space left on device"


def wait_for_space(
    store: JobStore, config: Config, job: Job, worker: str, needs: dict[Path, int]
) -> float | None:
    """Give the job back when a filesystem in ``needs`` (folder -> bytes the
    job writes there) lacks room; returns the seconds it waits, or None when
    there is room."""
    reserve = config.worker.min_free_space_mib * MIB
    shortage = find_shortage(needs, reserve)
    if shortage is None:
        return None
    delay = config.worker.space_wait
    text = f"{shortage.text()}; next try in {delay:g} s"
    store.decide(job.id, worker, SPACE_TOPIC, text)
    # Not the job's fault: the attempt is not counted.
    store.release(job.id, worker, retry_at=time.time() + delay, count_attempt=False)
    log.warning("job %s %s", job.id, text)
    return delay


def output_needs(
    plan: Plan, folder: Path, duration: float | None, input_path: Path
) -> dict[Path, int]:
    """Bytes the plan's outputs are estimated to take in ``folder``, where
    they are written (their temporary names sit beside their final ones)."""
    return {folder: estimate_plan_bytes(plan, duration, _input_size(input_path))}


def _input_size(input_path: Path) -> int:
    try:
        return input_path.stat().st_size
    except OSError:  # gone meanwhile: the checks of the input say so, not this one
        return 0


def check_room_left(log_tail: str, folder: Path) -> None:
    """Raise one clear, retryable line when ffmpeg's ``log_tail`` says it ran
    out of disk space: it may even exit 0 then, with an output cut short."""
    if _NO_SPACE in log_tail:
        raise NoSpaceLeft(
            f"no space left on the device of {folder} while writing the outputs; free some "
            "space there (the job is retried; a failed one runs again with 'mediaforge retry')",
            log_tail,
        )


def keep_outputs(
    store: JobStore, job: Job, worker: str, preset: Preset, input_path: Path,
    outputs: Iterable[Path],
) -> bool:
    """Apply the preset's size guard to the verified ``outputs``; False when
    the job ended ``skipped`` (the caller removes the outputs)."""
    if preset.size_guard is None:
        return True
    verdict = judge_size(preset.size_guard, _input_size(input_path), outputs)
    store.decide(job.id, worker, SIZE_TOPIC, verdict.text())
    if verdict.kept:
        return True
    note = SIZE_NOTE + verdict.text()
    store.finish(job.id, worker, JobStatus.SKIPPED, note=note)
    log.info("job %s skipped: %s", job.id, note)
    return False


def kept_by_guard(job: Job) -> bool:
    """Whether the size guard ended ``job``: its original must stay where it is."""
    return job.status is JobStatus.SKIPPED and (job.note or "").startswith(SIZE_NOTE)
