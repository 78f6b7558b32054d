"""One ingest run, from the writer's lock to the run report: the one place a run is assembled.

    lock -> load the published state (repairing what a killed run left)
      -> find files (a landing folder, or the files a published run processed, from the archive)
      -> per batch of files: read -> keep (raw archive) -> prepare (parse, normalise, identify)
           -> check (snapshot and record gates) -> curate -> check (publish gate) -> write
         (prepare and the first check on a Dask cluster's workers, given one: ops/cluster.py)
      -> commit (the `runs` row that publishes the version; the DuckDB file) -> release and report

`paperfeed run`, `backfill` and `rebuild`, the Prefect flows, the tests and the benchmark all call
`run_ingest`; the flows hand it Steps that run each step as a Prefect task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from paperfeed.config import DEFAULT_LOCK_WAIT_SECONDS, PREPARE_BATCH_BYTES
from paperfeed.model.inputs import Landing, LandingFile, RawSnapshot, Refused, Waiting
from paperfeed.model.status import FileStatus, RunStatus
from paperfeed.ops.batches import (
    Progress,
    check_batch,
    curate_batch,
    in_batches,
    prepare_batch,
    split_known,
    write_batch,
    years_of,
)
from paperfeed.ops.cluster import Cluster
from paperfeed.ops.context import FromArchive, FromLanding, IngestRequest, RunContext, Source, start_run
from paperfeed.ops.finish import commit_run, finish_run
from paperfeed.ops.steps import Steps
from paperfeed.publish.summary import FileOutcome, RunSummary
from paperfeed.quality.gate import Gate, PublishBlocked, check_snapshots
from paperfeed.quality.gx import QualityGate
from paperfeed.storage import archive as raw_archive
from paperfeed.storage.duckdb import refresh_duckdb_file
from paperfeed.storage.faults import crash_point
from paperfeed.storage.landing import list_landing, read_snapshot, select
from paperfeed.storage.warehouse import DatasetVersion, Warehouse, Written


class PublishedWithProblems(RuntimeError):
    """The run published its version, but something after that failed (release, report, DuckDB
    file): the version stays published; `summary.problems` says what failed, one line each."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__("; ".join(summary.problems))
        self.summary = summary


@dataclass(frozen=True)
class Found:
    """The files a run will read, in order, and those it leaves alone."""

    files: list[LandingFile]
    refused: list[Refused]
    waiting: list[Waiting]


GateFactory = Callable[[Warehouse, RunContext], Gate]


def great_expectations_gate(warehouse: Warehouse, ctx: RunContext) -> Gate:
    return QualityGate()


def run_ingest(
    warehouse: Warehouse,
    request: IngestRequest,
    *,
    steps: Steps | None = None,
    gate: GateFactory = great_expectations_gate,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    batch_bytes: int = PREPARE_BATCH_BYTES,
    cluster: Cluster | None = None,
) -> RunSummary:
    """Ingest what `request` names into `warehouse` as (at most) one new dataset version, taking
    its files about `batch_bytes` at a time. Given a Dask `cluster`, each batch's per-file work
    (prepare, then the snapshot and record gates) runs on its workers; the rest runs here.

    Raises WarehouseLocked (another run holds the warehouse), LandingError (no such landing
    folder or file), ArchiveError (a damaged archive to replay), PublishBlocked (the publish gate
    failed; nothing was published) and PublishedWithProblems (published, but the release, the
    report or the DuckDB file failed)."""
    steps = steps or Steps()
    ctx = start_run(request, warehouse.location)
    retry = request.retry_rejected or isinstance(request.source, FromArchive)
    with warehouse.lock(ctx.run_id, lock_wait_seconds, on_wait=steps.say):
        base = steps("load published state", load_state, warehouse)
        found = steps("find files", find_files, request.source)
        run_gate = gate(warehouse, ctx)
        number = (base.number if base else 0) + 1
        standing = warehouse.standing()
        progress = Progress(warehouse.snapshots(), standing, from_published=standing == Written.start(base))

        def ingest_batch(files: list[LandingFile], progress: Progress) -> Progress:
            """One batch of files, read to written. A function, not the loop's body: its frames
            (raw bytes, parsed records, the change) are freed when it returns. Left in the loop's
            variables, one batch's stayed alive while the next was read and parsed (five 64 MB
            batches of the million-record feed peaked at 1,561 MiB that way, 1,358 MiB this way)."""
            raws = steps("read files", read_files, request.source, files)
            new, known = split_known(raws, progress.snapshots, retry)
            years = years_of(new, ctx.year)
            steps("archive raw files", raw_archive.archive, warehouse.layout, raws, years, ctx.run_id, ctx.started_at)
            items = [(raw, years[raw.snapshot_id]) for raw in new]
            del raws, new
            if cluster is None:
                prepared = steps("parse and normalise", prepare_batch, items)
                del items
                checked = steps("quality gate", check_snapshots, run_gate, prepared)
                del prepared
            else:
                checked = steps("parse, normalise and check on the cluster", cluster.prepare_and_check, items, run_gate, warehouse.layout)
                del items
            change, progress = steps("curate", curate_batch, warehouse, ctx.run_id, ctx.started_at, progress, checked, known)
            del checked, known
            if not change.changed:
                return progress  # files ingested before: nothing to check or write (nor Great Expectations to load)
            progress = steps("publish gate", check_batch, run_gate, change, progress)
            if progress.failures:
                return progress  # nothing more is written: the run is recorded as blocked
            return steps("write tables", write_batch, warehouse, change, progress, ctx.run_id, number)

        for files in in_batches(found.files, batch_bytes):
            progress = ingest_batch(files, progress)
            if progress.failures:
                break
        progress = left_alone(progress, found)
        summary = steps("publish", commit_run, warehouse, ctx, base, progress, run_gate)
        summary = steps("release and report", finish_run, warehouse, summary, progress)
    for problem in summary.problems:
        steps.say(problem)
    if summary.status is RunStatus.FAILED:
        raise PublishBlocked(summary.message)
    if summary.problems:
        raise PublishedWithProblems(summary)
    return summary


def has_new_files(warehouse: Warehouse, source: FromLanding) -> bool:
    """Whether the files the run would consider include one no run has seen (by name, size and time), without
    reading any file: a quick look, to decide whether to load Great Expectations early."""
    seen = set(raw_archive.arrivals(warehouse.layout).select("source_name", "n_bytes", "arrived_at").iter_rows())
    return any((f.source_name, f.size, f.arrived_at) not in seen for f in find_files(source).files)


def load_state(warehouse: Warehouse) -> DatasetVersion | None:
    """Repair what a killed run left behind (half-written tables, a stale DuckDB file); the
    current dataset version."""
    warehouse.recover()
    crash_point("after_recover")
    version = warehouse.current()
    if version is not None:
        try:
            refresh_duckdb_file(warehouse, version)
        except OSError:
            pass  # a repair only: a run that publishes rewrites the file, and reports if it cannot
    crash_point("after_load_state")
    return version


def find_files(source: Source) -> Found:
    """The files to consider: every file of a landing folder (or the named ones) in arrival order,
    or the files a published run processed, from its archive."""
    if isinstance(source, FromArchive):
        return Found(raw_archive.replayed_files(source.warehouse, source.run_id), [], [])
    landing: Landing = select(list_landing(source.folder, source.settle_seconds), source.only)
    return Found(landing.files, landing.refused, landing.waiting)


def read_files(source: Source, files: list[LandingFile]) -> list[RawSnapshot]:
    """The files' bytes (a replayed file's checked against its hash)."""
    if isinstance(source, FromArchive):
        return [raw_archive.read_replayed(source.warehouse, file) for file in files]
    return [read_snapshot(file) for file in files]


def left_alone(progress: Progress, found: Found) -> Progress:
    """Every file's outcome in the order the files arrived, then the files the run did not read:
    links it refused, files still changing."""
    order = {file.source_name: i for i, file in enumerate(found.files)}
    read = sorted(progress.outcomes, key=lambda o: order.get(o.source_name, len(order)))
    alone = [FileOutcome(r.source_name, FileStatus.REFUSED, reason=r.reason) for r in found.refused]
    alone += [FileOutcome(w.source_name, FileStatus.WAITING, reason=w.reason) for w in found.waiting]
    return replace(progress, outcomes=[*read, *alone])
