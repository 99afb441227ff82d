"""Each command imports only what it needs: ``--version`` not even typer, and
no command of a SQLite installation the PostgreSQL or Redis drivers.

What a process imported is read from its ``sys.modules``; how long that
takes is measured in benchmarks/ (``startup``), never here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from mediaforge import __version__
from tests.mfcli import MEDIAFORGE, Mediaforge

# Runs the command as the ``mediaforge`` script does, then lists the top-level
# packages in sys.modules (an import that failed, as a driver left out on
# purpose does, leaves None there and is not listed).
_PROBE = """
import atexit, runpy, sys
def listed():
    names = {n.split(".")[0] for n, m in list(sys.modules.items()) if m is not None}
    sys.stderr.write("\\nIMPORTED " + " ".join(sorted(names)) + "\\n")
atexit.register(listed)
sys.argv = ["mediaforge", *sys.argv[1:]]
runpy.run_module("mediaforge", run_name="__main__", alter_sys=False)
"""


def _imported(mf: Mediaforge, *args: object) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The top-level packages ``mediaforge ARGS`` imported, and how it ended."""
    done = subprocess.run(
        [MEDIAFORGE[0], "-c", _PROBE, *map(str, args)],
        env=mf.env, cwd=mf.home, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    last = done.stderr.rstrip().splitlines()[-1]
    assert last.startswith("IMPORTED "), done.stderr[-2000:]
    return set(last.split()[1:]), done


def test_version_is_answered_without_importing_typer_or_rich(mf: Mediaforge) -> None:
    names, done = _imported(mf, "--version")

    assert (done.returncode, done.stdout) == (0, f"mediaforge {__version__}\n")
    assert {"typer", "rich", "click", "pydantic"}.isdisjoint(names)


def test_version_with_other_options_still_goes_through_the_full_command(mf: Mediaforge) -> None:
    names, done = _imported(mf, "--debug", "--version")

    assert (done.returncode, done.stdout.strip()) == (0, f"mediaforge {__version__}")
    assert "typer" in names


def test_submit_on_sqlite_imports_no_server_driver_nor_s3_or_notify_code(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    clip = make_media("clip.mp4")

    names, done = _imported(mf, "submit", clip, "-p", "h264-720p")

    assert done.returncode == 0, done.stderr[-2000:]
    assert {"huey", "peewee"} <= names  # it does queue a job
    assert {"psycopg", "redis", "boto3", "apprise", "watchdog"}.isdisjoint(names)


def test_listing_jobs_does_not_import_the_queue(mf: Mediaforge) -> None:
    names, done = _imported(mf, "jobs")

    assert done.returncode == 0, done.stderr[-2000:]
    assert {"huey", "psycopg", "redis", "boto3", "apprise"}.isdisjoint(names)


def test_a_postgres_database_still_gets_its_driver(mf: Mediaforge) -> None:
    # Nothing listens on this port: the command fails to connect, after it
    # imported the driver that the config asks for.
    mf.configure(database={"url": "postgresql://mediaforge@127.0.0.1:9/jobs"})

    names, done = _imported(mf, "jobs")

    assert done.returncode != 0
    assert "psycopg" in names
    assert "Traceback" not in done.stderr
