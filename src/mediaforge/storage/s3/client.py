"""The S3 backend: the few calls mediaforge makes to S3 or an S3-compatible store.

boto3 is an optional dependency (the ``s3`` extra) and is imported here only,
when a client is first made. Credentials come from boto3's own chain
(environment, ``s3.profile`` or the shared files, an instance role) and are
never passed through mediaforge: every error that leaves this module is one
line with the credentials masked.

Integrity: botocore sends a CRC32 checksum with every request, which the
store checks; after an upload, the object's size and ETag are compared with
the local file (the ETag of an unencrypted upload is the MD5 of the file, or
of its parts' MD5s for a multipart upload, which we recompute with the same
part size).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaforge.config.schema import S3Config
from mediaforge.errors import ConfigError, InputError, StorageError
from mediaforge.redact import redact_text

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "S3 sync needs boto3, which is not installed; install mediaforge with the s3 extra: "
    "pipx install 'mediaforge-transcode[s3]' (or: pipx inject mediaforge-transcode boto3)"
)
ORIGIN_KEY = "mediaforge-origin"  # user metadata: which local file an object came from
JOB_KEY = "mediaforge-job"

# Types a browser or player needs to be told: Python's table lacks or
# misnames several media types (HLS above all).
_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".aac": "audio/aac",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
_MD5_ETAG = re.compile(r"[0-9a-f]{32}(-[0-9]+)?")
MiB = 1024 * 1024
ProgressCallback = Callable[[int], None]


class S3Error(StorageError):
    """Talking to the store failed (unreachable, refused, verification failed).

    Transient as far as mediaforge can tell: uploads are retried with backoff,
    and a download makes its job retry like any storage problem. ``status`` is
    the HTTP status of a refused request.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def content_type_for(path: Path) -> str:
    """The Content-Type to store ``path`` with."""
    known = _CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def is_s3_url(text: str) -> bool:
    return text.startswith("s3://")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key``; InputError when it names no object."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise InputError(f"{url} does not name an object; write s3://BUCKET/KEY")
    return bucket, key


def object_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


@dataclass(frozen=True)
class RemoteObject:
    """What a HEAD request says about one object. ``etag`` has no quotes."""

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str | None = None
    last_modified: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def part_size_for(size: int, part_size: int) -> int:
    """The part size boto3 uses for a file of ``size`` bytes: ``part_size``,
    doubled until the file fits in S3's 10,000 parts."""
    while size > part_size * 10_000:
        part_size *= 2
    return part_size


def expected_etag(
    path: Path, *, threshold: int, part_size: int, progress: ProgressCallback | None = None
) -> str:
    """The ETag S3 gives ``path`` uploaded with these settings (no encryption):
    the file's MD5, or for a multipart upload the MD5 of its parts' MD5s and
    ``-N``. ``progress`` is called with each MiB read."""
    size = path.stat().st_size
    if size < threshold:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(MiB), b""):
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
        return digest.hexdigest()
    chunk_size = part_size_for(size, part_size)
    parts = []
    with path.open("rb") as fh:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            left = chunk_size
            while left:
                data = fh.read(min(MiB, left))
                if not data:
                    break
                part.update(data)
                left -= len(data)
                if progress is not None:
                    progress(len(data))
            if left == chunk_size:
                break
            parts.append(part.digest())
    return f"{hashlib.md5(b''.join(parts), usedforsecurity=False).hexdigest()}-{len(parts)}"


def etag_is_md5(etag: str) -> bool:
    """Whether an ETag is an MD5 we can recompute (not SSE-KMS or SSE-C, which
    give opaque ETags)."""
    return bool(_MD5_ETAG.fullmatch(etag))


class S3Client:
    """A boto3 S3 client made from ``S3Config``, with errors made readable.

    Raises ConfigError when boto3 is missing or the profile does not exist.
    """

    def __init__(self, settings: S3Config) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
            from boto3.s3.transfer import TransferConfig
        except ImportError:
            raise ConfigError(INSTALL_HINT) from None
        self.settings = settings
        self._boto = botocore.exceptions
        try:
            self.session = boto3.session.Session(
                profile_name=settings.profile, region_name=settings.region
            )
        except botocore.exceptions.ProfileNotFound:
            raise ConfigError(
                f"s3.profile: there is no AWS profile named {settings.profile!r}; "
                "see 'aws configure list-profiles'"
            ) from None
        try:
            self.client = self.session.client(
                "s3",
                endpoint_url=settings.endpoint_url,
                config=botocore.config.Config(
                    signature_version="s3v4",
                    connect_timeout=settings.timeout,
                    read_timeout=settings.timeout,
                    retries={"mode": "standard", "max_attempts": 3},
                    # Most S3-compatible stores (MinIO, Ceph) want bucket names in the path.
                    s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
                ),
            )
        except botocore.exceptions.InvalidRegionError:
            raise ConfigError(
                f"s3.region: {settings.region!r} is not a region name, e.g. eu-west-1"
            ) from None
        except ValueError as exc:  # botocore's word for an endpoint it cannot use
            raise ConfigError(f"s3.endpoint_url: {exc}; e.g. http://nas:9000") from None
        self.threshold = settings.multipart_threshold_mb * MiB
        self.part_size = settings.part_size_mb * MiB
        self.transfer = TransferConfig(
            multipart_threshold=self.threshold,
            multipart_chunksize=self.part_size,
            max_concurrency=settings.concurrency,
            use_threads=True,
        )
        self.where = settings.endpoint_url or "S3"

    # -- errors --------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        try:
            creds = self.session.get_credentials()
        except self._boto.BotoCoreError:
            return []
        if creds is None:
            return []
        return [s for s in (creds.access_key, creds.secret_key, creds.token) if s]

    def error(self, exc: BaseException, what: str) -> S3Error:
        """One readable line for a boto3 error, credentials masked."""
        boto = self._boto
        if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
            text = (
                "no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "s3.profile, or an instance role (see docs/s3.md)"
            )
        elif isinstance(
            exc,
            boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ReadTimeoutError,
        ):
            text = f"cannot reach {self.where}: {type(exc).__name__}"
        elif isinstance(exc, boto.ClientError):
            text = _client_error_text(exc)
        else:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, boto.ClientError):
                text = _client_error_text(cause)
            else:
                text = f"{type(exc).__name__}: {exc}"
        text = " ".join(redact_text(f"{what}: {text}", self._secrets()).split())
        return S3Error(text, _status(exc) if isinstance(exc, boto.ClientError) else None)

    def _catch(self) -> tuple[type[BaseException], ...]:
        import boto3.exceptions

        return (self._boto.BotoCoreError, self._boto.ClientError, boto3.exceptions.Boto3Error)

    # -- calls ---------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> RemoteObject | None:
        """The object at ``bucket/key``, None when there is none."""
        try:
            reply = self.client.head_object(Bucket=bucket, Key=key)
        except self._boto.ClientError as exc:
            if _status(exc) == 404:
                return None
            raise self.error(exc, object_url(bucket, key)) from None
        except self._boto.BotoCoreError as exc:
            raise self.error(exc, object_url(bucket, key)) from None
        modified = reply.get("LastModified")
        return RemoteObject(
            bucket=bucket,
            key=key,
            size=int(reply["ContentLength"]),
            etag=str(reply.get("ETag", "")).strip('"'),
            content_type=reply.get("ContentType"),
            last_modified=modified.timestamp() if modified is not None else None,
            metadata=dict(reply.get("Metadata") or {}),
        )

    def head_input(self, bucket: str, key: str) -> RemoteObject:
        """The object to be read as an input; InputError when it is not there
        or these credentials may not read it (no retry can fix either)."""
        url = object_url(bucket, key)
        try:
            remote = self.head(bucket, key)
        except S3Error as exc:
            if exc.status == 403:
                raise InputError(str(exc)) from None
            raise
        if remote is None:
            raise InputError(f"{url}: no such object; check the bucket and key")
        return remote

    def upload(
        self,
        path: Path,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
        md5: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> str | None:
        """Upload ``path``: multipart with parallel parts from the threshold on
        (a failed multipart upload is aborted, so no orphaned parts are
        billed), else one PUT. Given the file's ``md5`` (hex), a PUT carries it
        as Content-MD5, which the store checks against what it received;
        then the ETag it answers is returned. None: ask the store (HEAD)."""
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": metadata}
        if self.settings.storage_class:
            extra["StorageClass"] = self.settings.storage_class
        where = f"uploading {path} to {object_url(bucket, key)}"
        try:
            if md5 is not None and path.stat().st_size < self.threshold:
                digest = base64.b64encode(bytes.fromhex(md5)).decode()
                with _Reading(path, progress) as body:
                    reply = self.client.put_object(
                        Bucket=bucket, Key=key, Body=body, ContentMD5=digest, **extra
                    )
                return str(reply.get("ETag", "")).strip('"') or None
            self.client.upload_file(
                str(path), bucket, key, ExtraArgs=extra, Config=self.transfer, Callback=progress
            )
        except self._catch() as exc:
            raise self.error(exc, where) from None
        except OSError as exc:
            raise S3Error(f"{where}: {exc.strerror}") from None
        return None

    def download(
        self,
        remote: RemoteObject,
        dest: Path,
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Stream the object ``remote`` (from ``head_input``) into ``dest`` and
        check it arrived whole: its size, and its MD5 when the ETag is one.
        InputError when there is no such object (or no right to read it)."""
        bucket, key = remote.bucket, remote.key
        url = object_url(bucket, key)
        try:
            self.client.download_file(
                bucket, key, str(dest), Config=self.transfer, Callback=progress
            )
        except self._boto.ClientError as exc:
            if _status(exc) in (403, 404):
                raise InputError(f"{url}: {_client_error_text(exc)}") from None
            raise self.error(exc, f"downloading {url}") from None
        except self._catch() as exc:
            raise self.error(exc, f"downloading {url}") from None
        got = dest.stat().st_size
        if got != remote.size:
            raise S3Error(f"downloading {url}: got {got} bytes of {remote.size}; will try again")
        if etag_is_md5(remote.etag) and "-" not in remote.etag:
            actual = expected_etag(dest, threshold=got + 1, part_size=self.part_size)
            if actual != remote.etag:
                raise S3Error(f"downloading {url}: the MD5 does not match; will try again")

    def presign(self, bucket: str, key: str, expires: int) -> str:
        """A link that downloads ``bucket/key`` for ``expires`` seconds. Signed
        locally: no request is made."""
        try:
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
                )
            )
        except self._catch() as exc:
            raise self.error(exc, f"signing a link to {object_url(bucket, key)}") from None

    def check_bucket(self, bucket: str) -> None:
        """Raise S3Error unless ``bucket`` exists and these credentials reach it."""
        try:
            self.client.head_bucket(Bucket=bucket)
        except self._catch() as exc:
            if isinstance(exc, self._boto.ClientError) and _status(exc) == 404:
                raise S3Error(f"bucket {bucket!r} does not exist at {self.where}") from None
            raise self.error(exc, f"bucket {bucket!r}") from None


class _Reading(io.FileIO):
    """A file opened for a PUT that reports the bytes botocore reads from it
    (the upload's progress; a stop request raised from ``progress`` aborts it)."""

    def __init__(self, path: Path, progress: ProgressCallback | None) -> None:
        super().__init__(path, "rb")
        self._progress = progress

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if data and self._progress is not None:
            self._progress(len(data))
        return data or b""


def _status(exc: Any) -> int | None:
    meta = exc.response.get("ResponseMetadata", {}) if hasattr(exc, "response") else {}
    status = meta.get("HTTPStatusCode")
    return int(status) if status is not None else None


def _client_error_text(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or _status(exc) or "error")
    hints = {
        "NoSuchBucket": "the bucket does not exist",
        "AccessDenied": "access denied; check the credentials' permissions for this bucket",
        "403": "access denied; check the credentials' permissions for this bucket",
        "404": "not found",
        "InvalidAccessKeyId": "the access key is not known to this store",
        "SignatureDoesNotMatch": "the secret key does not match the access key",
        "InvalidStorageClass": "this store does not offer s3.storage_class",
    }
    message = hints.get(code) or str(error.get("Message") or "request refused")
    return f"{code}: {message}" if code not in message else message
