"""The `check` benchmark: `mediaforge check --thorough` over a folder vs the
naive way, a serial loop of `ffmpeg -v error -i FILE -f null -` (what a
"thorough health check" usually is), alternated in the same run."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness import Sample, Workspace, synthesize, total

if TYPE_CHECKING:
    from cases import Report, Sizes

H264 = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50")


def bench_check(sizes: Sizes) -> Report:
    """Wall and CPU of a thorough check of N clips, against the serial ffmpeg loop."""
    from cases import Report, _alternate, _ratio_figures

    files = 4 if sizes.quick else 8
    with Workspace("check") as ws:
        folder = ws.folder("clips")
        clips = [
            synthesize(folder / f"clip{i}.ts", seconds=sizes.clip_seconds, size="640x360",
                       fps=25 + i, video=H264, muxer="mpegts")
            for i in range(files)
        ]  # fmt: skip
        checks: list[Sample] = []
        loops: list[Sample] = []

        def check_folder() -> None:
            sample, _ = ws.mediaforge("check", "--thorough", str(folder))
            checks.append(sample)

        def ffmpeg_loop() -> None:
            null = ("-map", "0", "-f", "null", "-")
            runs = [ws.run(["ffmpeg", "-v", "error", "-i", f"file:{p}", *null]) for p in clips]
            loops.append(total(runs))

        _alternate(sizes.repeats, check_folder, ffmpeg_loop)
    figures = _ratio_figures(
        "check", f"--thorough over {files} clips of {sizes.clip_seconds:g} s", checks, loops,
        "serial `ffmpeg -f null` loop", wall_target=0.75, cpu_target=1.10,
    )  # fmt: skip
    return Report(figures, {"cores": os.cpu_count(), "files": files})
