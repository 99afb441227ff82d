"""``submit`` starts probing its first inputs as soon as it has read the
config, so ffprobe runs while the job database and queue are opened; a
probe started that way is used for its own input, and stopped when nobody
takes it.

Real ffprobe on synthesized media, behind a small wrapper script where a
test must see when (or whether) it started. How much time this saves is
measured in benchmarks/ (``submit``, ``startup``), never here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.errors import FFmpegError, ProbeError
from mediaforge.media.probe import MediaInfo, Probing
from mediaforge.queue.early_probes import EarlyProbes
from tests.mfcli import MEDIAFORGE, Mediaforge

MakeMedia = Callable[..., Path]


def _wrapper(folder: Path, body: str) -> Path:
    script = folder / "ffprobe-wrapper"
    script.write_text(f'#!/bin/sh\n{body}\nexec {shutil.which("ffprobe")} "$@"\n')
    script.chmod(0o755)
    return script


def _what_the_caller_had_open(mf: Mediaforge, tmp_path: Path) -> Path:
    """Configure an ffprobe that writes, at each start, the time, the command
    line of the process that started it ($PPID) and that process's open
    files, one file per call in the folder returned."""
    seen = tmp_path / "seen"
    seen.mkdir()
    listing = 'date +%s%N; tr "\\0" " " < /proc/$PPID/cmdline; echo; ls -l /proc/$PPID/fd'
    mf.configure(ffprobe=str(_wrapper(tmp_path, f'{{ {listing}; }} > "{seen}/fds.$$"')))
    return seen


def _first_call(seen: Path) -> tuple[str, str]:
    """The command line and the open files of the first ffprobe call's caller."""
    first = min((f.read_text() for f in seen.iterdir()), key=lambda t: int(t.split("\n")[0]))
    _, command, fds = first.split("\n", 2)
    assert " -> " in fds, first  # the listing is there
    return command, fds


def test_submit_starts_the_probe_before_it_opens_the_job_database(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.5)
    seen = _what_the_caller_had_open(mf, tmp_path)

    [job_id] = mf.ok("submit", clip, "-p", "h264-720p").out.split()

    command, fds = _first_call(seen)
    assert "mediaforge submit" in command
    assert str(mf.data) not in fds, fds  # no job database, no queue yet
    assert len(list(seen.iterdir())) == 1
    assert mf.status(job_id)["status"] == "queued"


def test_run_starts_the_input_probe_before_it_opens_the_job_database(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.5)
    seen = _what_the_caller_had_open(mf, tmp_path)

    # A relative path: the early probe is found under the absolute one the job records.
    out = tmp_path / "out"
    job = mf.ok("run", "clip.mp4", "-p", "h264-720p", "-o", out, "--json", cwd=clip.parent).json()

    assert job["status"] == "succeeded"
    # The first call is the input's probe (the output's verification comes later).
    command, fds = _first_call(seen)
    assert "mediaforge run" in command
    assert str(mf.data) not in fds, fds
    assert len(list(seen.iterdir())) == 2  # the input once, the output once


def test_each_input_of_a_folder_gets_its_own_probe(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    # More inputs than cores: some probes start early, the others in the pool.
    durations = {f"{n}.mp4": 0.4 * (n + 1) for n in range(5)}
    folder = tmp_path / "in"
    folder.mkdir()
    for name, seconds in durations.items():
        make_media(name, duration=seconds).rename(folder / name)

    ids = mf.ok("submit", folder, "-p", "h264-720p").out.split()

    jobs = [mf.status(i) for i in ids]
    assert sorted(Path(j["input"]).name for j in jobs) == sorted(durations)
    for job in jobs:
        path = Path(job["input"])
        stored = mf.store.get(job["id"]).input_probe  # what the worker will plan from
        assert stored is not None
        info = MediaInfo.from_json(stored, path)
        assert info is not None and info.duration is not None
        assert abs(info.duration - durations[path.name]) < 0.1, job
        assert job["input_size"] == info.size == path.stat().st_size


def test_a_probe_nobody_takes_is_stopped(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    marker = tmp_path / "started"
    # ffprobe that hangs, as on a share that stopped answering.
    mf.configure(ffprobe=str(_wrapper(tmp_path, f'echo $$ > "{marker}"; sleep 60')))
    config = mf.load_config()

    with EarlyProbes(config, [clip]) as early:
        deadline = time.monotonic() + 10
        while not marker.exists() or not marker.read_text().strip():
            assert time.monotonic() < deadline, "the probe never started"
            time.sleep(0.05)
        pid = int(marker.read_text())
        os.kill(pid, 0)  # running

    assert early.take(clip) is None
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left behind


def test_an_input_that_cannot_be_probed_is_left_to_the_submission_path(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    text = tmp_path / "notes.mp4"
    text.write_text("not media\n")
    missing = tmp_path / "gone.mp4"
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)  # reading it would block until a writer comes

    config = mf.load_config()
    with EarlyProbes(config, [missing, fifo]) as early:
        assert early.take(missing) is None  # not started: submit names the problem itself
        assert early.take(fifo) is None
    with EarlyProbes(config, [text]) as early:
        started = early.take(text)
        assert started is not None
        fingerprint, probing = started
        assert fingerprint.size == text.stat().st_size
        with pytest.raises(ProbeError, match="not a media file ffprobe can read"):
            probing.result()

    done = mf("submit", fifo, text, clip, "-p", "h264-720p", "--json")
    assert done.code != 0
    assert f"input is not a regular file: {fifo}" in done.err
    assert f"not a media file ffprobe can read: {text}" in done.err
    [job] = json.loads(done.out)  # the good one is submitted, the others named
    assert job["input"] == str(clip)


def test_a_probe_started_early_times_out_from_its_start(
    make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    slow = _wrapper(tmp_path, "sleep 60")
    probing = Probing(clip, ffprobe=str(slow), timeout=1.0)
    time.sleep(1.2)  # the caller was busy for longer than the timeout

    started = time.monotonic()
    with pytest.raises(FFmpegError, match="ffprobe took longer than 1 s to read"):
        probing.result()
    assert time.monotonic() - started < 5  # not another full timeout on top


def test_a_probe_that_ended_is_read_however_late_it_is_asked_for(
    make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    ended = tmp_path / "ended"
    wrapper = tmp_path / "ffprobe-then-mark"
    wrapper.write_text(
        f'#!/bin/sh\n{shutil.which("ffprobe")} "$@"\ncode=$?\ntouch "{ended}"\nexit $code\n'
    )
    wrapper.chmod(0o755)
    probing = Probing(clip, ffprobe=str(wrapper), timeout=1.0)
    deadline = time.monotonic() + 30
    while not ended.exists():
        assert time.monotonic() < deadline, "ffprobe never ended"
        time.sleep(0.05)
    time.sleep(1.5)  # the caller was busy (a locked database, say) past the timeout

    info = probing.result()

    assert info.video is not None and info.duration is not None


def test_ctrl_c_while_waiting_for_a_probe_stops_ffprobe(
    make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    marker = tmp_path / "pid"
    hung = _wrapper(tmp_path, f'echo $$ > "{marker}"; sleep 60')
    probing = Probing(clip, ffprobe=str(hung), timeout=30.0)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            probing.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    pid = int(marker.read_text())
    assert not Path(f"/proc/{pid}").exists()  # ffprobe's own session did not keep it alive


def test_ctrl_c_during_submit_leaves_no_ffprobe_behind(
    mf: Mediaforge, make_media: MakeMedia, tmp_path: Path
) -> None:
    clip = make_media("clip.mp4", duration=0.3)
    marker = tmp_path / "pid"
    mf.configure(ffprobe=str(_wrapper(tmp_path, f'echo $$ > "{marker}"; sleep 60')))
    submit = subprocess.Popen(
        [*MEDIAFORGE, "submit", str(clip), "-p", "h264-720p"],
        env=mf.env,
        cwd=mf.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # Ctrl-C as at a terminal, even when the tests run with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the probe never started"
        time.sleep(0.05)
    time.sleep(0.5)  # the command is past its imports, waiting for the probe

    submit.send_signal(signal.SIGINT)
    _, err = submit.communicate(timeout=30)

    assert submit.returncode != 0
    assert b"Traceback" not in err
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"ffprobe {pid} still runs after Ctrl-C"
        time.sleep(0.05)
    assert mf.jobs() == []
