"""S3 sync, proven against a real S3-compatible server on 127.0.0.1.

moto's server runs in this process and speaks S3 over HTTP: mediaforge's own
processes (``run``, ``submit``, ``worker --burst``, ``s3 sync``) talk to it
with boto3 as they would to AWS or MinIO, and the tests look at the store
with a boto3 client of their own. A store that is down is a port where
nothing listens. Credentials reach mediaforge only through its environment;
every command's output is checked for the secret key as it comes back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.mfcli import Done, Mediaforge, ffprobe, free_port
from tests.servers import Webhook

ACCESS_KEY = "AKIAMFTESTKEY0000042"
SECRET = "mf-test-secret-Zq9"
MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_moto(port: int = 0) -> ThreadedMotoServer:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One S3 server for the module; each test has buckets of its own. (moto keeps
    its buckets per process, so a second server started later sees them too.)"""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = start_moto()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str) -> Any:
    """The tests' own client, with the same credentials as mediaforge."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    return session.client("s3", endpoint_url=endpoint)


@pytest.fixture
def new_bucket(s3: Any) -> Callable[[str], str]:
    def make(prefix: str = "media") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=name)
        return name

    return make


@pytest.fixture
def bucket(new_bucket: Callable[[str], str]) -> str:
    return new_bucket("media-out")


class S3Mediaforge(Mediaforge):
    """The test installation with AWS credentials in its environment (and nowhere else).

    Every command's stdout and stderr are checked for the secret key as they come back."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.env.update(
            {
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-such-credentials"),
                "AWS_CONFIG_FILE": str(home / "no-such-aws-config"),
                "COLUMNS": "250",  # status rows on one line each
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self.env.pop(name, None)

    def use_s3(self, bucket: str, endpoint: str, extra: str = "", **s3: object) -> None:
        """An ``s3:`` section with these settings, and ``extra`` after it."""
        self.configure(extra, s3={"bucket": bucket, "endpoint_url": endpoint, **s3})

    def record(self, done: Done) -> Done:
        assert SECRET not in done.out + done.err
        return super().record(done)

    def submit_one(self, *args: object) -> int:
        """``mediaforge submit ARGS`` for one input: its job id."""
        return int(self.ok("submit", *args).out.strip())

    def upload_rows(self) -> list[dict[str, Any]]:
        """The upload table, read straight from the job database."""
        uri = f"file:{self.data / 'jobs.db'}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute('SELECT * FROM "upload" ORDER BY id')]


@pytest.fixture
def mfs(tmp_path: Path) -> Iterator[S3Mediaforge]:
    with S3Mediaforge(tmp_path / "mf") as installation:
        yield installation


def stored(s3: Any, bucket: str, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def keys(s3: Any, bucket: str) -> set[str]:
    reply = s3.list_objects_v2(Bucket=bucket)
    return {o["Key"] for o in reply.get("Contents", [])}


def down_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# -- uploads ----------------------------------------------------------------------------


def test_run_uploads_the_output_verified_and_gives_a_link_that_downloads_its_bytes(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    mfs.use_s3(bucket, endpoint)
    clip = make_media("clip.mp4")

    mfs.ok("run", clip, "-p", "remux-mp4")

    output = clip.with_name("clip.remux.mp4")
    local = output.read_bytes()
    key = "processed/clip.remux.mp4"
    assert keys(s3, bucket) == {key}
    assert stored(s3, bucket, key) == local
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "video/mp4"
    assert head["Metadata"]["mediaforge-job"] == "1"
    [upload] = mfs.status(1)["uploads"]
    assert upload["status"] == "uploaded"
    assert upload["object"] == f"s3://{bucket}/{key}"
    assert upload["path"] == str(output)
    assert upload["size"] == len(local)
    link = upload["link"]
    assert link.startswith(f"{endpoint}/{bucket}/{key}?")
    assert "X-Amz-Signature=" in link and ACCESS_KEY in link and SECRET not in link
    with urllib.request.urlopen(link, timeout=10) as reply:
        assert sha256(reply.read()) == sha256(local)
    text = mfs.ok("status", 1).out
    assert f"uploaded s3://{bucket}/{key}" in text
    assert f": {link}" in text


def test_an_output_above_the_multipart_threshold_is_uploaded_in_parts_and_verified(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    mfs.use_s3(bucket, endpoint, multipart_threshold_mb=5, part_size_mb=5)
    # Noise at the best MPEG-4 quality: > 10 MiB from 4 s of 320x240, in a fraction of a second.
    big = make_media(
        "big.mp4", duration=4.0, vcodec="mpeg4",
        extra=["-q:v", "1", "-vf", "noise=alls=100:allf=t"],
    )  # fmt: skip

    mfs.ok("run", big, "-p", "remux-mp4")

    output = big.with_name("big.remux.mp4")
    size = output.stat().st_size
    assert size > 10 * MiB
    key = "processed/big.remux.mp4"
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    parts = -(-size // (5 * MiB))
    assert parts >= 3
    assert etag.endswith(f"-{parts}")
    assert sha256(stored(s3, bucket, key)) == sha256(output.read_bytes())
    [upload] = mfs.status(1)["uploads"]
    assert (upload["status"], upload["size"]) == ("uploaded", size)


def test_an_hls_folder_is_uploaded_whole_with_hls_types_and_one_link_to_the_master_playlist(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    mfs.use_s3(bucket, endpoint)
    clip = make_media("show.mp4", duration=2.0)

    mfs.ok("run", clip, "-p", "hls-ladder")

    folder = clip.with_name("show.hls")
    files = {
        f"processed/show.hls/{p.relative_to(folder).as_posix()}": p
        for p in folder.rglob("*")
        if p.is_file()
    }
    assert "processed/show.hls/master.m3u8" in files
    assert any(k.endswith(".ts") for k in files)
    assert keys(s3, bucket) == set(files)
    for key, path in files.items():
        assert stored(s3, bucket, key) == path.read_bytes(), key
        content_type = s3.head_object(Bucket=bucket, Key=key)["ContentType"]
        if key.endswith(".m3u8"):
            assert content_type == "application/vnd.apple.mpegurl", key
        else:
            assert key.endswith(".ts") and content_type == "video/mp2t", key
    uploads = mfs.status(1)["uploads"]
    assert {u["object"] for u in uploads} == {f"s3://{bucket}/{k}" for k in files}
    assert all(u["status"] == "uploaded" for u in uploads)
    [linked] = [u for u in uploads if u["link"]]
    assert linked["object"] == f"s3://{bucket}/processed/show.hls/master.m3u8"
    with urllib.request.urlopen(linked["link"], timeout=10) as reply:
        assert reply.read() == files["processed/show.hls/master.m3u8"].read_bytes()


# -- s3:// inputs -------------------------------------------------------------------------


def test_an_s3_input_is_fetched_by_the_worker_processed_uploaded_and_its_download_removed(
    mfs: S3Mediaforge,
    s3: Any,
    bucket: str,
    new_bucket: Callable[[str], str],
    endpoint: str,
    make_media: Callable[..., Path],
) -> None:
    mfs.use_s3(bucket, endpoint)
    inbox = new_bucket("media-in")
    clip = make_media("cam.mp4")
    s3.upload_file(str(clip), inbox, "cams/front/cam.mp4")

    # Refused at submit: an object that is not there, a URL that names no object.
    for url in (f"s3://{inbox}/cams/front/missing.mp4", f"s3://{inbox}"):
        refused = mfs("submit", url, "-p", "h264-720p")
        assert refused.code == 4, refused.err
        [line] = refused.error_lines()
        assert url in line
        assert "Traceback" not in refused.err
    assert mfs.jobs() == []

    job_id = mfs.submit_one(f"s3://{inbox}/cams/front/cam.mp4", "-p", "h264-720p")
    mfs.burst("--verbose")

    job = mfs.status(job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["input"] == f"s3://{inbox}/cams/front/cam.mp4"
    output = mfs.data / "outputs" / "cam.720p.mp4"
    assert [o["path"] for o in job["outputs"]] == [str(output)]
    info = ffprobe(output, "-show_streams")
    assert {s["codec_name"] for s in info["streams"]} == {"h264", "aac"}
    [upload] = job["uploads"]
    assert upload["status"] == "uploaded"
    assert upload["object"] == f"s3://{bucket}/processed/cam.720p.mp4"
    assert stored(s3, bucket, "processed/cam.720p.mp4") == output.read_bytes()
    downloads = mfs.data / "downloads"  # where the copy was made, then removed
    assert downloads.is_dir() and list(downloads.iterdir()) == []
    assert keys(s3, inbox) == {"cams/front/cam.mp4"}  # the input is left where it was


# -- a store that is down -----------------------------------------------------------------


def test_uploads_to_a_store_that_is_down_fail_without_failing_the_job_and_sync_finishes_them(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    down = down_endpoint()
    mfs.use_s3(bucket, down, max_attempts=3, retry_backoff=0.2, timeout=2)
    clip = make_media("clip.mp4")
    job_id = mfs.submit_one(clip, "-p", "remux-mp4")

    worker = mfs.burst("--verbose")

    job = mfs.status(job_id)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    [upload] = job["uploads"]
    assert upload["status"] == "failed"
    assert upload["attempts"] == 3
    error = upload["error"]
    assert "\n" not in error and "cannot reach" in error and down in error
    assert SECRET not in error
    assert worker.err.count("next attempt in") == 2
    output = clip.with_name("clip.remux.mp4")
    assert output.stat().st_size == job["outputs"][0]["size"]
    assert ffprobe(output, "-show_format")["format"]["duration"]
    assert keys(s3, bucket) == set()
    text = mfs.ok("status", job_id).out
    assert f"failed s3://{bucket}/processed/clip.remux.mp4 after 3 attempt(s)" in text

    mfs.use_s3(bucket, endpoint, max_attempts=3, retry_backoff=0.2, timeout=2)
    synced = mfs.ok("s3", "sync", "--retry-failed")

    assert "1 failed upload(s) tried again" in synced.out
    assert f"uploaded {output} -> s3://{bucket}/processed/clip.remux.mp4" in synced.out
    assert "1 file(s) uploaded (" in synced.out and "0 failed" in synced.out
    assert stored(s3, bucket, "processed/clip.remux.mp4") == output.read_bytes()
    [upload] = mfs.status(job_id)["uploads"]
    assert (upload["status"], upload["error"]) == ("uploaded", None)
    assert upload["link"]
    before = s3.head_object(Bucket=bucket, Key="processed/clip.remux.mp4")["LastModified"]

    again = mfs.ok("s3", "sync")

    assert "0 file(s) uploaded (0 B), 0 already there, 0 to retry, 0 failed" in again.out
    assert "uploaded /" not in again.out
    after = s3.head_object(Bucket=bucket, Key="processed/clip.remux.mp4")["LastModified"]
    assert after == before


def test_the_worker_retries_an_upload_once_the_store_is_back_without_transcoding_again(
    mfs: S3Mediaforge, s3: Any, bucket: str, make_media: Callable[..., Path]
) -> None:
    port = free_port()
    mfs.use_s3(bucket, f"http://127.0.0.1:{port}", max_attempts=5, retry_backoff=1, timeout=2)
    clip = make_media("clip.mp4")
    job_id = mfs.submit_one(clip, "-p", "remux-mp4")
    output = clip.with_name("clip.remux.mp4")

    worker = mfs.start("worker", "--burst", "--verbose")
    server = None
    try:
        # The first attempt finds nobody at the port; the store comes up before the next one.
        mfs.wait_until(
            lambda: any(r["attempts"] >= 1 for r in mfs.upload_rows()), 30, "a failed attempt"
        )
        mtime = output.stat().st_mtime_ns
        server = start_moto(port)
        done = mfs.finish(worker, timeout=60)
    finally:
        if server is not None:
            server.stop()
    assert done.code == 0, done.err
    err = done.err

    job = mfs.status(job_id)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    [upload] = job["uploads"]
    assert upload["status"] == "uploaded"
    assert upload["attempts"] >= 2
    assert "next attempt in" in err
    assert f"uploaded {output} to s3://{bucket}/processed/clip.remux.mp4" in err
    assert output.stat().st_mtime_ns == mtime
    assert stored(s3, bucket, "processed/clip.remux.mp4") == output.read_bytes()


# -- s3 sync on an existing library ----------------------------------------------------


def test_sync_after_enabling_s3_lists_then_uploads_the_outputs_of_earlier_jobs(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    first, second = make_media("first.mp4"), make_media("second.mp4")
    mfs.ok("run", first, "-p", "remux-mp4")
    mfs.ok("run", second, "-p", "remux-mp4")
    assert mfs.status(1)["uploads"] == []
    mfs.use_s3(bucket, endpoint)

    plan = mfs.ok("s3", "sync", "--dry-run")

    outputs = [first.with_name("first.remux.mp4"), second.with_name("second.remux.mp4")]
    for output in outputs:
        assert f"{output} -> s3://{bucket}/processed/{output.name}" in plan.out
    assert "2 file(s) would be uploaded" in plan.out
    assert keys(s3, bucket) == set()
    assert mfs.status(1)["uploads"] == []

    synced = mfs.ok("s3", "sync")

    assert "2 file(s) of earlier jobs were not in S3 yet" in synced.out
    assert "2 file(s) uploaded (" in synced.out
    assert "0 already there, 0 to retry, 0 failed" in synced.out
    for job_id, output in enumerate(outputs, start=1):
        key = f"processed/{output.name}"
        assert stored(s3, bucket, key) == output.read_bytes()
        [upload] = mfs.status(job_id)["uploads"]
        assert (upload["status"], upload["object"]) == ("uploaded", f"s3://{bucket}/{key}")
        assert upload["link"]


def test_sync_leaves_an_object_with_the_same_bytes_and_never_overwrites_another_file(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    same, other = make_media("same.mp4"), make_media("other.mp4", duration=2.0)
    mfs.ok("run", same, "-p", "remux-mp4")
    mfs.ok("run", other, "-p", "remux-mp4")
    same_out, other_out = same.with_name("same.remux.mp4"), other.with_name("other.remux.mp4")
    # Someone copied the first output by hand; the second key holds a file of theirs.
    s3.put_object(Bucket=bucket, Key="processed/same.remux.mp4", Body=same_out.read_bytes())
    theirs = b"a different file that happens to have this name"
    s3.put_object(Bucket=bucket, Key="processed/other.remux.mp4", Body=theirs)
    mfs.use_s3(bucket, endpoint)

    synced = mfs("s3", "sync")

    assert synced.code == 1, synced.err
    assert "1 file(s) were in S3 already (same bytes)" in synced.out
    assert "0 file(s) uploaded (0 B), 1 already there, 0 to retry, 1 failed" in synced.out
    assert f"failed {other_out} -> s3://{bucket}/processed/other.remux.mp4" in synced.out
    # Neither object was written: the first has none of mediaforge's metadata.
    head = s3.head_object(Bucket=bucket, Key="processed/same.remux.mp4")
    assert "mediaforge-origin" not in head["Metadata"]
    assert stored(s3, bucket, "processed/same.remux.mp4") == same_out.read_bytes()
    assert stored(s3, bucket, "processed/other.remux.mp4") == theirs
    [kept] = mfs.status(1)["uploads"]
    assert kept["status"] == "uploaded" and kept["link"]
    [refused] = mfs.status(2)["uploads"]
    assert refused["status"] == "failed"
    assert "already holds another file; nothing was overwritten" in refused["error"]
    assert refused["attempts"] == 1  # failed at once: trying again cannot help
    assert "\n" not in refused["error"]


# -- delete_local ---------------------------------------------------------------------------


def test_delete_local_removes_an_output_once_its_upload_is_verified_and_only_then(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    mfs.use_s3(bucket, endpoint, delete_local=True)
    clip = make_media("clip.mp4")

    mfs.ok("run", clip, "-p", "remux-mp4")

    output = clip.with_name("clip.remux.mp4")
    assert not output.exists()
    assert clip.exists()  # only outputs are uploaded, so only outputs go
    job = mfs.status(1)
    [upload] = job["uploads"]
    assert (upload["status"], upload["local_deleted"]) == ("uploaded", True)
    data = stored(s3, bucket, "processed/clip.remux.mp4")
    assert len(data) == job["outputs"][0]["size"]
    assert hashlib.md5(data).hexdigest() == s3.head_object(
        Bucket=bucket, Key="processed/clip.remux.mp4"
    )["ETag"].strip('"')
    assert "(local copy deleted)" in mfs.ok("status", 1).out

    mfs.use_s3(bucket, down_endpoint(), delete_local=True, timeout=2)
    second = make_media("second.mp4")

    mfs.ok("run", second, "-p", "remux-mp4")

    kept = second.with_name("second.remux.mp4")
    assert kept.is_file()
    [upload] = mfs.status(2)["uploads"]
    assert upload["status"] == "pending" and upload["attempts"] == 1
    assert upload["local_deleted"] is False
    assert kept.stat().st_size == upload["size"]
    assert "local copy deleted" not in mfs.ok("status", 2).out


# -- without boto3 ---------------------------------------------------------------------------


def test_without_boto3_run_and_worker_refuse_with_the_install_hint_before_any_transcode(
    mfs: S3Mediaforge, bucket: str, endpoint: str, tmp_path: Path, make_media: Callable[..., Path]
) -> None:
    # boto3 is installed here (the other tests need it), so it is hidden instead: a
    # package of that name first on PYTHONPATH whose import fails as a missing one does.
    hidden = tmp_path / "hide-boto3" / "boto3"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ImportError(\"No module named 'boto3'\", name='boto3')\n", encoding="utf-8"
    )
    mfs.use_s3(bucket, endpoint)
    clip = make_media("clip.mp4")
    queued = mfs.submit_one(clip, "-p", "remux-mp4")  # a local input: submit needs no boto3
    # Before the sources under test (a PYTHONPATH of their own, if they have one).
    paths = [str(hidden.parent), mfs.env.get("PYTHONPATH", "")]
    mfs.env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    hides = subprocess.run(
        [sys.executable, "-c", "import boto3"], env=mfs.env, capture_output=True, check=False
    )
    assert hides.returncode == 1 and b"ImportError" in hides.stderr

    runs = mfs("run", clip, "-p", "remux-mp4")
    works = mfs("worker", "--burst")
    syncs = mfs("s3", "sync")
    checks = mfs("config", "check")
    plan = mfs("s3", "sync", "--dry-run")  # asks nothing of the store: works without boto3

    for done in (runs, works, syncs, checks):
        assert done.code == 3, done.err
        assert "Traceback" not in done.err
        assert len(done.error_lines()) == 1, done.err
    assert not clip.with_name("clip.remux.mp4").exists()
    [job] = mfs.jobs()  # run made no job; the queued one was not taken
    assert (job["id"], job["status"], job["attempts"]) == (queued, "queued", 0)
    assert plan.code == 0, plan.err
    assert "0 file(s) would be uploaded" in plan.out
    for done in (runs, works, syncs, checks):
        [line] = done.error_lines()
        assert "pipx install 'mediaforge-transcode[s3]'" in line


# -- secrets -----------------------------------------------------------------------------------


def test_the_secret_key_is_in_no_output_no_log_and_not_in_the_job_database(
    mfs: S3Mediaforge, s3: Any, bucket: str, endpoint: str, make_media: Callable[..., Path]
) -> None:
    clip, late = make_media("clip.mp4"), make_media("late.mp4")
    mfs.use_s3(bucket, endpoint)
    mfs.ok("run", clip, "-p", "remux-mp4")
    mfs.ok("s3", "links", "1", "--expiry", "600")
    mfs("doctor")
    # A store that is down: errors written to the database and the worker's log.
    mfs.use_s3(bucket, down_endpoint(), max_attempts=2, retry_backoff=0.2, timeout=2)
    late_id = mfs.submit_one(late, "-p", "remux-mp4")
    mfs.burst("--verbose")
    mfs("s3", "sync")
    mfs("doctor")
    failing = mfs.database_dump()
    mfs.use_s3(bucket, endpoint)
    mfs.ok("s3", "sync", "--retry-failed", "--json")
    mfs.ok("status", late_id)
    mfs.ok("status", late_id, "--json")
    mfs.ok("config", "show")

    everything = "\n".join(mfs.transcript)
    assert "uploaded" in everything and "cannot reach" in everything  # both paths were taken
    assert ACCESS_KEY in everything  # the links name the access key ID, as they must
    assert SECRET not in everything
    dump = mfs.database_dump()
    assert "cannot reach" in failing and "X-Amz-Signature" in dump
    assert SECRET not in failing and SECRET not in dump
    for path in mfs.data.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert keys(s3, bucket) == {"processed/clip.remux.mp4", "processed/late.remux.mp4"}


# -- notifications ------------------------------------------------------------------------------


def test_the_job_notification_waits_for_the_upload_and_carries_the_link(
    mfs: S3Mediaforge,
    s3: Any,
    bucket: str,
    endpoint: str,
    webhook: Webhook,
    make_media: Callable[..., Path],
) -> None:
    notify = {"targets": [{"url": webhook.url()}], "window": 0}
    mfs.use_s3(bucket, endpoint, extra=f"notify: {json.dumps(notify)}\n")
    job_id = mfs.submit_one(make_media("clip.mp4"), "-p", "remux-mp4")

    mfs.burst("--verbose")

    job = mfs.status(job_id)
    [upload] = job["uploads"]
    assert upload["status"] == "uploaded"
    [post] = webhook.posts
    assert post["title"] == "mediaforge: clip.mp4 succeeded"
    assert f"1 file(s) uploaded to s3://{bucket}" in post["message"]
    assert upload["link"] in post["message"]
    [note] = job["notifications"]
    assert (note["event"], note["status"]) == ("job_succeeded", "sent")
