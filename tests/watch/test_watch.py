"""Watch folders: real files, real watcher threads and processes, a real job database.

Media here are tiny WAV files written with Python's ``wave`` module: valid
media ffprobe reads, distinct content per ``seed`` (the same content would
rightly be deduplicated), and cheap enough to make 500 of.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import peewee
import pytest

from mediaforge.config.schema import (
    Config,
    WatchRule,
)
from mediaforge.errors import ConfigError
from mediaforge.jobs.model import Job, JobStatus
from mediaforge.jobs.store import JobStore
from mediaforge.queue.backend import JobQueue
from mediaforge.watch.mounts import filesystem_type, needs_polling
from mediaforge.watch.rules import watch_rules
from mediaforge.watch.stability import FileState, StabilityTracker
from mediaforge.watch.watcher import Watcher
from tests.mfcli import Mediaforge, wait_until

PRESET = "aac-audio"


def wav(path: Path, seed: int, seconds: float = 0.2) -> Path:
    """Write a small valid WAV whose samples depend on ``seed``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    frequency = 200 + 10 * seed
    count = int(rate * seconds)
    samples = (int(12000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(count))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


class Box:
    """A watched inbox in ``tmp_path``, beside the test installation (one attempt per job)."""

    def __init__(self, mf: Mediaforge, inbox: Path) -> None:
        self.mf = mf
        self.inbox = inbox
        self.inbox.mkdir()
        mf.configure(worker={"max_attempts": 1})
        self.config: Config = mf.load_config()
        self.store = mf.store

    def rule(self, **settings: Any) -> WatchRule:
        return WatchRule(**{"path": self.inbox, "presets": (PRESET,), "settle_seconds": 0.5,
                            **settings})

    def watcher(self, **settings: Any) -> Watcher:
        return Watcher(self.config, [self.rule(**settings)], self.store, JobQueue(self.config))

    def once(self, **settings: Any) -> list[int]:
        """One ``--once`` pass (settle 0: whatever is there counts as complete)."""
        watcher = self.watcher(**{"settle_seconds": 0, **settings})
        try:
            return watcher.run_once().submitted
        finally:
            watcher.close()

    def jobs(self) -> list[Job]:
        return sorted(self.store.list_jobs(limit=10_000), key=lambda job: job.id)

    def burst(self) -> None:
        """Run a worker until the queue is empty."""
        self.mf.burst()


@pytest.fixture
def box(mf: Mediaforge, tmp_path: Path) -> Box:
    return Box(mf, tmp_path / "inbox")


@contextmanager
def running(watcher: Watcher) -> Iterator[threading.Thread]:
    """Run ``watcher`` as a daemon in a thread; stop it (as SIGTERM would) at the end."""
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        watcher.wake.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the watcher did not stop"


def picked_up(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("picked up")]


# -- the stability tracker ----------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


STATE = FileState(size=100, mtime_ns=5, inode=7)


def test_a_file_is_stable_once_it_stayed_the_same_for_the_settle_time() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(settle=10, clock=clock)
    path = Path("/in/a.mp4")

    assert not tracker.observe(path, STATE)
    clock.now += 9.9
    assert not tracker.observe(path, STATE)
    assert tracker.due() == []
    clock.now += 0.1
    assert tracker.due() == [path]
    assert tracker.observe(path, STATE)


@pytest.mark.parametrize(
    "changed",
    [FileState(101, 5, 7), FileState(100, 6, 7), FileState(100, 5, 8)],
    ids=["size", "mtime", "inode"],
)
def test_any_change_starts_the_settle_time_again(changed: FileState) -> None:
    clock = FakeClock()
    tracker = StabilityTracker(settle=10, clock=clock)
    path = Path("/in/a.mp4")
    tracker.observe(path, STATE)

    clock.now += 9
    assert not tracker.observe(path, changed)
    clock.now += 9
    assert not tracker.observe(path, changed)
    assert tracker.next_due() == clock.now + 1
    clock.now += 1
    assert tracker.observe(path, changed)


def test_with_no_settle_time_a_file_is_stable_at_first_sight() -> None:
    tracker = StabilityTracker(settle=0, clock=FakeClock())

    assert tracker.observe(Path("/in/a.mp4"), STATE)


def test_a_deferred_file_is_not_due_before_its_time_and_forgotten_ones_never() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(settle=1, clock=clock)
    a, b = Path("/in/a.mp4"), Path("/in/b.mp4")
    tracker.observe(a, STATE)
    tracker.observe(b, STATE)

    tracker.defer(a, 30)
    tracker.forget(b)
    clock.now += 29

    assert tracker.due() == [] and b not in tracker and len(tracker) == 1
    clock.now += 1
    assert tracker.due() == [a]


# -- events or polling ----------------------------------------------------------------

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /srv/nas rw,relatime - nfs4 nas:/export rw,vers=4.2
41 40 0:51 / /srv/nas/local rw,relatime - ext4 /dev/vdb rw
42 27 0:52 / /mnt/my\\040share rw,relatime - cifs //pc/share rw
43 27 0:53 / /mnt/remote rw,relatime - fuse.sshfs me@host:/ rw
44 27 0:54 / /mnt/usb rw,relatime - fuseblk /dev/sdb1 rw
45 27 0:55 / /mnt/ssh2 rw,relatime - fuse.rclone remote: rw
"""


@pytest.mark.parametrize(
    ("path", "fs_type", "poll"),
    [
        ("/home/ana/inbox", "ext4", False),
        ("/srv/nas", "nfs4", True),
        ("/srv/nas/inbox/deep", "nfs4", True),
        ("/srv/nas/local/inbox", "ext4", False),  # a local disk mounted inside the share
        ("/srv/nasty", "ext4", False),  # a prefix of the name is not a parent folder
        ("/mnt/my share/in", "cifs", True),  # spaces are escaped in mountinfo
        ("/mnt/remote/in", "fuse.sshfs", True),
        ("/mnt/ssh2", "fuse.rclone", True),
        ("/mnt/usb/in", "fuseblk", False),  # ntfs-3g: a local disk through FUSE
    ],
)
def test_network_and_fuse_mounts_are_polled_local_disks_get_events(
    tmp_path: Path, path: str, fs_type: str, poll: bool
) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO, encoding="utf-8")

    found = filesystem_type(Path(path), mountinfo)

    assert found == fs_type
    assert needs_polling(found) is poll


def test_this_machine_s_mount_table_can_be_read(tmp_path: Path) -> None:
    assert filesystem_type(tmp_path) is not None


def test_an_unreadable_mount_table_means_events(tmp_path: Path) -> None:
    fs_type = filesystem_type(tmp_path, tmp_path / "missing")

    assert fs_type is None and not needs_polling(fs_type)


# -- rules in the configuration ------------------------------------------------------------


def test_ad_hoc_watching_needs_a_preset_and_no_rules_needs_a_path(box: Box) -> None:
    with pytest.raises(ConfigError, match="--preset"):
        watch_rules(box.config, box.inbox, [])
    with pytest.raises(ConfigError, match="nothing to watch"):
        watch_rules(box.config)

    rules = watch_rules(box.config, box.inbox, [PRESET], poll=True, settle=2)

    assert rules == [WatchRule(path=box.inbox, presets=(PRESET,), mode="poll",
                               settle_seconds=2)]


def test_the_command_without_rules_says_what_to_do(box: Box) -> None:
    done = box.mf("watch", "--once")

    assert done.code == 3
    assert "nothing to watch" in done.err and "mediaforge watch PATH --preset NAME" in done.err


# -- what is picked up --------------------------------------------------------------------


def test_hidden_files_temporary_names_and_other_files_are_never_picked_up(box: Box) -> None:
    wav(box.inbox / ".hidden.wav", 1)
    wav(box.inbox / ".clip.wav.mf3-1.part", 2)  # mediaforge's own work in progress
    wav(box.inbox / ".clip.wav.Xa9f2K", 3)  # rsync's temporary name
    wav(box.inbox / "clip.wav.part", 4)  # a browser download in progress
    wav(box.inbox / ".sync" / "inside.wav", 5)  # a hidden folder
    (box.inbox / "notes.txt").write_text("not media", encoding="utf-8")
    good = wav(box.inbox / "sub" / "good.wav", 6)

    box.once()

    assert [job.input_path for job in box.jobs()] == [str(good)]


def test_include_and_exclude_globs_choose_the_files(box: Box) -> None:
    wav(box.inbox / "take1.wav", 1)
    wav(box.inbox / "take1.flac.wav", 2)
    wav(box.inbox / "raw" / "take2.wav", 3)
    wav(box.inbox / "keep" / "take3.wav", 4)
    odd = box.inbox / "take4.bin"
    wav(odd, 5)

    box.once(include=("take*",), exclude=("*.flac.*", "raw"))

    names = sorted(Path(job.input_path).relative_to(box.inbox).as_posix() for job in box.jobs())
    assert names == ["keep/take3.wav", "take1.wav", "take4.bin"]


def test_subfolders_are_left_alone_when_not_recursive(box: Box) -> None:
    wav(box.inbox / "top.wav", 1)
    wav(box.inbox / "sub" / "below.wav", 2)

    box.once(recursive=False)

    assert [Path(job.input_path).name for job in box.jobs()] == ["top.wav"]


def test_a_file_that_is_not_media_is_not_submitted(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    (box.inbox / "fake.mp4").write_bytes(b"not a movie at all" * 100)

    assert box.once() == []
    assert "not picked up: not a media file ffprobe can read" in caplog.text


def test_a_renamed_done_file_is_not_new_work_and_changed_content_is(box: Box) -> None:
    clip = wav(box.inbox / "clip.wav", 1)
    assert len(box.once()) == 1

    renamed = clip.rename(box.inbox / "renamed.wav")
    assert box.once() == []

    wav(renamed, 2)  # new content under the same name
    assert len(box.once()) == 1
    assert [Path(j.input_path).name for j in box.jobs()] == ["clip.wav", "renamed.wav"]


def test_the_same_content_dropped_twice_at_once_is_one_job(box: Box) -> None:
    wav(box.inbox / "a.wav", 1)
    wav(box.inbox / "copy of a.wav", 1)

    assert len(box.once()) == 1


def test_each_preset_of_a_rule_is_one_job(box: Box) -> None:
    wav(box.inbox / "a.wav", 1)

    box.once(presets=("aac-audio", "mp3-audio"))

    assert sorted(job.preset for job in box.jobs()) == ["aac-audio", "mp3-audio"]
    assert len(box.once(presets=("aac-audio", "mp3-audio", "opus-audio"))) == 1
    assert len(box.jobs()) == 3


def test_once_leaves_files_still_being_written_for_the_next_run(box: Box) -> None:
    wav(box.inbox / "old.wav", 1)
    old = time.time() - 60
    os.utime(box.inbox / "old.wav", (old, old))
    wav(box.inbox / "fresh.wav", 2)

    watcher = box.watcher(settle_seconds=30)
    report = watcher.run_once()
    watcher.close()

    assert report.waiting == 1
    assert [Path(j.input_path).name for j in box.jobs()] == ["old.wav"]


def test_once_picks_up_a_file_never_seen_before_whose_mtime_is_hours_old(box: Box) -> None:
    clip = wav(box.inbox / "clip.wav", 1)
    hours_ago = time.time() - 3 * 3600
    os.utime(clip, (hours_ago, hours_ago))

    done = box.mf.ok("watch", box.inbox, "-p", PRESET, "--once")  # the default settle time

    assert "submitted 1 job(s)" in done.out
    assert [job.input_path for job in box.jobs()] == [str(clip)]


def test_once_leaves_a_file_still_growing_under_an_old_mtime_for_the_next_run(
    box: Box, tmp_path: Path
) -> None:
    # A NAS whose clock lags, or a tool that sets the mtime before it has
    # finished writing: the mtime looks hours old while the size still grows.
    data = wav(tmp_path / "source.wav", 1, seconds=2).read_bytes()
    target = box.inbox / "growing.wav"
    hours_ago = time.time() - 3 * 3600
    writing = threading.Event()

    def write_slowly() -> None:
        with target.open("wb") as out:
            for start in range(0, len(data), len(data) // 30 + 1):
                out.write(data[start:start + len(data) // 30 + 1])
                out.flush()
                os.utime(target, (hours_ago, hours_ago))
                writing.set()
                time.sleep(0.1)

    writer = threading.Thread(target=write_slowly, daemon=True)
    writer.start()
    try:
        assert writing.wait(5)
        watcher = box.watcher(settle_seconds=30)
        report = watcher.run_once()
        watcher.close()
    finally:
        writer.join(timeout=10)

    assert box.jobs() == [], "picked up while still being written"
    assert report.waiting == 1
    assert len(box.once(settle_seconds=30)) == 1  # complete now: the next run takes it


# -- outputs inside the watched folder -------------------------------------------------------


@pytest.mark.parametrize("output_dir", [None, "transcoded/audio"])
def test_an_output_folder_inside_the_watched_folder_causes_no_loop(
    box: Box, output_dir: str | None
) -> None:
    # By default outputs go to the watched folder's "output" subfolder.
    folder = box.inbox / (output_dir or "output")
    settings = {"output_dir": box.inbox / output_dir} if output_dir else {}
    wav(box.inbox / "a.wav", 1)
    assert len(box.once(**settings)) == 1
    box.burst()
    assert (folder / "a.m4a").is_file()

    assert box.once(**settings) == []
    assert len(box.jobs()) == 1


def test_outputs_written_beside_their_input_in_a_watched_folder_are_not_picked_up(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mediaforge.watch")
    source = wav(box.inbox / "a.wav", 1)
    box.mf.ok("run", source, "-p", "mp3-audio")
    assert (box.inbox / "a.mp3").is_file()

    box.once(presets=("mp3-audio",))

    assert len(box.jobs()) == 1  # neither a.wav (done already) nor its output a.mp3
    assert f"{box.inbox / 'a.mp3'} is an output of job 1; not new work" in caplog.text
    assert f"{source}: same content as job 1; not new work" in caplog.text


# -- what becomes of originals -----------------------------------------------------------------


@pytest.mark.parametrize("action", ["move", "delete"])
def test_an_original_is_moved_or_deleted_only_after_its_job_succeeded(
    box: Box, action: str
) -> None:
    original = wav(box.inbox / "sub" / "a.wav", 1)
    [job_id] = box.once(on_success=action)

    box.once(on_success=action)  # the job is queued: nothing may happen yet
    assert original.is_file()

    box.burst()
    assert box.store.get(job_id).status is JobStatus.SUCCEEDED
    box.once(on_success=action)

    assert not original.exists()
    assert (box.inbox / "output" / "a.m4a").is_file()
    moved = box.inbox / "done" / "sub" / "a.wav"
    assert moved.is_file() is (action == "move")
    assert box.once(on_success=action) == []  # the done folder is not watched


def test_a_failed_original_is_moved_to_the_failed_folder(box: Box) -> None:
    original = wav(box.inbox / "a.wav", 1)  # audio only: a video preset must fail
    [job_id] = box.once(presets=("h264-720p",), on_failure="move", on_success="delete")
    box.burst()
    assert box.store.get(job_id).status is JobStatus.FAILED

    box.once(presets=("h264-720p",), on_failure="move", on_success="delete")

    assert not original.exists()
    assert (box.inbox / "failed" / "a.wav").is_file()


def test_a_failed_original_moved_back_into_the_folder_is_tried_again(box: Box) -> None:
    original = wav(box.inbox / "a.wav", 1)
    rule = {"presets": ("h264-720p",), "on_failure": "move"}
    box.once(**rule)
    box.burst()
    box.once(**rule)
    assert not original.exists() and box.once(**rule) == []

    (box.inbox / "failed" / "a.wav").rename(original)

    assert len(box.once(**rule)) == 1


def test_an_original_is_not_moved_onto_a_file_already_in_the_done_folder(box: Box) -> None:
    (box.inbox / "done").mkdir()
    (box.inbox / "done" / "a.wav").write_bytes(b"an older file")
    wav(box.inbox / "a.wav", 1)
    box.once(on_success="move")
    box.burst()

    box.once(on_success="move")

    assert (box.inbox / "done" / "a.wav").read_bytes() == b"an older file"
    assert (box.inbox / "done" / "a (1).wav").is_file()


def test_a_watcher_restarted_before_the_job_ended_still_moves_the_original(box: Box) -> None:
    original = wav(box.inbox / "a.wav", 1)
    box.once(on_success="move")
    box.burst()

    # A new watcher process knows nothing; the job database tells it the rest.
    with running(box.watcher(on_success="move", settle_seconds=0.2)):
        wait_until(lambda: not original.exists(), 20, "the original to be moved")

    assert (box.inbox / "done" / "a.wav").is_file()


# -- the daemon ------------------------------------------------------------------------------------


def test_a_slow_copy_becomes_exactly_one_job_created_after_the_copy_ended(
    box: Box, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaforge.watch")
    source = wav(tmp_path / "source.wav", 1, seconds=3)
    data = source.read_bytes()
    chunks = [data[i:i + len(data) // 10 + 1] for i in range(0, len(data), len(data) // 10 + 1)]
    target = box.inbox / "slow.wav"

    with running(box.watcher(settle_seconds=1.5)):
        with target.open("wb") as out:
            for chunk in chunks:  # ~3 s in all, never still for as long as the settle time
                out.write(chunk)
                out.flush()
                time.sleep(0.3)
                assert box.jobs() == [], "picked up while still being copied"
        copy_ended = time.time()
        wait_until(lambda: len(box.jobs()) == 1, 20, "a job for the copied file")
        time.sleep(2)

    [job] = box.jobs()
    assert job.created_at >= copy_ended
    assert job.input_size == len(data)
    assert picked_up(caplog) == [f"picked up {target} -> job {job.id} ({PRESET})"]


def test_an_rsync_style_temporary_file_is_picked_up_once_under_its_final_name(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaforge.watch")
    temp = box.inbox / ".clip.wav.Xa9f2K"
    final = box.inbox / "clip.wav"

    with running(box.watcher(settle_seconds=0.5)):
        wav(temp, 1, seconds=1)
        time.sleep(1)  # longer than the settle time: the temporary name must not count
        temp.rename(final)
        wait_until(lambda: len(box.jobs()) == 1, 20, "a job for the renamed file")
        time.sleep(1.5)

    assert [job.input_path for job in box.jobs()] == [str(final)]
    assert len(picked_up(caplog)) == 1


def test_a_file_moved_in_from_elsewhere_and_a_folder_moved_in_are_picked_up(
    box: Box, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    wav(outside / "single.wav", 1)
    wav(outside / "album" / "track.wav", 2)

    with running(box.watcher(settle_seconds=0.3)):
        time.sleep(0.3)
        (outside / "single.wav").rename(box.inbox / "single.wav")
        (outside / "album").rename(box.inbox / "album")
        wait_until(lambda: len(box.jobs()) == 2, 20, "jobs for the moved-in files")

    assert sorted(Path(j.input_path).name for j in box.jobs()) == ["single.wav", "track.wav"]


def test_polling_mode_picks_up_new_files_without_events(box: Box) -> None:
    watcher = box.watcher(mode="poll", poll_interval=0.3, settle_seconds=0.5)

    with running(watcher):
        wav(box.inbox / "a.wav", 1)
        wait_until(lambda: len(box.jobs()) == 1, 20, "a job from polling")
        wav(box.inbox / "b.wav", 2)
        wait_until(lambda: len(box.jobs()) == 2, 20, "a second job from polling")

    assert watcher._observer is None  # no inotify watch was ever set up


def test_files_dropped_while_the_daemon_was_down_are_found_at_start_up(box: Box) -> None:
    mf = box.mf
    watch = ("watch", box.inbox, "-p", PRESET, "--settle", "0.3")

    daemon = mf.start(*watch)
    wav(box.inbox / "first.wav", 1)
    mf.wait_until(lambda: len(box.jobs()) == 1, 30, "the first job")
    daemon.send_signal(signal.SIGTERM)
    first = mf.finish(daemon, timeout=15)
    assert first.code == 0, first.err

    wav(box.inbox / "second.wav", 2)
    wav(box.inbox / "sub" / "third.wav", 3)
    daemon = mf.start(*watch)
    mf.wait_until(lambda: len(box.jobs()) == 3, 30, "jobs for the files dropped meanwhile")
    time.sleep(1)
    daemon.send_signal(signal.SIGTERM)
    second = mf.finish(daemon, timeout=15)
    assert second.code == 0, second.err

    assert sorted(Path(j.input_path).name for j in box.jobs()) == [
        "first.wav", "second.wav", "third.wav"
    ]
    text = first.err + second.err
    assert text.count("picked up") == 3
    assert "Traceback" not in text


def test_five_hundred_files_dropped_at_once_become_exactly_five_hundred_jobs(
    box: Box, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    for seed in range(500):
        wav(staging / f"clip{seed:03}.wav", seed, seconds=0.05)

    with running(box.watcher(settle_seconds=0.5)):
        for path in staging.iterdir():
            path.rename(box.inbox / path.name)
        wait_until(lambda: len(box.jobs()) >= 500, 120, "500 jobs")
        time.sleep(1)

    jobs = box.jobs()
    assert len(jobs) == 500
    assert len({job.input_path for job in jobs}) == 500


def test_a_watched_folder_removed_and_recreated_is_watched_again(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaforge.watch")

    with running(box.watcher(settle_seconds=0.3)) as thread:
        wav(box.inbox / "before.wav", 1)
        wait_until(lambda: len(box.jobs()) == 1, 20, "a job before the folder went")

        (box.inbox / "before.wav").unlink()
        box.inbox.rmdir()  # the share went away
        wait_until(lambda: "is missing" in caplog.text, 10, "the watcher to notice")
        time.sleep(1)
        assert thread.is_alive()

        box.inbox.mkdir()  # and came back
        wav(box.inbox / "after.wav", 2)
        wait_until(lambda: len(box.jobs()) == 2, 30, "a job after the folder came back")

    assert [Path(j.input_path).name for j in box.jobs()] == ["before.wav", "after.wav"]
    assert caplog.text.count("is missing") == 1  # said once, not once per retry


def test_a_watched_folder_deleted_and_made_again_at_once_is_watched_by_events_again(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaforge.watch")
    watcher = box.watcher(mode="events", rescan_interval=600, settle_seconds=0.3)

    def steps_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
        # The loop driven by hand: a watcher busy elsewhere (probing, submitting)
        # while the folder is replaced never sees it missing, only its events.
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"waited {seconds} s for {what}")
            watcher.step()
            time.sleep(0.05)

    try:
        watcher.step()
        wav(box.inbox / "before.wav", 1)
        steps_until(lambda: len(box.jobs()) == 1, 20, "a job before the folder went")

        inode = box.inbox.stat().st_ino
        for _ in range(5):  # ext4 often hands the same inode back; try for it,
            subprocess.run(["sh", "-c", 'rm -rf "$0" && mkdir "$0"', box.inbox], check=True)
            same_inode = box.inbox.stat().st_ino == inode
            if same_inode:  # but the watcher must not depend on it
                break
        time.sleep(0.5)  # the deletion events reach the watcher's queue
        wav(box.inbox / "after.wav", 2)
        steps_until(lambda: len(box.jobs()) == 2, 5,
                    f"a job long before the rescan (same inode: {same_inode})")
    finally:
        watcher.close()

    assert [Path(j.input_path).name for j in box.jobs()] == ["before.wav", "after.wav"]
    assert f"{box.inbox} was deleted; watching it again once it exists" in caplog.text


def test_a_failing_job_database_is_logged_and_the_file_is_submitted_later(
    box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    # A locked SQLite database takes its 30 s busy timeout to fail; this store
    # fails the same way at once, twice, then recovers.
    class LockedStore(JobStore):
        failures = 2

        def find_by_fingerprint(self, input_hash: str, preset: str) -> Iterator[Job]:
            if LockedStore.failures:
                LockedStore.failures -= 1
                raise peewee.OperationalError("database is locked")
            return super().find_by_fingerprint(input_hash, preset)

    store = LockedStore(box.store.db)
    clock = FakeClock()
    watcher = Watcher(box.config, [box.rule(mode="poll", settle_seconds=0)], store,
                      JobQueue(box.config), clock=clock)
    wav(box.inbox / "a.wav", 1)

    watcher.step()
    assert "database is locked; trying again in 2 s" in caplog.text
    watcher.step()  # backing off: nothing tried
    assert LockedStore.failures == 1
    clock.now += 2
    watcher.step()
    assert "trying again in 4 s" in caplog.text and box.jobs() == []
    clock.now += 4
    watcher.step()

    assert len(box.jobs()) == 1
    watcher.close()


def test_the_original_is_left_alone_when_its_content_changed_after_the_job(box: Box) -> None:
    original = wav(box.inbox / "a.wav", 1)
    watcher = box.watcher(on_success="delete", settle_seconds=0)
    watcher.run_once()
    box.burst()

    wav(original, 2)  # rewritten in place with new content
    watcher.run_once()
    watcher.close()

    assert original.is_file()
    assert len(box.jobs()) == 2  # the new content is new work
