"""Measure paperfeed against its floor, in one run. Figures, never a verdict: these machines are
shared and noisy, so each whole-process figure is the median of --repeat runs, and ratios are
taken between runs made side by side.

    .venv/bin/python scripts/benchmark.py [--records 1000000] [--versions 1000] [--repeat 3] [--server]

(a) the floor: a minimal Polars pass over a synthetic feed (scripts/synthetic_feed.py: papers that
    come and go, revisions, re-deliveries, late files): read the files, split them into
    title/abstract records, NFC-normalise, write zstd Parquet;
(b) paperfeed's core (parse + normalise + identify) on the same files, in its batches;
(c) `paperfeed run` on the bundled sample and a no-op Prefect flow, in the same mode (Prefect's
    temporary server; with --server also against a running `prefect server`), and a no-op re-run;
(d) one new snapshot into a warehouse with 1 dataset version and into one with --versions;
(e) the peak memory of a backfill of the whole synthetic feed in one run (a process of its own);
(f) the disk bytes each version adds, beside the rows it changes;
(g) on a Dask cluster started here (a scheduler and one, then two, single-threaded workers on
    127.0.0.1): the per-file work of --cluster-files files (prepare, snapshot and record gates)
    as a run sends it (the workers read the files from the run's raw archive), against the same
    work in this process: the orchestration overhead as a fraction of the work (by Dask's account
    of each of --repeat calls: their median, and each), and the speed-up of two workers over one
    (median wall times; workers warmed up first: their first task imports Great
    Expectations, a few seconds, reported apart); and the same call with the files' bytes sent
    to the workers, as for workers that cannot read the archive.

The long history of (d) is built with paperfeed's run function and a gate that passes everything
(Great Expectations would add two seconds to each of its runs); the runs that are measured use the
real gate.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_feed import write_feed

from paperfeed.config import SAMPLE_FEED
from paperfeed.curate.increment import increment
from paperfeed.model.contracts import PAPERS
from paperfeed.model.inputs import LandingFile
from paperfeed.model.status import RunStatus
from paperfeed.ops.batches import in_batches, prepare_batch
from paperfeed.ops.context import FromLanding, IngestRequest, RunContext
from paperfeed.ops.finish import run_row
from paperfeed.ops.run import run_ingest
from paperfeed.prepare.snapshot import prepare_snapshots
from paperfeed.publish.summary import RunSummary
from paperfeed.quality.findings import SuiteReport
from paperfeed.quality.gate import Gate
from paperfeed.storage import archive as raw_archive
from paperfeed.storage.landing import list_landing, read_snapshot
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.warehouse import Warehouse

BIN = Path(sys.executable).parent
NOOP_FLOW = "from prefect import flow\n@flow\ndef noop():\n    pass\nnoop()\n"


class PassingGate:
    """A gate that validates nothing (for building a long history fast; never for a measured run)."""

    def validate(self, suite: str, frame: pl.DataFrame, all_rows: bool = True) -> SuiteReport:
        return SuiteReport(suite, 0, [])


def passing(warehouse: Warehouse, ctx: RunContext) -> Gate:
    return PassingGate()


def median_seconds(command: list[str], repeat: int, env: dict[str, str], before: object = None) -> float:
    times = []
    for _ in range(repeat):
        if callable(before):
            before()
        started = time.perf_counter()
        done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:  # a failed command is often a fast one: its time is no measurement
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return statistics.median(times)


def floor_pass(files: list[Path], out: Path) -> int:
    """The minimal pass: read, split into records, NFC, write zstd Parquet. Its record count."""
    texts = [f.read_bytes().decode("utf-8", errors="replace") for f in files]
    records = (
        pl.DataFrame({"text": texts})
        .with_row_index("file")
        .select("file", block=pl.col("text").str.replace_all("\r\n", "\n").str.split("\n\n"))
        .explode("block")
        .with_columns(i=pl.int_range(pl.len()).over("file"))
        .filter(pl.col("i") >= 5)
        .with_columns(pair=(pl.col("i") - 5) // 2)
        .group_by("file", "pair", maintain_order=True)
        .agg(title=pl.col("block").first(), abstract=pl.col("block").last())
        .with_columns(pl.col("title").str.normalize("NFC"), pl.col("abstract").str.normalize("NFC"))
    )
    records.write_parquet(out, compression="zstd")
    return records.height


def core_pass(files: list[Path]) -> int:
    """paperfeed's parse + normalise + identify over the same files, batch by batch. Its record count."""
    landing = list_landing(files[0].parents[1])
    records = 0
    for batch in in_batches(landing.files):
        records += sum(p.records.height for p in prepare_batch([(read_snapshot(f), None) for f in batch]))
    return records


def disk_bytes(folder: Path) -> int:
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) not in seen:  # a hard-linked release file is stored once
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def section_a_b(work: Path, records: int) -> Path:
    landing = work / "feed"
    started = time.perf_counter()
    # About one file in 25 holds no new records (a re-delivery, an error page): a few more files.
    feed = write_feed(landing, files=max(1, round(records / 70 * 1.04)), per_file=70, seed=7)
    print(f"synthetic feed: {feed.files:,} files, {feed.records:,} records, {feed.bytes / 1e6:,.0f} MB "
          f"({feed.kinds}), written in {time.perf_counter() - started:.0f} s")
    files = sorted(landing.rglob("*.*"))
    started = time.perf_counter()
    n_floor = floor_pass(files, work / "floor.parquet")
    floor_s = time.perf_counter() - started
    started = time.perf_counter()
    n_core = core_pass(files)
    core_s = time.perf_counter() - started
    print(f"(a) floor (read, split, NFC, zstd Parquet): {floor_s:7.1f} s  {n_floor / floor_s:>10,.0f} records/s  ({n_floor:,} records)")
    print(f"(b) core (parse, normalise, identify):       {core_s:7.1f} s  {n_core / core_s:>10,.0f} records/s  ({n_core:,} records)")
    print(f"    core / floor, records/s: {(n_core / core_s) / (n_floor / floor_s):.2f}")
    return landing


def section_c(work: Path, repeat: int, server: bool) -> None:
    for mode in ("temporary server", "running server") if server else ("temporary server",):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env |= {"PREFECT_HOME": str(work / f"prefect-{mode[:4]}"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        process = None
        if mode == "running server":
            port = free_port()
            env["PREFECT_SERVER_UI_ENABLED"] = "false"
            process = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--port", str(port)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
            for _ in range(240):
                try:
                    urllib.request.urlopen(env["PREFECT_API_URL"] + "/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.5)
        try:
            noop_flow = median_seconds([sys.executable, "-c", NOOP_FLOW], repeat, env)
            warehouse = work / f"warehouse-{mode[:4]}"
            run = median_seconds([str(BIN / "paperfeed"), "run", "-w", str(warehouse)], repeat, env,
                                 before=lambda w=warehouse: shutil.rmtree(w, ignore_errors=True))
            again = median_seconds([str(BIN / "paperfeed"), "run", "-w", str(warehouse)], repeat, env)
        finally:
            if process is not None:
                process.terminate()
                process.wait()
        print(f"(c) {mode}: `paperfeed run` on the sample {run:5.1f} s, no-op flow {noop_flow:5.1f} s: ratio {run / noop_flow:.2f}; "
              f"run again (nothing new) {again:5.1f} s: ratio {again / noop_flow:.2f}")


def section_d_f(work: Path, versions: int, repeat: int) -> None:
    from paperfeed.quality.gx import prewarm

    prewarm().join()  # Great Expectations imported and its suites loaded once, as in a process that runs

    history = work / "history"
    feed = write_feed(history / "landing", files=versions + 1, per_file=70, seed=11)
    files = list_landing(history / "landing").files
    store = Warehouse.at(history / "warehouse")
    staged = history / "one"
    added: list[int] = []
    changed: list[int] = []
    real_runs = min(100, len(files) - 1)
    published_directly = build_history(store, files[: len(files) - 1 - real_runs])
    for i, file in enumerate(files[:-1]):  # one version a file (a few files are junk or repeats)
        if i < len(files) - 1 - real_runs:
            continue
        staged.mkdir(parents=True, exist_ok=True)
        for old in staged.iterdir():
            old.unlink()
        shutil.copy2(file.path, staged / Path(file.path).name)
        before = disk_bytes(store.root) if i >= len(files) - 101 else 0
        summary = run_ingest(store, IngestRequest(FromLanding(staged)), gate=passing)
        if i >= len(files) - 101:
            added.append(disk_bytes(store.root) - before)
            changed.append(summary.n_new_papers + summary.n_updated_papers)
    current = store.current()
    assert current is not None
    print(f"(d) history: {current.number:,} versions from {feed.files:,} files ({published_directly:,} published by the "
          f"warehouse's publish step alone, to build it fast; the last {real_runs} by whole runs); "
          f"{current.rows['papers']:,} papers, {current.rows['appearances']:,} appearances")
    last = files[-1]
    one = history / "short"
    run_ingest(Warehouse.at(one), IngestRequest(FromLanding(staged)), gate=passing)  # 1 version
    timings: dict[str, list[float]] = {"1 version": [], f"{current.number} versions": []}
    for _ in range(repeat):
        for label, source in (("1 version", one), (f"{current.number} versions", store.root)):
            copy = work / "measured"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy, symlinks=True)
            landing = work / "new"
            shutil.rmtree(landing, ignore_errors=True)
            landing.mkdir()
            shutil.copy2(last.path, landing / "new.txt")
            # The copy leaves its bytes in the page cache, to be written: flushed first, so that no
            # fsync of the run waits for them (a 1,000-version copy is over a GB, the 1-version one a few MB).
            os.sync()
            started = time.perf_counter()
            run_ingest(Warehouse.at(copy), IngestRequest(FromLanding(landing)))
            timings[label].append(time.perf_counter() - started)
    short, long = (statistics.median(v) for v in timings.values())
    print(f"(d) one new snapshot (real gate): into 1 version {short:.2f} s, into {current.number} versions {long:.2f} s: ratio {long / short:.2f}")
    per_version = statistics.median(added)
    print(f"(f) disk added per version (last 100 versions, median): {per_version / 1e3:,.0f} kB for a median of "
          f"{statistics.median(changed):,.0f} papers new or updated; warehouse {disk_bytes(store.root) / 1e6:,.0f} MB in all "
          f"(tables {disk_bytes(Path(store.table_uri(PAPERS.name)).parent) / 1e6:,.0f} MB, releases {disk_bytes(store.layout.releases) / 1e6:,.0f} MB, "
          f"raw {disk_bytes(store.layout.raw) / 1e6:,.0f} MB) for {feed.bytes / 1e6:,.0f} MB of input")


def build_history(store: Warehouse, files: list[LandingFile]) -> int:
    """One dataset version per file, through the same curation and publish step a run uses but
    without its archive, gates, releases and report (seconds per version fewer); the number of
    versions published. A file whose bytes came before is skipped, as a run would."""
    seen: set[str] = set()
    published = store.current()
    for i, file in enumerate(files):
        raw = read_snapshot(file)
        if raw.snapshot_id in seen:
            continue
        seen.add(raw.snapshot_id)
        run_id = f"history-{i:05d}"
        now = dt.datetime.now(dt.UTC)
        change = increment(store, prepare_snapshots([(raw, None)]), run_id, now)
        row = run_row(RunContext(run_id, now, str(store.root), "history", None),
                      RunSummary(run_id, RunStatus.PUBLISHED, None, "", ""), "", RunStatus.PUBLISHED, None)
        published = store.publish(change.changes, row, published)
    return published.number if published else 0


def section_e(work: Path, landing: Path) -> None:
    started = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--backfill", str(landing), str(work / "backfill")],
                           capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    print(f"(e) backfill of the whole feed in one run: {seconds:.0f} s; {child.stdout.strip()} {child.stderr.strip()[-300:]}")


def peak_rss_kib() -> int:
    """This process's own peak resident memory (Linux: VmHWM). Not getrusage's ru_maxrss: Linux
    carries that over fork and exec, so a child started by this benchmark would report the
    parent's peak (section (a) holds the whole feed), as it did before this was found."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: KiB on most systems


def backfill(landing: Path, warehouse: Path) -> None:
    summary = run_ingest(Warehouse.at(warehouse), IngestRequest(FromLanding(landing)))
    peak = peak_rss_kib() / 1024
    print(f"peak memory {peak:,.0f} MiB; {summary.n_papers:,} papers, {summary.n_appearances:,} appearances "
          f"in version {summary.dataset_version}")


def section_g(work: Path, files: int, repeat: int) -> None:
    from distributed import Client, get_task_stream

    from paperfeed.ops.cluster import Cluster, Item, prepare_and_check
    from paperfeed.quality.gx import QualityGate

    landing = work / "cluster-feed"
    write_feed(landing, files=files, per_file=70, seed=11)
    items: list[Item] = [(read_snapshot(f), None) for f in list_landing(landing).files]
    size = sum(len(raw.raw) for raw, _ in items)
    archive = WarehouseLayout.at(work / "cluster-warehouse")  # what a run does before this step
    raw_archive.archive(archive, [raw for raw, _ in items], {raw.snapshot_id: year for raw, year in items}, "bench", dt.datetime.now(dt.UTC))
    gate = QualityGate()
    prepare_and_check(items[:5], gate)  # Great Expectations imported and its suites loaded, here too

    def timed(call: Callable[[], object]) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    alone = timed(lambda: prepare_and_check(items, gate))
    address = f"tcp://127.0.0.1:{free_port()}"
    local = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    processes = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--port", address.rsplit(":", 1)[1], *local], stderr=subprocess.DEVNULL)]
    try:
        with Client(address, timeout=60) as client:  # type: ignore[no-untyped-call]
            on: dict[int, float] = {}
            for workers in (1, 2):
                processes.append(subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, *local, "--nworkers", "1", "--nthreads", "1"], stderr=subprocess.DEVNULL
                ))  # fmt: skip
                client.wait_for_workers(workers, timeout=120)
                cluster = Cluster(address, client, set(client.nthreads()))
                started = time.perf_counter()
                cluster.prepare_and_check(items[: 2 * workers], gate)  # each worker's first task
                warm = time.perf_counter() - started
                for way, where in (("read from the archive", archive), ("bytes sent", None)):
                    walls, overheads = [], []
                    for _ in range(repeat):  # Dask's own account of each call: the seconds its tasks computed on the workers
                        with get_task_stream(client) as stream:
                            started = time.perf_counter()
                            cluster.prepare_and_check(items, gate, where)
                            wall = time.perf_counter() - started
                        computed = sum(s["stop"] - s["start"] for t in stream.data for s in t["startstops"] if s["action"] == "compute")
                        walls.append(wall)
                        overheads.append((wall * workers - computed) / computed)
                    took = statistics.median(walls)
                    if where is not None:  # the run's way: what the speed-up compares
                        on[workers] = took
                    print(f"(g) {len(items)} files ({size / 1e6:.0f} MB) on {workers} worker(s), {way}: {took:.2f} s "
                          f"(first tasks, warming up: {warm:.1f} s); orchestration (the call's wall time over the "
                          f"workers' time, less what their tasks computed) {statistics.median(overheads):+.1%} "
                          f"(calls: {', '.join(f'{o:+.1%}' for o in overheads)})")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()
    print(f"(g) same work in this process {alone:.2f} s (one task); on 1 worker {(on[1] - alone) / alone:+.1%} of it; "
          f"speed-up of 2 workers over 1: {on[1] / on[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="also measure (c) against a running Prefect server")
    parser.add_argument("--only", default="abcdefg", help="the sections to run, e.g. --only c (e needs the feed of a)")
    parser.add_argument("--cluster-files", type=int, default=200, help="(g): the files sent to the Dask cluster")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (the (d) history, to profile a run into it)")
    parser.add_argument("--backfill", nargs=2, type=Path, help=argparse.SUPPRESS)  # (e), in a process of its own
    args = parser.parse_args()
    if args.backfill:
        backfill(*args.backfill)
        return
    print(f"paperfeed benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; sample feed {SAMPLE_FEED}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)  # a new folder: the sections expect to start from nothing
    with contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="paperfeed-bench-") as folder:
        work = Path(folder)
        landing = section_a_b(work, args.records) if set("abe") & set(args.only) else None
        if "c" in args.only:
            section_c(work, args.repeat, args.server)
        if set("df") & set(args.only):
            section_d_f(work, args.versions, args.repeat)
        if "e" in args.only and landing is not None:
            section_e(work, landing)
        if "g" in args.only:
            section_g(work, args.cluster_files, args.repeat)


if __name__ == "__main__":
    main()
