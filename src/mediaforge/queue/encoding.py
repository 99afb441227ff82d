"""Running a plan's one ffmpeg command and verifying what it wrote.

An attempt may encode twice (hardware first, then software in the same
attempt), and both times the same steps follow: build the command, run it
under the watchdog, turn a full disk into one clear line, and probe every
output afresh (DESIGN.md, invariant 4: exit code 0 is not success). They live
apart from the pipeline so that the attempt reads as its decisions, not as
the mechanics of one encode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import FFmpegError
from mediaforge.jobs.model import Output
from mediaforge.media.command import build_command
from mediaforge.media.planning import Plan
from mediaforge.media.probe import MediaInfo, probe
from mediaforge.media.process import run_ffmpeg
from mediaforge.media.verify import verify_output
from mediaforge.queue.guard import check_room_left
from mediaforge.queue.watchdog import Watchdog


def prober(config: Config) -> Callable[[Path], MediaInfo]:
    """ffprobe as the config sets it up (program, timeout), for inputs and outputs."""

    def probe_file(path: Path) -> MediaInfo:
        return probe(path, ffprobe=config.ffprobe, timeout=config.probe_timeout)

    return probe_file


def encode(
    config: Config,
    plan: Plan,
    info: MediaInfo,
    input_path: Path,
    out_dir: Path,
    watchdog: Watchdog,
) -> tuple[str, list[tuple[Path, Output]]]:
    """Run the plan's one ffmpeg command and verify every output: ffmpeg's log
    tail and the verified (temporary path, output) pairs. A full disk is a
    StorageError naming ``out_dir``, whatever ffmpeg's exit code."""
    command = build_command(plan, info, input_path, vaapi_device=config.encoders.vaapi_device)
    for out in plan.outputs:
        if out.spec.kind.value == "hls":
            out.temp.mkdir(parents=True, exist_ok=True)
    try:
        result = run_ffmpeg(
            command.args,
            ffmpeg=config.ffmpeg,
            cwd=command.cwd,
            on_progress=watchdog.progress_seen,
            should_stop=watchdog.should_stop,
            stall_timeout=config.worker.stall_timeout,
        )
    except FFmpegError as exc:
        check_room_left(exc.log_tail, out_dir)
        raise
    check_room_left(result.stderr_tail, out_dir)  # ffmpeg may exit 0 after a failed write
    probe_output = prober(config)
    verified: list[tuple[Path, Output]] = []
    for out in plan.outputs:
        record = verify_output(
            out,
            info,
            probe_output,
            tolerance=config.verify.duration_tolerance,
            tolerance_ratio=config.verify.duration_tolerance_ratio,
        )
        verified.append((out.temp, record))
    return result.stderr_tail, verified
