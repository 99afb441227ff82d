"""Inputs that live in S3 (``s3://bucket/key``): checked at submit, fetched by the worker.

``submit`` only asks the store about the object (a HEAD: it exists, its size
and ETag become the job's fingerprint). The worker streams it into a folder
of its own under ``s3.download_dir`` for the attempt, processes that copy and
removes the folder whatever happens; a worker killed mid-download leaves a
folder that the job's next attempt, or the recovery sweep, removes.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import Interrupted, StorageError
from mediaforge.storage.inputs import Fingerprint
from mediaforge.storage.local import ensure_folder, remove_quietly
from mediaforge.storage.s3.client import S3Client, parse_s3_url

# Room kept free beside a download, for the outputs and everything else.
_HEADROOM = 256 * 1024 * 1024
_CHECK_EVERY = 1.0  # seconds between stop checks (and heartbeats) while bytes flow


def downloads_root(config: Config) -> Path:
    return config.s3.download_dir or config.data_dir / "downloads"


def remote_outputs_dir(config: Config) -> Path:
    """Where outputs of s3:// inputs go when neither --output-dir nor output.dir says."""
    return config.data_dir / "outputs"


def download_folder(config: Config, job_id: int, attempt: int) -> Path:
    """A fresh folder for this attempt's copy; earlier attempts' folders are removed."""
    root = downloads_root(config)
    for stale in root.glob(f"job-{job_id}-*"):
        remove_quietly(stale)
    folder = root / f"job-{job_id}-{attempt}"
    ensure_folder(folder, "download folder", "or set s3.download_dir")
    return folder


def remove_leftover_downloads(config: Config, running: Callable[[], set[int]]) -> list[Path]:
    """Remove download folders of jobs that are not running (their worker died)."""
    removed: list[Path] = []
    root = downloads_root(config)
    if not root.is_dir():
        return removed
    # Folders first, then the running jobs: a job claimed in between is in the
    # second list whenever its folder could be in the first.
    folders = list(root.glob("job-*-*"))
    if not folders:
        return removed
    running_now = running()
    for folder in folders:
        job_id = folder.name.split("-")[1]
        if job_id.isdigit() and int(job_id) not in running_now:
            remove_quietly(folder)
            removed.append(folder)
    return removed


def remote_fingerprint(config: Config, url: str, client: S3Client | None = None) -> Fingerprint:
    """The fingerprint of an s3:// input from a HEAD request (size, time, ETag).
    InputError when there is no such object."""
    from mediaforge.errors import InputError

    bucket, key = parse_s3_url(url)
    remote = (client or S3Client(config.s3)).head_input(bucket, key)
    if remote.size == 0:
        raise InputError(f"{url} is empty; nothing to process")
    digest = hashlib.sha256(f"s3:{remote.size}:{remote.etag}".encode()).hexdigest()[:32]
    return Fingerprint(remote.size, remote.last_modified or 0.0, digest)


def fetch_input(
    config: Config, url: str, folder: Path, should_stop: Callable[[], str | None]
) -> Path:
    """Stream ``url`` into ``folder`` and return the local copy.

    Checks first that the disk has room for it; ``should_stop`` is polled
    while bytes flow (it also sends the job's heartbeats) and a reason stops
    the download with ``Interrupted``.
    """
    bucket, key = parse_s3_url(url)
    client = S3Client(config.s3)
    name = key.rsplit("/", 1)[-1].lstrip(".") or "input"
    dest = folder / name
    remote = client.head_input(bucket, key)
    free = shutil.disk_usage(folder).free
    if remote.size + _HEADROOM > free:
        raise StorageError(
            f"no room to download {url} ({remote.size} bytes) into {folder}: "
            f"{free} bytes free; free some space or set s3.download_dir"
        )
    last = [time.monotonic()]

    def progress(_: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _CHECK_EVERY:
            last[0] = now
            reason = should_stop()
            if reason is not None:
                raise Interrupted(f"download of {url} stopped", reason)

    client.download(remote, dest, progress=progress)
    return dest
