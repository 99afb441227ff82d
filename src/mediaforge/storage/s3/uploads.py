"""The names of the S3 upload stage, from the modules that define them: rows
(the upload rows and their queries), plan (what a job owes where), report
(what uploading did) and uploader (uploading, retries, links, local copies).
"""

from __future__ import annotations

# Re-exported until importers are updated (layout change).
from mediaforge.storage.s3.plan import planned_uploads as planned_uploads
from mediaforge.storage.s3.report import SyncReport as SyncReport
from mediaforge.storage.s3.report import upload_summary as upload_summary
from mediaforge.storage.s3.rows import Upload as Upload
from mediaforge.storage.s3.rows import UploadKind as UploadKind
from mediaforge.storage.s3.rows import UploadStatus as UploadStatus
from mediaforge.storage.s3.rows import UploadStore as UploadStore
from mediaforge.storage.s3.uploader import Uploader as Uploader
from mediaforge.storage.s3.uploader import ensure_available as ensure_available
from mediaforge.storage.s3.uploader import sync_plan as sync_plan
