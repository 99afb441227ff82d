"""A share whose mount failed leaves an empty folder behind: a host must take
that folder for "not mounted", never read from it or write into it.

Hosts are simulated with ``unshare`` (see test_hosts.py); a host "mounts" the
share with a bind mount in its own mount namespace, and a host whose mount
failed has only the empty mount point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediaforge.jobs.model import JobStatus
from tests.mfcli import MEDIAFORGE
from tests.queue.test_hosts import CANONICAL, Hosts, host_config, share

needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="simulated hosts need root and unshare (PID, UTS and mount namespaces)",
)


@pytest.fixture
def hosts(tmp_path: Path, make_media: Callable[..., Path]) -> Iterator[Hosts]:
    with Hosts(tmp_path, make_media) as box:
        yield box


def test_an_empty_folder_is_not_a_share_but_a_folder_with_files_is(tmp_path: Path) -> None:
    from mediaforge.storage.paths import share_present

    mount_point = tmp_path / "nas"
    mount_point.mkdir()
    assert not share_present(mount_point)
    assert not share_present(tmp_path / "missing")
    (mount_point / "clip.mp4").write_bytes(b"x")
    assert share_present(mount_point)


@pytest.mark.slow
@needs_namespaces
def test_a_host_whose_mount_failed_hands_back_an_input_at_the_share_root(hosts: Hosts) -> None:
    nas = share(hosts, "nas", hosts.clip())
    failed, mounted = hosts.root / "gamma-mnt", hosts.root / "beta-mnt"
    failed.mkdir()
    mounted.mkdir()
    gamma = host_config(hosts, "gamma", failed, handback_delay=0.5)
    beta = host_config(hosts, "beta", mounted)
    [job] = hosts.submit([nas / "clip.mp4"], "fast")
    hosts.store.db.execute_sql(
        'UPDATE "job" SET input_path = ? WHERE id = ?', (f"{CANONICAL}/clip.mp4", job)
    )

    hosts.start_host("gamma", config=gamma)  # its mount point is there, empty
    hosts.wait_until(
        lambda: (hosts.job(job).note or "").startswith(f"host gamma cannot see {CANONICAL}"),
        30,
        "gamma to hand the job back",
    )
    assert hosts.job(job).status is JobStatus.QUEUED, hosts.logs()

    hosts.start_host("beta", config=beta, mounts=f"mount --bind {nas} {mounted}")
    hosts.wait_until(lambda: hosts.job(job).status.finished, 60, "beta to run it")
    done = hosts.job(job)
    assert done.status is JobStatus.SUCCEEDED, hosts.logs()
    assert done.worker is not None and done.worker.startswith("beta:")
    assert (nas / "clip.fast.mp4").is_file()
    assert list(failed.iterdir()) == []  # nothing written on gamma's own disk


@pytest.mark.slow
@needs_namespaces
def test_a_host_whose_output_mount_failed_writes_nothing_on_its_own_disk(hosts: Hosts) -> None:
    clip = hosts.clip()  # an input every host sees at the same path
    failed = hosts.root / "gamma-out"
    failed.mkdir()
    gamma = host_config(hosts, "gamma", failed, handback_delay=0.5)
    [job] = hosts.submit([clip], "fast")
    hosts.store.db.execute_sql(
        'UPDATE "job" SET output_dir = ? WHERE id = ?', (f"{CANONICAL}/talks", job)
    )

    hosts.start_host("gamma", config=gamma)
    hosts.wait_until(
        lambda: (hosts.job(job).note or "").startswith(f"host gamma cannot see {CANONICAL}"),
        30,
        "gamma to hand the job back",
    )
    assert hosts.job(job).status is JobStatus.QUEUED, hosts.logs()
    assert list(failed.iterdir()) == []


@pytest.mark.slow
@needs_namespaces
def test_doctor_tells_an_unmounted_mount_point_from_a_mounted_empty_share(hosts: Hosts) -> None:
    empty_share, mount_point = hosts.root / "fresh-share", hosts.root / "mnt"
    empty_share.mkdir()
    mount_point.mkdir()
    config = hosts.home / "doctor.yaml"
    mapping = [{"canonical": "/shared/out", "local": str(mount_point)}]
    config.write_text(hosts.config.read_text() + f"paths: {json.dumps(mapping)}\n")

    def doctor(mounts: str) -> str:
        script = mounts + '; exec "$@"'
        done = subprocess.run(
            ["unshare", "--mount", "--", "sh", "-c", script, "sh", *MEDIAFORGE, "doctor"],
            env={**hosts.env, "MEDIAFORGE_CONFIG": str(config)}, cwd=hosts.home,
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return next(line for line in done.stdout.splitlines() if "paths" in line)

    unmounted = doctor("true")
    assert f"{mount_point} (for /shared/out) is an empty folder, not a mount point" in unmounted
    mounted = doctor(f"mount --bind {empty_share} {mount_point}")
    assert "1 mapped folder(s) present" in mounted
