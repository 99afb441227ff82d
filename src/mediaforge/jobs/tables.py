"""The job database's tables: one peewee model per table, as the latest schema has it.

How a database is opened and migrated to this schema is in ``database.py``.
"""

from __future__ import annotations

import peewee

from mediaforge.jobs.model import JobSource, JobStatus


class BaseModel(peewee.Model):
    class Meta:
        legacy_table_names = False


class JobRow(BaseModel):
    """One job. Timestamps are Unix seconds (UTC)."""

    id = peewee.AutoField()
    input_path = peewee.TextField()
    input_size = peewee.BigIntegerField(null=True)
    input_mtime = peewee.DoubleField(null=True)
    input_hash = peewee.CharField(max_length=64, null=True)
    input_duration = peewee.DoubleField(null=True)
    # The submit-time probe (JSON) for the fingerprint above: the worker reuses it.
    input_probe = peewee.TextField(null=True)
    preset = peewee.CharField(max_length=200)
    output_dir = peewee.TextField(null=True)
    priority = peewee.IntegerField(default=0)
    status = peewee.CharField(max_length=16, default=JobStatus.QUEUED.value)
    progress = peewee.DoubleField(default=0.0)
    attempts = peewee.IntegerField(default=0)
    max_attempts = peewee.IntegerField(default=3)
    action = peewee.CharField(max_length=16, null=True)
    outputs = peewee.TextField(default="[]")
    # What the attempt now publishing is about to put in place (JSON; see
    # queue/publishing.py): a later attempt adopts or removes it after a crash.
    publishing = peewee.TextField(null=True)
    note = peewee.TextField(null=True)
    error = peewee.TextField(null=True)
    log_tail = peewee.TextField(null=True)
    worker = peewee.CharField(max_length=200, null=True)
    # Times workers that could not see its files gave it back (queue/pipeline.py).
    handbacks = peewee.IntegerField(default=0)
    # The hosts that refused it and the rounds it waited for one (JSON, queue/handover.py).
    refusals = peewee.TextField(null=True)
    # What the worker decided for the current attempt, by topic (JSON object of
    # one-line texts: the streams kept, HDR handling, the encoder, the size guard).
    decisions = peewee.TextField(null=True)
    heartbeat_at = peewee.DoubleField(null=True)
    retry_at = peewee.DoubleField(null=True)
    source = peewee.CharField(max_length=16, default=JobSource.CLI.value)
    batch = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DoubleField()
    started_at = peewee.DoubleField(null=True)
    finished_at = peewee.DoubleField(null=True)
    updated_at = peewee.DoubleField()

    class Meta:
        table_name = "job"


class MetaRow(BaseModel):
    """Key/value facts about the database itself (the schema version)."""

    key = peewee.CharField(max_length=64, primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "mediaforge_meta"


class ClaimedRow(BaseModel):
    """What a notification and an upload share: something owed, delivered by
    one worker at a time (a compare-and-set claim it refreshes), retried with
    backoff from ``due_at`` on. Not a table of its own."""

    status = peewee.CharField(max_length=16, default="pending")
    attempts = peewee.IntegerField(default=0)
    error = peewee.TextField(null=True)
    claimed_by = peewee.CharField(max_length=200, null=True)
    claimed_at = peewee.DoubleField(null=True)
    due_at = peewee.DoubleField()
    created_at = peewee.DoubleField()
    updated_at = peewee.DoubleField()


class NotificationRow(ClaimedRow):
    """One message owed to one notification target about one event (see the notify package).

    ``key`` names what the event is about (``job:12:<finished_at>``,
    ``batch:<id>``, ``worker:<name>:<time>``); with ``event`` and ``target`` it
    is unique, so reporting the same event twice records it once. ``target``
    is the target's label, never its URL: labels hold no secrets.
    """

    id = peewee.AutoField()
    key = peewee.CharField(max_length=200)
    event = peewee.CharField(max_length=32)
    target = peewee.CharField(max_length=200)
    job_id = peewee.IntegerField(null=True)
    batch = peewee.CharField(max_length=64, null=True)
    payload = peewee.TextField(default="{}")
    sent_at = peewee.DoubleField(null=True)

    class Meta:
        table_name = "notification"


class UploadRow(ClaimedRow):
    """One file of a job owed to S3 (see storage/s3); ``key`` is its object key,
    ``name`` the file's name within its output (``clip.hls/720p/seg_00001.ts``).

    ``url`` is a pre-signed download link: it grants read access to that one
    object until ``url_expires_at``, and holds no secret key.
    """

    id = peewee.AutoField()
    job_id = peewee.IntegerField()
    kind = peewee.CharField(max_length=16)
    path = peewee.TextField()
    name = peewee.TextField()
    bucket = peewee.CharField(max_length=63)
    key = peewee.TextField()
    size = peewee.BigIntegerField()
    content_type = peewee.CharField(max_length=100)
    etag = peewee.CharField(max_length=100, null=True)
    url = peewee.TextField(null=True)
    url_expires_at = peewee.DoubleField(null=True)
    local_deleted = peewee.BooleanField(default=False)
    host = peewee.CharField(max_length=200)  # where ``path`` was written
    # On shared storage (a mapped canonical path, see storage/paths.py): any
    # host may upload it. Otherwise only workers on ``host`` see the file.
    shared = peewee.BooleanField(default=False)
    uploaded_at = peewee.DoubleField(null=True)

    class Meta:
        table_name = "upload"


class HookRow(ClaimedRow):
    """One hook (see the hooks package) owed a run for one ending of one job.

    ``key`` names the ending (``job:12:<finished_at>``): with ``job_id`` and
    ``hook`` (the hook's configured name, never its URL or token) it is
    unique, so reporting the same ending twice records it once. ``result`` is
    the last attempt's outcome in one line (an HTTP status, a command's exit
    code); ``output`` a command's last lines of output, redacted.
    """

    id = peewee.AutoField()
    job_id = peewee.IntegerField()
    key = peewee.CharField(max_length=200)
    hook = peewee.CharField(max_length=200)
    kind = peewee.CharField(max_length=16)
    event = peewee.CharField(max_length=32)
    result = peewee.TextField(null=True)
    output = peewee.TextField(null=True)
    done_at = peewee.DoubleField(null=True)

    class Meta:
        table_name = "hook"


class WorkerRow(BaseModel):
    """One worker process, on any host (see jobs/workers.py). ``id`` is its
    worker id (jobs/identity.py); ``namespace`` says which pids it can see, so
    a worker in the same namespace may prove it dead by its pid. The jobs it
    holds are the running jobs whose ``worker`` starts with ``id``."""

    id = peewee.CharField(max_length=200, primary_key=True)
    host = peewee.CharField(max_length=200)
    pid = peewee.IntegerField()
    namespace = peewee.CharField(max_length=200, default="")
    version = peewee.CharField(max_length=50)
    started_at = peewee.DoubleField()
    heartbeat_at = peewee.DoubleField()
    # Why it takes no new jobs now (JSON, jobs/control.py), or NULL when it takes them.
    intake = peewee.TextField(null=True)

    class Meta:
        table_name = "worker"


class PrunedJobRow(BaseModel):
    """What a pruned job did, kept after its row is gone (see jobs/retention.py):
    the watch folders ask it whether a file's content was already done with a
    preset, and whether a file is an output, so pruning makes nothing be done
    again. ``id`` is the pruned job's id; ``outputs`` the JSON list of its
    output paths; ``updated_at`` when it was pruned."""

    id = peewee.IntegerField(primary_key=True)
    input_path = peewee.TextField()
    input_hash = peewee.CharField(max_length=64, null=True)
    preset = peewee.CharField(max_length=200)
    status = peewee.CharField(max_length=16)
    outputs = peewee.TextField(default="[]")
    finished_at = peewee.DoubleField(null=True)
    updated_at = peewee.DoubleField()

    class Meta:
        table_name = "pruned_job"
