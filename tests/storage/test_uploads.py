"""The rules of S3 sync, in-process: what goes where, what gets a link, when a
local copy may go, and what happens to a file another machine wrote.

Uploads go to a real S3-compatible server (moto's, on 127.0.0.1); jobs live in
a real SQLite job database in tmp_path. The end-to-end behaviour through the
CLI and real workers is in test_s3.py.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mediaforge.config.schema import Config, NotifyTarget, WatchRule
from mediaforge.jobs.model import JobStatus, NewJob, Output
from mediaforge.jobs.store import JobStore
from mediaforge.jobs.tables import NotificationRow, UploadRow
from mediaforge.notify.delivery import Notifier
from mediaforge.notify.store import NotificationStore
from mediaforge.queue.backend import JobQueue
from mediaforge.queue.pipeline import run_job
from mediaforge.storage.s3.client import MiB, S3Client, content_type_for, expected_etag
from mediaforge.storage.s3.plan import planned_uploads
from mediaforge.storage.s3.rows import UploadKind, UploadStatus, UploadStore
from mediaforge.storage.s3.uploader import Uploader
from mediaforge.watch.watcher import Watcher
from tests.mfcli import Mediaforge

MakeMedia = Callable[..., Path]

BUCKET = "media-rules"
SECRET = "rules-secret-Kq7"


@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    """Test credentials for boto3 in this process, for this module only (later
    tests build their own environment); no profile or key of the machine's."""
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="AKIARULES",
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def endpoint(aws_env: None) -> Iterator[str]:
    """A local S3-compatible server, with a bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def make_config(mf: Mediaforge, endpoint: str | None = "http://127.0.0.1:9", **s3: Any) -> Config:
    """The test installation's config, with these ``s3`` settings (YAML values, as written)."""
    settings = {"bucket": BUCKET, "endpoint_url": endpoint, **s3}
    lines = "".join(f"  {k}: {v}\n" for k, v in settings.items() if v is not None)
    mf.configure(f"s3:\n{lines}")
    return mf.load_config()


def write(path: Path, size: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.sha256(f"{seed}".encode()).digest() * 32  # 1 KiB
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def output(path: Path, kind: str = "video") -> Output:
    size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return Output(path=str(path), kind=kind, size=size)


def succeeded_job(store: JobStore, config: Config, input_path: str, outputs: list[Output]) -> int:
    """A job that ran and succeeded, with the uploads it owes, as the pipeline records them."""
    [job_id] = store.create([NewJob(input_path=input_path, preset="h264-720p")])
    assert store.claim(job_id, "w") is not None
    uploads = planned_uploads(config, input_path, outputs)
    assert store.finish(job_id, "w", JobStatus.SUCCEEDED, outputs=outputs, uploads=uploads)
    return job_id


def test_outputs_go_under_processed_and_an_hls_folder_keeps_its_layout(
    mf: Mediaforge, tmp_path: Path
) -> None:
    config = make_config(mf, processed_prefix="library/processed/")
    mp4 = write(tmp_path / "out" / "clip.720p.mp4", 100)
    hls = tmp_path / "out" / "clip.hls"
    for name in ("master.m3u8", "720p/index.m3u8", "720p/seg_00000.ts"):
        write(hls / name, 10)

    items = planned_uploads(config, str(tmp_path / "clip.mov"), [output(mp4), output(hls, "hls")])

    assert {i.key: (i.kind, i.name, i.content_type) for i in items} == {
        "library/processed/clip.720p.mp4": ("output", "clip.720p.mp4", "video/mp4"),
        "library/processed/clip.hls/master.m3u8": (
            "output",
            "clip.hls/master.m3u8",
            "application/vnd.apple.mpegurl",
        ),
        "library/processed/clip.hls/720p/index.m3u8": (
            "output",
            "clip.hls/720p/index.m3u8",
            "application/vnd.apple.mpegurl",
        ),
        "library/processed/clip.hls/720p/seg_00000.ts": (
            "output",
            "clip.hls/720p/seg_00000.ts",
            "video/mp2t",
        ),
    }


@pytest.mark.parametrize(
    ("upload", "kinds"),
    [("outputs", ["output"]), ("originals", ["original"]), ("both", ["output", "original"])],
)
def test_what_is_uploaded_follows_s3_upload(
    mf: Mediaforge, tmp_path: Path, upload: str, kinds: list[str]
) -> None:
    config = make_config(mf, upload=upload, raw_prefix="raw")
    original = write(tmp_path / "in" / "my clip.mov", 50)
    mp4 = write(tmp_path / "out" / "my clip.mp4", 40)

    items = planned_uploads(config, str(original), [output(mp4)])

    assert [i.kind for i in items] == kinds
    if "original" in kinds:
        assert items[-1].key == "raw/my clip.mov"


def test_nothing_is_owed_while_s3_is_off_except_for_an_s3_input(
    mf: Mediaforge, tmp_path: Path
) -> None:
    config = make_config(mf, bucket=None, endpoint=None)
    mp4 = write(tmp_path / "clip.mp4", 40)

    assert planned_uploads(config, str(tmp_path / "clip.mov"), [output(mp4)]) == []
    [item] = planned_uploads(config, "s3://incoming/videos/clip.mov", [output(mp4)])
    # Results of an s3:// input go back to the input's bucket when s3.bucket is unset.
    assert (item.bucket, item.key) == ("incoming", "processed/clip.mp4")


def test_an_s3_input_is_never_uploaded_again_as_an_original(mf: Mediaforge, tmp_path: Path) -> None:
    config = make_config(mf, upload="both")
    mp4 = write(tmp_path / "clip.mp4", 40)

    items = planned_uploads(config, f"s3://{BUCKET}/raw/clip.mov", [output(mp4)])

    assert [i.kind for i in items] == ["output"]


def test_content_types_cover_the_media_mediaforge_writes() -> None:
    assert content_type_for(Path("a.M3U8")) == "application/vnd.apple.mpegurl"
    assert content_type_for(Path("a.ts")) == "video/mp2t"
    assert content_type_for(Path("a.webm")) == "video/webm"
    assert content_type_for(Path("a.opus")) == "audio/ogg"
    assert content_type_for(Path("a.jpg")) == "image/jpeg"
    assert content_type_for(Path("a.unknown-ext")) == "application/octet-stream"


@pytest.mark.parametrize("size", [0, 1, 5 * MiB - 1, 5 * MiB, 11 * MiB + 7])
def test_expected_etag_is_what_the_store_reports(
    mf: Mediaforge, tmp_path: Path, endpoint: str, size: int
) -> None:
    config = make_config(mf, endpoint, multipart_threshold_mb=5, part_size_mb=5)
    client = S3Client(config.s3)
    path = write(tmp_path / "f.bin", size, seed=size)
    key = f"etag/{size}"

    client.upload(path, BUCKET, key, content_type="application/octet-stream", metadata={})
    stored = client.head(BUCKET, key)

    assert stored is not None
    expected = expected_etag(path, threshold=client.threshold, part_size=client.part_size)
    assert stored.etag == expected
    assert ("-" in expected) == (size >= 5 * MiB)


def test_links_are_made_for_output_files_and_hls_master_playlists_only(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint, upload="both", processed_prefix="links/")
    store = JobStore.open(config)
    original = write(tmp_path / "in" / "clip.mov", 30)
    mp4 = write(tmp_path / "out" / "clip.mp4", 20)
    hls = tmp_path / "out" / "clip.hls"
    for name in ("master.m3u8", "480p/index.m3u8", "480p/seg_00000.ts"):
        write(hls / name, 10)
    job_id = succeeded_job(store, config, str(original), [output(mp4), output(hls, "hls")])

    result = Uploader(config, store).upload_job(job_id, "test")

    assert result.settled and not result.failed
    linked = {u.name for u in UploadStore(store).for_job(job_id) if u.url}
    assert linked == {"clip.mp4", "clip.hls/master.m3u8"}


def test_a_file_written_on_another_machine_is_handed_back_not_failed(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint)
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    # As if the job had run on another machine whose disk this worker cannot see.
    UploadRow.update(host="elsewhere.example", path="/not/mounted/here/clip.mp4").execute()

    result = Uploader(config, store).upload_job(job_id, "test")

    [row] = UploadStore(store).for_job(job_id)
    assert (row.status, row.attempts) == (UploadStatus.PENDING, 0)
    assert not result.failed and not result.settled
    # Not queued again from here: that host's own sweep does it.
    assert result.retry_in is None


def test_a_file_on_another_hosts_disk_is_left_to_that_host_even_if_a_file_is_here(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint)
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    # Written on another host whose local disk has a file at the same path:
    # this host's file is another file, and must not be uploaded in its place.
    UploadRow.update(host="elsewhere.example").execute()

    result = Uploader(config, store).upload_job(job_id, "test")

    [row] = UploadStore(store).for_job(job_id)
    assert (row.status, row.attempts, row.error) == (UploadStatus.PENDING, 0, None)
    assert result.retry_in is None and not result.uploaded and not result.settled
    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET)
    assert row.key not in [o["Key"] for o in listed.get("Contents", [])]
    assert UploadStore(store).due_job_ids(time.time(), host=socket.gethostname()) == []
    assert UploadStore(store).due_job_ids(time.time(), host="elsewhere.example") == [job_id]


def test_a_file_on_shared_storage_is_recorded_canonical_and_any_host_uploads_it(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    nas = tmp_path / "nas"
    mapping = f'paths: [{{"canonical": "/shared/media", "local": "{nas}"}}]\n'
    mf.configure(f"s3:\n  bucket: {BUCKET}\n  endpoint_url: {endpoint}\n{mapping}")
    config = mf.load_config()
    store = JobStore.open(config)
    write(nas / "shared-clip.mp4", 20, seed=7)
    canonical = Output(path="/shared/media/shared-clip.mp4", kind="video", size=20)
    job_id = succeeded_job(store, config, "/shared/media/shared-clip.mov", [canonical])
    UploadRow.update(host="elsewhere.example").execute()  # the job ran on another host

    result = Uploader(config, store).upload_job(job_id, "test")

    [row] = UploadStore(store).for_job(job_id)
    assert (row.path, row.shared, row.status) == (
        "/shared/media/shared-clip.mp4", True, UploadStatus.UPLOADED,
    )  # fmt: skip
    assert result.settled
    body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=BUCKET, Key=row.key)
    assert body["Body"].read() == (nas / "shared-clip.mp4").read_bytes()


def test_a_share_mounted_at_the_same_path_everywhere_is_shared_by_an_identity_mapping(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    nas = tmp_path / "nas"  # mounted here, as on every host: canonical is local
    mapping = f'paths: [{{"canonical": "{nas}", "local": "{nas}"}}]\n'
    mf.configure(f"s3:\n  bucket: {BUCKET}\n  endpoint_url: {endpoint}\n{mapping}")
    config = mf.load_config()
    store = JobStore.open(config)
    # Its own name: the bucket is shared by the tests of this file.
    mp4 = write(nas / "same-path-clip.mp4", 20, seed=3)
    job_id = succeeded_job(store, config, str(nas / "same-path-clip.mov"), [output(mp4)])
    UploadRow.update(host="retired.example").execute()  # its host is gone for good

    result = Uploader(config, store).upload_job(job_id, "test")

    [row] = UploadStore(store).for_job(job_id)
    assert (row.path, row.shared, row.status) == (str(mp4), True, UploadStatus.UPLOADED)
    assert result.settled


def test_a_file_gone_from_this_machine_fails_at_once_with_its_path(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint)
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    mp4.unlink()

    result = Uploader(config, store).upload_job(job_id, "test")

    [row] = result.failed
    assert row.host == socket.gethostname()
    assert row.error == f"{mp4} is gone; nothing to upload"
    assert result.settled


def test_an_original_is_deleted_only_when_every_job_of_it_succeeded(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(
        mf, endpoint, upload="both", delete_local="true", raw_prefix="raw-delete/"
    )
    store = JobStore.open(config)
    original = write(tmp_path / "in" / "clip.mov", 30)
    # A second job of the same file that is still queued: the original must stay.
    [other] = store.create([NewJob(input_path=str(original), preset="aac-audio")])
    mp4 = write(tmp_path / "out" / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(original), [output(mp4)])

    first = Uploader(config, store).upload_job(job_id, "test")

    assert first.deleted == [str(mp4)]  # the outputs go together once all are verified
    assert original.exists()
    kept = {u.kind: u.local_deleted for u in UploadStore(store).for_job(job_id)}
    assert kept == {UploadKind.OUTPUT: True, UploadKind.ORIGINAL: False}

    # The other job fails: the original still stays (a retry needs it).
    assert store.fail_queued(other, "not needed")
    assert Uploader(config, store).upload_job(job_id, "test", everything=True).deleted == []
    assert original.exists()


def test_a_local_file_changed_after_its_upload_is_not_deleted(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint, delete_local="true", processed_prefix="changed/")
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    uploader = Uploader(config, store)
    real_uploaded = uploader._uploaded

    def then_change(*args: Any, **kwargs: Any) -> None:
        real_uploaded(*args, **kwargs)
        later = time.time() + 5
        write(mp4, 25, seed=1)
        os.utime(mp4, (later, later))

    uploader._uploaded = then_change  # type: ignore[method-assign]
    result = uploader.upload_job(job_id, "test")

    assert result.deleted == [] and mp4.exists()
    assert mp4.stat().st_size == 25


# -- watch folders and S3 ------------------------------------------------------------------


def watch_once(config: Config, store: JobStore, inbox: Path, **rule: Any) -> list[int]:
    """One ``watch --once`` pass over ``inbox`` with the aac-audio preset."""
    settings = {"path": inbox, "presets": ("aac-audio",), "settle_seconds": 0, **rule}
    watcher = Watcher(config, [WatchRule(**settings)], store, JobQueue(config))
    try:
        return watcher.run_once().submitted
    finally:
        watcher.close()


def test_a_watched_original_is_deleted_once_its_outputs_are_safe_in_s3(
    mf: Mediaforge, tmp_path: Path, endpoint: str, make_media: MakeMedia
) -> None:
    # delete_local removes the outputs after their verified upload; the watch
    # rule's on_success: delete must count them as in place, not as gone.
    config = make_config(mf, endpoint, delete_local="true", processed_prefix="watched/")
    store = JobStore.open(config)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    original = make_media("inbox/song.wav", video=False, acodec="pcm_s16le")
    [job_id] = watch_once(config, store, inbox, on_success="delete")
    assert run_job(store, config, job_id, "w").job is not None
    Uploader(config, store).upload_job(job_id, "test")
    [output_file] = store.get(job_id).outputs
    assert not Path(output_file.path).exists()
    watch_once(config, store, inbox, on_success="delete")

    assert not original.exists()


def test_a_watched_original_whose_upload_failed_stays_where_it_is(
    mf: Mediaforge, tmp_path: Path, make_media: MakeMedia, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on the endpoint: the original's only upload attempt fails.
    config = make_config(mf, upload="both", max_attempts=1, timeout=2)
    store = JobStore.open(config)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    original = make_media("inbox/song.wav", video=False, acodec="pcm_s16le")
    [job_id] = watch_once(config, store, inbox, on_success="move")
    run_job(store, config, job_id, "w")
    Uploader(config, store).upload_job(job_id, "test")
    assert {u.status for u in UploadStore(store).for_job(job_id)} == {UploadStatus.FAILED}

    with caplog.at_level(logging.WARNING, logger="mediaforge"):
        watch_once(config, store, inbox, on_success="move")

    assert original.exists()
    assert f"kept {original}: its upload to S3 failed" in caplog.text


def test_a_single_put_carries_the_files_md5_for_the_store_to_check(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    # S3 and MinIO refuse a PUT whose bytes do not match its Content-MD5
    # (BadDigest); moto's server does not check it, so what is proven here is
    # that the header goes out with the file's MD5 and the ETag comes back.
    config = make_config(mf, endpoint)
    client = S3Client(config.s3)
    path = write(tmp_path / "f.bin", 4096)
    md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False)
    sent: list[bytes] = []
    client.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(request.headers["Content-MD5"])
    )

    etag = client.upload(path, BUCKET, "md5/ok", content_type="x", metadata={}, md5=md5.hexdigest())

    assert etag == md5.hexdigest()
    assert sent == [base64.b64encode(md5.digest())]


# -- review findings: shared originals, stores that do not answer, odd failures ------------


def test_an_original_of_several_jobs_is_uploaded_once_and_deleted_after_the_last(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(
        mf, endpoint, upload="both", delete_local="true", raw_prefix="raw-shared/"
    )
    store = JobStore.open(config)
    original = write(tmp_path / "in" / "talk.mov", 30)
    first = succeeded_job(store, config, str(original), [output(write(tmp_path / "a.mp4", 20))])
    [second] = store.create([NewJob(input_path=str(original), preset="aac-audio")])
    uploader = Uploader(config, store)

    uploader.upload_job(first, "test")
    assert original.exists()  # the second job still needs it
    assert store.claim(second, "w") is not None
    m4a = output(write(tmp_path / "a.m4a", 10))
    uploads = planned_uploads(config, str(original), [m4a])
    assert store.finish(second, "w", JobStatus.SUCCEEDED, outputs=[m4a], uploads=uploads)
    result = uploader.upload_job(second, "test")

    originals = [u for j in (first, second) for u in UploadStore(store).for_job(j)]
    originals = [u for u in originals if u.kind is UploadKind.ORIGINAL]
    assert [(u.job_id, u.status) for u in originals] == [(first, UploadStatus.UPLOADED)]
    assert str(original) in result.deleted and not original.exists()
    assert not UploadStore(store).failed()


@pytest.fixture
def silent_endpoint(aws_env: None) -> Iterator[str]:
    """A store that accepts connections and never answers (a hung NAS gateway)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def fast_worker(config: Config) -> Config:
    """The same config with heartbeats every 0.2 s and stale after 1 s."""
    worker = dataclasses.replace(config.worker, heartbeat_interval=0.2, stale_after=1.0)
    return dataclasses.replace(config, worker=worker)


def test_a_download_that_waits_on_a_silent_store_keeps_its_job(
    mf: Mediaforge, tmp_path: Path, silent_endpoint: str
) -> None:
    # Each request may wait s3.timeout (1 s) three times: far longer than
    # stale_after (1 s). The job's heartbeats must go on all the same.
    config = fast_worker(make_config(mf, silent_endpoint, timeout=1))
    store = JobStore.open(config)
    [job_id] = store.create([NewJob(input_path=f"s3://{BUCKET}/in/clip.mp4", preset="aac-audio")])
    taken: list[int] = []
    done = threading.Event()

    def sweep() -> None:
        while not done.wait(0.3):
            requeued, failed = store.recover(config.worker.stale_after)
            taken.extend(requeued + failed)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        outcome = run_job(store, config, job_id, f"{socket.gethostname()}:1/w")
    finally:
        done.set()
        sweeper.join()

    assert taken == []
    assert outcome.job is not None and outcome.retry_in is not None  # a storage error: retried
    assert "cannot reach" in (outcome.job.error or "")


def test_uploads_that_wait_on_a_silent_store_keep_their_claims(
    mf: Mediaforge, tmp_path: Path, silent_endpoint: str
) -> None:
    config = fast_worker(make_config(mf, silent_endpoint, timeout=1))
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    table = UploadStore(store)
    released: list[int] = []
    done = threading.Event()

    def sweep() -> None:
        while not done.wait(0.3):
            released.extend(table.release_stale(time.time() - config.worker.stale_after))

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        result = Uploader(config, store).upload_job(job_id, "test")
    finally:
        done.set()
        sweeper.join()

    assert released == []
    [row] = table.for_job(job_id)
    assert (row.status, row.attempts) == (UploadStatus.PENDING, 1)
    assert [u.id for u in result.retrying] == [row.id]


def test_a_local_copy_that_cannot_be_deleted_is_kept_and_the_round_ends_well(
    mf: Mediaforge, tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only share refuses the unlink. Permissions cannot make a file
    # undeletable for root (these tests may run as root), so unlink is made to
    # fail the way such a share makes it fail.
    config = make_config(mf, endpoint, delete_local="true", processed_prefix="ro/")
    store = JobStore.open(config)
    mp4 = write(tmp_path / "clip.mp4", 20)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    real_unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self == mp4:
            raise PermissionError(30, "Read-only file system")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    result = Uploader(config, store).upload_job(job_id, "test")

    assert result.settled and result.deleted == [] and mp4.exists()
    [row] = UploadStore(store).for_job(job_id)
    assert row.status is UploadStatus.UPLOADED and not row.local_deleted


def test_a_batch_job_whose_upload_settles_after_the_digest_is_not_reported_again(
    mf: Mediaforge, tmp_path: Path, endpoint: str
) -> None:
    config = make_config(mf, endpoint, processed_prefix="batch/")
    notify = dataclasses.replace(
        config.notify, targets=(NotifyTarget(url="json://127.0.0.1:9/hook"),)
    )
    config = dataclasses.replace(config, notify=notify)
    store = JobStore.open(config)
    notifier = Notifier(config, store)
    jobs = store.create(
        [
            NewJob(input_path=str(tmp_path / f"{n}.mov"), preset="h264-720p", batch="b1")
            for n in "ab"
        ]
    )
    for job_id, name in zip(jobs, "ab", strict=True):
        out = output(write(tmp_path / f"{name}.mp4", 20, seed=ord(name)))
        assert store.claim(job_id, "w") is not None
        uploads = planned_uploads(config, str(tmp_path / f"{name}.mov"), [out])
        store.finish(job_id, "w", JobStatus.SUCCEEDED, outputs=[out], uploads=uploads)
    # b's upload fails for good: the key holds another file.
    other = write(tmp_path / "other.bin", 5)
    S3Client(config.s3).upload(other, BUCKET, "batch/b.mp4", content_type="x", metadata={})
    uploader = Uploader(config, store)
    for job_id in jobs:
        uploader.upload_job(job_id, "test")
        assert notifier.job_ended(store.get(job_id)) is None or job_id == jobs[-1]
    [digest] = [n for n in NotificationStore(store).for_job(store.get(jobs[0])) if n.job_id is None]
    assert digest.event == "batch_finished"
    NotificationRow.update(status="sent").execute()  # as if it had gone out

    # The blocking object goes; the failed upload is retried and settles again.
    boto3.client("s3", endpoint_url=endpoint).delete_object(Bucket=BUCKET, Key="batch/b.mp4")
    UploadStore(store).retry_failed()
    assert uploader.upload_job(jobs[1], "test", everything=True).settled

    assert notifier.job_ended(store.get(jobs[1])) is None
    assert NotificationRow.select().count() == 1


def test_an_s3_input_a_worker_cannot_reach_with_its_settings_fails_with_one_line(
    mf: Mediaforge, tmp_path: Path, aws_env: None
) -> None:
    config = make_config(mf, endpoint=None, bucket=None, profile="no-such-profile")
    store = JobStore.open(config)
    [job_id] = store.create([NewJob(input_path="s3://incoming/clip.mp4", preset="aac-audio")])

    outcome = run_job(store, config, job_id, "w")

    assert outcome.job is not None and outcome.job.status is JobStatus.FAILED
    assert outcome.job.error is not None and outcome.job.error.startswith("s3.profile:")


def test_sync_judges_upload_claims_on_the_database_clock(
    mf: Mediaforge, tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machine has one clock: a job database whose clock is 1000 s behind
    # this host's is had by moving the one function that reads it (as a
    # PostgreSQL server with a wrong clock would).
    def behind(db: object) -> float:
        return time.time() - 1000

    monkeypatch.setattr("mediaforge.jobs.store.database_time", behind)
    monkeypatch.setattr("mediaforge.storage.s3.rows.database_time", behind)
    config = make_config(mf, endpoint)
    store = JobStore.open(config)
    mp4 = write(tmp_path / "out" / "clip.mp4", 100)
    job_id = succeeded_job(store, config, str(tmp_path / "clip.mov"), [output(mp4)])
    table = UploadStore(store)
    [claimed] = table.claim(job_id, "alive-sender", everything=True)  # just now, by the database

    Uploader(config, store).sync("another")

    row = UploadRow.get_by_id(claimed.id)
    # Not taken from the live sender: its claim is seconds old on the database's clock.
    assert (row.status, row.claimed_by) == (UploadStatus.UPLOADING.value, "alive-sender")
    store.close()
