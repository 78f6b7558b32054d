"""Print how fast paperfeed's stages run and how much memory they take, on a larger feed.

    .venv/bin/python scripts/benchmark.py [--days 60]

The feed is the sample's five snapshots, re-dated to make `--days` days of two snapshots each
(papers recur, as on the real feed). Figures, not pass/fail: this machine is shared and noisy.
The runs call paperfeed's one run function without Prefect (its start-up is measured separately,
see the README); everything else is the real code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

from paperfeed.config import SAMPLE_FEED
from paperfeed.curate.increment import curate
from paperfeed.model.tables import Tables
from paperfeed.ops.batches import prepare_batch
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.ops.verify import verify
from paperfeed.storage.landing import list_landing, read_snapshot
from paperfeed.storage.warehouse import Warehouse


def write_feed(days: int, landing: Path) -> None:
    """`days` days of two snapshots each, made of the sample's records, into `landing`."""
    samples = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_FEED.glob("*.txt"))]
    start = dt.date(2025, 1, 1)
    for day in range(days):
        date = start + dt.timedelta(days=day)
        for copy in range(2):
            text = samples[(day * 2 + copy) % len(samples)]
            header, marker, body = text.partition("byAK and the research community\n\n")
            records = body[body.index("\n") :]  # after the old date line
            # One paper of its own per snapshot, so that papers come and go.
            extra = f"\n\nDay {day} Copy {copy} Extra Paper\n\n" + f"We study day {day} and copy {copy}. " * 20
            path = landing / f"{date:%Y-%m-%d}" / f"{copy}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(header + marker + date.strftime("%b %d") + extra + records, encoding="utf-8")
            stamp = time.time() - (days - day) * 86400 + copy
            os.utime(path, (stamp, stamp))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    days = parser.parse_args().days
    with tempfile.TemporaryDirectory() as folder:
        landing, store = Path(folder) / "landing", Warehouse.at(Path(folder) / "warehouse")
        write_feed(days, landing)
        raws = [read_snapshot(f) for f in list_landing(landing).files]
        size = sum(len(r.raw) for r in raws)

        started = time.perf_counter()
        prepared = prepare_batch([(raw, None) for raw in raws])
        prepare_s = time.perf_counter() - started
        records = sum(p.records.height for p in prepared)

        started = time.perf_counter()
        tables = curate(Tables.empty(), prepared, "bench", dt.datetime.now(dt.UTC))
        curate_s = time.perf_counter() - started

        import great_expectations  # noqa: F401  (its import, about 4 s, is paid once per run; not measured here)

        request = IngestRequest(FromLanding(landing))
        started = time.perf_counter()
        summary = run_ingest(store, request)
        run_s = time.perf_counter() - started
        started = time.perf_counter()
        noop = run_ingest(store, request)
        noop_s = time.perf_counter() - started
        started = time.perf_counter()
        verified = verify(store, all_versions=True)
        verify_s = time.perf_counter() - started

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"feed: {len(raws)} snapshots, {size / 1e6:.1f} MB, {records:,} records -> "
          f"{tables.papers.height:,} papers, {tables.appearances.height:,} appearances")
    print(f"parse + normalise + identify: {prepare_s:6.2f} s  ({records / prepare_s:,.0f} records/s, {size / 1e6 / prepare_s:.1f} MB/s)")
    print(f"curate (all tables):          {curate_s:6.2f} s")
    print(f"whole run, library steps:     {run_s:6.2f} s  (archive, gates, curate, publish, release, report; {summary.status})")
    print(f"run again, nothing new:       {noop_s:6.2f} s  ({noop.status})")
    print(f"verify, every version:        {verify_s:6.2f} s  ({len(verified.findings)} findings; {verified.checked})")
    print(f"peak memory (RSS):            {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main()
