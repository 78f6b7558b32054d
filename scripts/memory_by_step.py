"""Memory of one run, step by step: after each step of `run_ingest` (real gate, no Prefect), the
process's resident memory now and its peak so far, from /proc/self/status (Linux).

    .venv/bin/python scripts/memory_by_step.py LANDING WAREHOUSE [BATCH_MIB]

Make a landing folder of any size with scripts/synthetic_feed.py. What the README's Performance
section says about a backfill's memory comes from this.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.ops.steps import Steps
from paperfeed.storage.warehouse import Warehouse

P = ParamSpec("P")
R = TypeVar("R")


def memory_mib() -> tuple[int, int]:
    """(resident now, peak so far), MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


class MeasuredSteps(Steps):
    """Each step as usual, then one line: its name, its seconds, the memory after it."""

    def __call__(self, name: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        now, peak = memory_mib()
        print(f"{name:24s} {time.perf_counter() - started:7.1f} s   now {now:6,} MiB   peak {peak:6,} MiB", flush=True)
        return result


def main() -> None:
    landing, warehouse = Path(sys.argv[1]), Path(sys.argv[2])
    batch = {"batch_bytes": int(sys.argv[3]) * 1024 * 1024} if len(sys.argv) > 3 else {}
    summary = run_ingest(Warehouse.at(warehouse), IngestRequest(FromLanding(landing)), steps=MeasuredSteps(), **batch)
    peak = memory_mib()[1]
    print(f"{summary.n_papers:,} papers in dataset version {summary.dataset_version}; peak {peak:,} MiB")


if __name__ == "__main__":
    main()
