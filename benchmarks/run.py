"""Run mediaforge's benchmarks: a Markdown table on stdout, JSON in benchmarks/results/.

    python benchmarks/run.py                 # everything (several minutes)
    python benchmarks/run.py --quick         # small sizes: a smoke check
    python benchmarks/run.py --only submit   # one benchmark (repeatable, or a,b)

Run it with the Python of mediaforge's virtualenv. Media is synthesized into
temporary folders; nothing is written anywhere else except the JSON file.
See docs/benchmarks.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cases import BENCHMARKS, Sizes, warm_up
from harness import (
    BenchmarkError,
    Figure,
    ffmpeg_version,
    load_average,
    markdown_table,
    use_bytecode_cache,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _names(only: list[str] | None) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help=f"run only these ({', '.join(BENCHMARKS)})"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS,
        help="where the JSON goes (default: benchmarks/results)",
    )
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="one-second jobs for job-overhead (default 200)"
    )
    parser.add_argument(
        "--files", type=int, metavar="N", help="files dropped for watch-ingest (default 1000)"
    )
    args = parser.parse_args(argv)
    names = _names(args.only)
    sizes = Sizes.for_mode(args.quick)
    overrides = {"jobs": args.jobs, "watch_files": args.files}
    sizes = dataclasses.replace(sizes, **{k: v for k, v in overrides.items() if v is not None})

    started = datetime.now(UTC)
    record: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": sizes.__dict__,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "ffmpeg": ffmpeg_version(),
        },
        "benchmarks": {},
    }
    with tempfile.TemporaryDirectory(prefix="mediaforge-bench-pycache-") as cache:
        use_bytecode_cache(Path(cache))
        print("warming up ...", file=sys.stderr, flush=True)
        try:
            warm_up(names)
        except BenchmarkError as exc:
            print(f"warm-up failed, nothing measured: {exc}", file=sys.stderr)
            return 1
        figures, notes, failed = _run_all(names, sizes, record)

    print(markdown_table(figures))
    for note in notes:
        print(f"\n{note}")
    load = [b["load_average_before"][0] for b in record["benchmarks"].values() if "figures" in b]
    if load:
        print(
            f"\n{record['machine']['cpus']} CPUs; 1-min load average at the start of each "
            f"benchmark: {', '.join(f'{x:.1f}' for x in load)}"
        )
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    path = args.results_dir / f"{stamp}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path}", file=sys.stderr)
    return 1 if failed else 0


def _run_all(
    names: list[str], sizes: Sizes, record: dict[str, Any]
) -> tuple[list[Figure], list[str], list[str]]:
    figures: list[Figure] = []
    notes: list[str] = []
    failed: list[str] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        load_before, clock = load_average(), time.monotonic()
        try:
            report = BENCHMARKS[name](sizes)
        except BenchmarkError as exc:
            print(f"{name} failed: {exc}", file=sys.stderr)
            failed.append(name)
            record["benchmarks"][name] = {"error": str(exc)}
            continue
        figures.extend(report.figures)
        notes.extend(report.notes)
        record["benchmarks"][name] = {
            "seconds": round(time.monotonic() - clock, 1),
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "figures": [f.to_dict() for f in report.figures],
            "details": report.details,
        }
    return figures, notes, failed


if __name__ == "__main__":
    sys.exit(main())
