"""``/metrics`` in Prometheus' text format, from one reading of the job
database (``jobs.stats``) and the worker table: the numbers are the
database's, so every server sharing it reports the same."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mediaforge.jobs.stats import Stats
from mediaforge.jobs.workers import WorkerInfo, WorkerState

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
REALTIME_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _histogram(
    name: str, help_text: str, values: Sequence[float], buckets: Iterable[float]
) -> list[str]:
    lines = _family(name, "histogram", help_text)
    for bound in buckets:
        lines.append(f'{name}_bucket{{le="{float(bound)}"}} {sum(1 for v in values if v <= bound)}')
    lines.append(f'{name}_bucket{{le="+Inf"}} {len(values)}')
    lines.append(f"{name}_sum {float(sum(values))}")
    lines.append(f"{name}_count {len(values)}")
    return lines


def render_metrics(stats: Stats, workers: Sequence[WorkerInfo]) -> str:
    """The exposition text."""
    lines = _family("mediaforge_jobs", "gauge", "Jobs in the database by status and preset.")
    for preset, totals in sorted(stats.by_preset.items()):
        for status, n in totals.by_status.items():
            lines.append(f"mediaforge_jobs{_labels(status=str(status), preset=preset)} {n}")
    lines += _family("mediaforge_queue_depth", "gauge", "Jobs waiting to run.")
    lines.append(f"mediaforge_queue_depth {stats.total.by_status['queued']}")
    lines += _histogram(
        "mediaforge_job_duration_seconds", "Run time of succeeded jobs' last attempt.",
        stats.durations, DURATION_BUCKETS,
    )  # fmt: skip
    lines += _histogram(
        "mediaforge_job_realtime_factor", "Seconds of media made per second of work.",
        stats.realtime_factors, REALTIME_BUCKETS,
    )  # fmt: skip
    for name, help_text, value in (
        ("mediaforge_input_bytes", "Input bytes of succeeded jobs.", stats.total.bytes_in),
        ("mediaforge_output_bytes", "Output bytes of succeeded jobs.", stats.total.bytes_out),
        ("mediaforge_space_saved_bytes", "Input minus output bytes of succeeded jobs.",
         stats.total.space_saved),
        ("mediaforge_notification_failures", "Notifications every attempt failed for.",
         stats.notifications_failed),
        ("mediaforge_upload_failures", "S3 uploads every attempt failed for.",
         stats.uploads_failed),
        ("mediaforge_hook_failures", "Hook runs every attempt failed for.",
         stats.hooks_failed),
    ):  # fmt: skip
        lines += _family(name, "gauge", help_text)
        lines.append(f"{name} {value}")
    lines += _family("mediaforge_workers", "gauge", "Known workers by state.")
    for state in WorkerState:
        count = sum(1 for w in workers if w.state is state)
        lines.append(f"mediaforge_workers{_labels(state=str(state))} {count}")
    lines += _family(
        "mediaforge_worker_heartbeat_age_seconds", "gauge", "Seconds since each worker's heartbeat."
    )
    for worker in workers:
        age = round(worker.age, 3)
        lines.append(f"mediaforge_worker_heartbeat_age_seconds{_labels(worker=worker.id)} {age}")
    return "\n".join(lines) + "\n"
