"""The files a job owes to S3, recorded as upload rows inside the caller's
transaction (a job's finish, or a sync of a succeeded job that recorded none).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from mediaforge.jobs.tables import UploadRow


@dataclass(frozen=True)
class NewUpload:
    """A file of a job to upload to ``bucket/key`` (see storage/s3)."""

    kind: str
    path: str
    name: str
    bucket: str
    key: str
    size: int
    content_type: str
    shared: bool = False  # on shared storage: any host may upload it


def insert_uploads(job_id: int, items: Sequence[NewUpload], due_at: float) -> int:
    """Record files owed to S3 (inside the caller's transaction); a file already
    recorded for the job under the same key is left alone. Returns how many rows were new."""
    added = 0
    for item in items:
        if item.kind == "original" and _original_recorded(item):
            continue  # several jobs of one file: its original goes up once
        query = UploadRow.insert(
            job_id=job_id,
            **dataclasses.asdict(item),
            host=socket.gethostname(),  # local files: only this host's workers upload them
            due_at=due_at,
            created_at=due_at,
            updated_at=due_at,
        ).on_conflict_ignore()
        added += max(0, UploadRow._meta.database.execute(query).rowcount)
    return added


def _original_recorded(item: NewUpload) -> bool:
    """Whether this original (same file, size and key) is already owed to or in
    S3 through another job; a failed upload of it does not count."""
    return bool(
        UploadRow.select()
        .where(
            (UploadRow.kind == "original")
            & (UploadRow.path == item.path)
            & (UploadRow.key == item.key)
            & (UploadRow.bucket == item.bucket)
            & (UploadRow.size == item.size)
            & (UploadRow.status != "failed")
        )
        .exists()
    )
