"""What uploading did: one round of a job's files (``Round``), one
``mediaforge s3 sync`` (``SyncReport``), and the one line about a job's uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mediaforge.storage.s3.rows import Upload, UploadStatus


@dataclass
class Round:
    """What one ``upload_job`` call did."""

    uploaded: list[Upload] = field(default_factory=list)
    already: list[Upload] = field(default_factory=list)  # the store had the same bytes
    retrying: list[Upload] = field(default_factory=list)
    failed: list[Upload] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # local copies removed
    retry_in: float | None = None  # the earliest next attempt this round scheduled
    settled: bool = False  # the job has nothing more to upload (for its notification)

    def add(self, other: Round) -> None:
        self.uploaded += other.uploaded
        self.already += other.already
        self.retrying += other.retrying
        self.failed += other.failed
        self.deleted += other.deleted


@dataclass
class SyncReport:
    """What ``mediaforge s3 sync`` did."""

    recorded: int = 0  # files of older jobs newly recorded as owed
    retried_failed: int = 0
    missing: list[str] = field(default_factory=list)  # outputs gone locally: not uploadable
    round: Round = field(default_factory=Round)
    still_failed: list[Upload] = field(default_factory=list)
    settled_jobs: list[int] = field(default_factory=list)  # nothing more to upload now
    # Still owed, not by this sync: uploading in a worker, or waiting for the
    # machine that has the file.
    in_flight: list[Upload] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """Whether nothing is left owed: nothing to retry, failed or in flight."""
        return not (self.round.retrying or self.still_failed or self.in_flight)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``mediaforge s3 sync --json``."""
        r = self.round
        return {
            "recorded": self.recorded,
            "retried_failed": self.retried_failed,
            "uploaded": [u.to_dict() for u in r.uploaded],
            "already_there": [u.to_dict() for u in r.already],
            "retrying": [u.to_dict() for u in r.retrying],
            "failed": [u.to_dict() for u in self.still_failed],
            "in_flight": [u.to_dict() for u in self.in_flight],
            "deleted_local": r.deleted,
            "missing_local": self.missing,
        }


def upload_summary(uploads: Sequence[Upload]) -> str:
    """One line about a job's uploads, for messages and ``status``."""
    if not uploads:
        return ""
    done = [u for u in uploads if u.status is UploadStatus.UPLOADED]
    failed = [u for u in uploads if u.status is UploadStatus.FAILED]
    where = f"s3://{uploads[0].bucket}"
    if len(done) == len(uploads):
        return f"{len(done)} file(s) uploaded to {where}"
    text = f"{len(done)} of {len(uploads)} file(s) uploaded to {where}"
    if failed:
        text += f"; {len(failed)} failed: {failed[0].error}"
    else:
        text += "; the rest is on its way"
    return text
