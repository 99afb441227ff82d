"""An ``s3://`` input waits for free space in the download folder before a
byte is fetched, against a real S3-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.storage.test_s3 import (  # noqa: F401  (fixtures)
    S3Mediaforge,
    bucket,
    endpoint,
    mfs,
    new_bucket,
    s3,
)


def test_an_s3_input_waits_for_free_space_in_the_download_folder_before_fetching(
    mfs: S3Mediaforge,  # noqa: F811
    s3: Any,  # noqa: F811
    bucket: str,  # noqa: F811
    new_bucket: Callable[[str], str],  # noqa: F811
    endpoint: str,  # noqa: F811
    make_media: Callable[..., Path],
    tmp_path: Path,
) -> None:
    downloads = tmp_path / "downloads"
    mfs.configure(
        s3={"bucket": bucket, "endpoint_url": endpoint, "download_dir": str(downloads)},
        worker={"min_free_space_mib": 10**12, "space_wait": 30},  # more than any disk holds
    )
    inbox = new_bucket("media-in")
    s3.upload_file(str(make_media("cam.mp4")), inbox, "cam.mp4")
    job_id = mfs.submit_one(f"s3://{inbox}/cam.mp4", "-p", "h264-720p")
    worker = mfs.start("worker")

    mfs.wait_until(
        lambda: "free space" in mfs.status(job_id)["decisions"], 60, "the wait for free space"
    )
    worker.terminate()

    job = mfs.status(job_id)
    text = job["decisions"]["free space"]
    assert text.startswith("waits for free space: needs ~"), text
    assert f" on {downloads}/job-{job_id}-1, " in text, text
    assert (job["status"], job["attempts"], job["error"]) == ("queued", 0, None)
    assert list(downloads.iterdir()) == []  # nothing fetched, the empty folder removed
    assert not (mfs.data / "outputs").exists() or list((mfs.data / "outputs").iterdir()) == []
