"""The benchmark harness runs: a quick, cheap benchmark writes its table and JSON.

Only that it works is checked, never how fast anything was: the machine is shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_quick_submit_benchmark_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "submit", "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "| submit | one file: wall |" in done.stdout
    [written] = tmp_path.glob("*-quick.json")
    record = json.loads(written.read_text(encoding="utf-8"))
    figures = record["benchmarks"]["submit"]["figures"]
    assert [f["measure"] for f in figures] == ["one file: wall", "one file: CPU"]
    assert len(figures[0]["samples"]["mediaforge"]) == record["sizes"]["cli_runs"]
    assert record["machine"]["ffmpeg"].startswith("ffmpeg version")


def test_unknown_benchmark_name_is_refused_with_the_choices(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "nope", "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "unknown benchmark(s): nope" in done.stderr
    assert "job-overhead" in done.stderr
    assert not list(tmp_path.iterdir())


def test_quick_startup_benchmark_lists_what_each_command_imports(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "startup", "--results-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "| startup | --version: wall |" in done.stdout
    [written] = tmp_path.glob("*-quick.json")
    details = json.loads(written.read_text(encoding="utf-8"))["benchmarks"]["startup"]["details"]
    imported = details["heavy_imports"]
    assert imported["--version"] == []
    assert not {"psycopg", "redis", "pydantic"} & {m for ms in imported.values() for m in ms}
