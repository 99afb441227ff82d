"""What a job owes to S3: which of its files go to which bucket and key.

Where things go: outputs to ``processed_prefix`` + the output's name (an HLS
folder keeps its layout), originals to ``raw_prefix`` + the input's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.jobs.model import Output
from mediaforge.jobs.upload_rows import NewUpload
from mediaforge.storage.paths import PathMap
from mediaforge.storage.s3.client import content_type_for, is_s3_url, parse_s3_url
from mediaforge.storage.s3.rows import UploadKind


def upload_bucket(config: Config, input_path: str) -> str | None:
    """The bucket a job's files go to: ``s3.bucket``, else an s3:// input's own
    bucket; None when the job owes nothing to S3."""
    if config.s3.bucket is not None:
        return config.s3.bucket
    if is_s3_url(input_path):
        return parse_s3_url(input_path)[0]
    return None


def _key(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix.strip("/") else name


def _files_of(path: Path) -> Iterable[tuple[Path, str]]:
    """``(file, name in the store)`` of an output; an HLS folder gives every file in it."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield file, f"{path.name}/{file.relative_to(path).as_posix()}"
    else:
        yield path, path.name


def planned_uploads(config: Config, input_path: str, outputs: Sequence[Output]) -> list[NewUpload]:
    """The files a job that made ``outputs`` from ``input_path`` owes to S3
    (none when S3 is off). Files that are not there are left out.

    Paths are canonical (see storage/paths.py): the files are looked at where
    this host mounts them, and recorded in canonical form."""
    bucket = upload_bucket(config, input_path)
    if bucket is None:
        return []
    settings = config.s3
    paths = PathMap.of(config)
    items: list[NewUpload] = []

    def add(kind: UploadKind, path: Path, name: str, prefix: str) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        key = _key(prefix, name)
        canonical = paths.to_canonical(str(path))
        shared = paths.mapped(canonical) is not None  # on the NAS: any host can send it
        items.append(
            NewUpload(
                kind.value, canonical, name, bucket, key, size, content_type_for(path), shared
            )
        )

    if settings.upload in ("outputs", "both"):
        for output in outputs:
            for file, name in _files_of(Path(paths.to_local(output.path))):
                add(UploadKind.OUTPUT, file, name, settings.processed_prefix)
    if settings.upload in ("originals", "both") and not is_s3_url(input_path):
        original = Path(paths.to_local(input_path))
        add(UploadKind.ORIGINAL, original, original.name, settings.raw_prefix)
    return items
