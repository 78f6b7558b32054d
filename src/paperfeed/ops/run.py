"""One ingest run, from the writer's lock to the run report: the one place a run is assembled.

    lock -> load the published state (repairing what a killed run left)
      -> find files (a landing folder, or the files a published run processed, from the archive)
      -> read -> keep (raw archive) -> prepare (parse, normalise, identify)
      -> check (snapshot and record gates) -> curate -> publish (publish gate, Delta, DuckDB file)
      -> release and report

`paperfeed run`, `backfill` and `rebuild`, the Prefect flows, the tests and the benchmark all call
`run_ingest`; the flows hand it Steps that run each step as a Prefect task.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from paperfeed.config import DEFAULT_LOCK_WAIT_SECONDS, PREPARE_BATCH_BYTES
from paperfeed.curate.changes import Changes
from paperfeed.curate.increment import Increment, increment
from paperfeed.model.contracts import APPEARANCES, PAPERS, RUNS
from paperfeed.model.inputs import Landing, RawSnapshot, Refused, Waiting
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.status import FileStatus, RunStatus, SnapshotStatus
from paperfeed.ops.steps import Steps
from paperfeed.prepare.snapshot import prepare_snapshots
from paperfeed.publish.release import part
from paperfeed.publish.summary import FileOutcome, RunSummary, feed_by_date
from paperfeed.quality.gate import Gate, PublishBlocked, check_publish, check_snapshots
from paperfeed.quality.gx import QualityGate
from paperfeed.storage import archive as raw_archive
from paperfeed.storage.duckdb import refresh_duckdb_file, write_duckdb_file
from paperfeed.storage.faults import crash_point
from paperfeed.storage.landing import list_landing, read_snapshot, select
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.releases import Changed, write_release, write_run_report
from paperfeed.storage.warehouse import DatasetVersion, Warehouse


class PublishedWithProblems(RuntimeError):
    """The run published its version, but something after that failed (release, report, DuckDB
    file): the version stays published; `summary.problems` says what failed, one line each."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__("; ".join(summary.problems))
        self.summary = summary


# --- what to ingest -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FromLanding:
    """The new files of a landing folder (only the named ones, if `only` is given); a file changed
    less than `settle_seconds` ago is left for a later run."""

    folder: Path
    settle_seconds: float = 0
    only: list[str] | None = None


@dataclass(frozen=True)
class FromArchive:
    """The files the published run `run_id` of another warehouse processed, from its raw archive
    (what `paperfeed rebuild` replays, run by run)."""

    warehouse: WarehouseLayout
    run_id: str


Source = FromLanding | FromArchive


@dataclass(frozen=True)
class IngestRequest:
    source: Source
    year: int | None = None  # for snapshots whose header and path give no year
    retry_rejected: bool = False  # process files rejected before again (after fixing, e.g., --year)
    run_id: str | None = None  # given by the command line, which names it when it takes the lock


@dataclass(frozen=True)
class RunContext:
    run_id: str
    started_at: dt.datetime
    warehouse: str
    landing: str  # the folder the files came from, for the record
    year: int | None


@dataclass(frozen=True)
class State:
    """The published dataset a run starts from: its version, and every snapshot row (which files
    were ingested, and how)."""

    version: DatasetVersion | None
    snapshots: pl.DataFrame


@dataclass(frozen=True)
class Found:
    """The files a run read, and those it leaves alone."""

    raws: list[RawSnapshot]
    refused: list[Refused]
    waiting: list[Waiting]


@dataclass(frozen=True)
class Plan:
    increment: Increment
    summary: RunSummary


GateFactory = Callable[[Warehouse, RunContext], Gate]


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def great_expectations_gate(warehouse: Warehouse, ctx: RunContext) -> Gate:
    return QualityGate(ctx.run_id, ctx.started_at)


# --- the run ------------------------------------------------------------------------------------
def run_ingest(
    warehouse: Warehouse,
    request: IngestRequest,
    *,
    steps: Steps | None = None,
    gate: GateFactory = great_expectations_gate,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
) -> RunSummary:
    """Ingest what `request` names into `warehouse` as (at most) one new dataset version.

    Raises WarehouseLocked (another run holds the warehouse), LandingError (no such landing
    folder or file), ArchiveError (a damaged archive to replay), PublishBlocked (the publish gate
    failed; nothing was published) and PublishedWithProblems (published, but the release, the
    report or the DuckDB file failed)."""
    steps = steps or Steps()
    ctx = start_run(request, warehouse)
    with warehouse.lock(ctx.run_id, lock_wait_seconds, on_wait=steps.say):
        state = steps("load published state", load_state, warehouse)
        found = steps("find and read files", find_files, request.source)
        retry = request.retry_rejected or isinstance(request.source, FromArchive)
        new, known = split_known(found.raws, state, retry)
        years = years_of(new, ctx.year)
        steps("archive raw files", raw_archive.archive, warehouse.layout, found.raws, years, ctx.run_id, ctx.started_at)
        batches = [[(raw, years[raw.snapshot_id]) for raw in batch] for batch in in_batches(new)]
        prepared = [s for batch in steps.each("parse and normalise", prepare_batch, batches) for s in batch]
        run_gate = gate(warehouse, ctx)
        checked = steps("quality gate", check_snapshots, run_gate, prepared)
        plan = steps("curate", plan_run, warehouse, ctx, state, checked, known, found.refused, found.waiting)
        summary = steps("publish", publish_run, warehouse, ctx, state, plan, run_gate)
        summary = steps("release and report", finish_run, warehouse, summary, release_changes(plan.increment))
    for problem in summary.problems:
        steps.say(problem)
    if summary.status is RunStatus.FAILED:
        raise PublishBlocked(summary.message)
    if summary.problems:
        raise PublishedWithProblems(summary)
    return summary


def start_run(request: IngestRequest, warehouse: Warehouse) -> RunContext:
    now = dt.datetime.now(dt.UTC)
    source = request.source
    landing = str(source.folder.resolve()) if isinstance(source, FromLanding) else str(source.warehouse.root)
    return RunContext(request.run_id or new_run_id(now), now, str(warehouse.root), landing, request.year)


def load_state(warehouse: Warehouse) -> State:
    """Repair what a killed run left behind (half-written tables, a stale DuckDB file), then read
    the current dataset version."""
    warehouse.recover()
    crash_point("after_recover")
    version = warehouse.current()
    if version is not None:
        try:
            refresh_duckdb_file(warehouse, version)
        except OSError:
            pass  # a repair only: a run that publishes rewrites the file, and reports if it cannot
    state = State(version, warehouse.snapshots())
    crash_point("after_load_state")
    return state


def find_files(source: Source) -> Found:
    """The files to consider, with their bytes: every file of a landing folder (or the named ones)
    in arrival order, or the files a published run processed, from its archive."""
    if isinstance(source, FromArchive):
        return Found(raw_archive.replay(source.warehouse, source.run_id), [], [])
    landing: Landing = select(list_landing(source.folder, source.settle_seconds), source.only)
    return Found([read_snapshot(f) for f in landing.files], landing.refused, landing.waiting)


def split_known(
    raws: list[RawSnapshot], state: State, retry_rejected: bool = False
) -> tuple[list[RawSnapshot], list[RawSnapshot]]:
    """(files to process, files whose exact bytes were ingested before or appear twice in this
    batch). With `retry_rejected`, files rejected before are processed again (after a fix of the
    configuration, say --year); otherwise a rejection stands."""
    snapshots = state.snapshots
    if retry_rejected:
        snapshots = snapshots.filter(pl.col("status") != SnapshotStatus.REJECTED)
    seen = set(snapshots["snapshot_id"].to_list())
    new: list[RawSnapshot] = []
    known: list[RawSnapshot] = []
    for raw in raws:
        (known if raw.snapshot_id in seen else new).append(raw)
        seen.add(raw.snapshot_id)
    return new, known


def years_of(raws: list[RawSnapshot], year: int | None) -> dict[str, int | None]:
    """The --year each file is processed with: a replayed file keeps the year it was processed with."""
    return {raw.snapshot_id: raw.file.year if raw.file.year is not None else year for raw in raws}


def in_batches(raws: list[RawSnapshot], max_bytes: int = PREPARE_BATCH_BYTES) -> Iterator[list[RawSnapshot]]:
    """Consecutive files, about `max_bytes` of them at a time (at least one file each)."""
    batch: list[RawSnapshot] = []
    size = 0
    for raw in raws:
        if batch and size + len(raw.raw) > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(raw)
        size += len(raw.raw)
    if batch:
        yield batch


def prepare_batch(batch: list[tuple[RawSnapshot, int | None]]) -> list[PreparedSnapshot]:
    """Decode, parse, date, normalise and identify a batch of files (each with its --year), as one frame."""
    return prepare_snapshots(batch)


def plan_run(
    warehouse: Warehouse,
    ctx: RunContext,
    state: State,
    prepared: list[PreparedSnapshot],
    known: list[RawSnapshot],
    refused: list[Refused],
    waiting: list[Waiting],
) -> Plan:
    """Curate the checked snapshots into what they change in the published tables (reading only
    the rows they may change), and say what became of every file."""
    change = increment(warehouse, prepared, ctx.run_id, ctx.started_at)
    new_rows = change.touched.snapshots
    outcomes = [
        FileOutcome(
            r["source_name"],
            FileStatus(r["status"]),
            r["snapshot_date"].isoformat() if r["snapshot_date"] else None,
            r["n_records"],
            r["reason"],
            r["n_quarantined"],
        )
        for r in new_rows.iter_rows(named=True)
    ]
    first_names = dict(state.snapshots.select("snapshot_id", "source_name").iter_rows())
    outcomes += [
        FileOutcome(
            raw.file.source_name,
            FileStatus.ALREADY_INGESTED,
            reason=f"same bytes as {first_names.get(raw.snapshot_id, 'a file earlier in this run')}",
        )
        for raw in known
    ]
    renewed = set(new_rows["snapshot_id"])
    outcomes += [  # retried, and rejected again for the same reason: its row stands, unchanged
        FileOutcome(s.source_name, FileStatus.REJECTED, reason=f"rejected again: {s.verdict.reason}")
        for s in prepared
        if s.verdict is not None and s.snapshot_id not in renewed
    ]
    outcomes += [FileOutcome(r.source_name, FileStatus.REFUSED, reason=r.reason) for r in refused]
    outcomes += [FileOutcome(w.source_name, FileStatus.WAITING, reason=w.reason) for w in waiting]
    rows = state.version.rows if state.version else {}
    appearances = change.change(APPEARANCES)
    summary = RunSummary(
        run_id=ctx.run_id,
        status=RunStatus.PUBLISHED if new_rows.height else RunStatus.NOOP,
        dataset_version=state.version.number if state.version else None,
        warehouse=ctx.warehouse,
        landing=ctx.landing,
        outcomes=outcomes,
        n_new_papers=len(change.new_papers),
        n_updated_papers=len(change.updated_papers),
        n_papers=rows.get(PAPERS.name, 0) + len(change.new_papers),
        n_appearances=rows.get(APPEARANCES.name, 0) + appearances.upserts.height - appearances.removed().height,
    )
    crash_point("after_plan")
    return Plan(change, summary)


def publish_run(warehouse: Warehouse, ctx: RunContext, state: State, plan: Plan, gate: Gate) -> RunSummary:
    """Check the plan with the publish gate, then publish it as the next dataset version.

    The one place that publishes; it cannot publish without passing the gate. A run with nothing
    new is recorded as a no-op; a run the gate blocks is recorded as failed (and run_ingest raises
    PublishBlocked once its report is written).
    """
    summary = plan.summary
    if summary.status is RunStatus.NOOP:
        message = f"nothing new: dataset version {summary.dataset_version} stays current"
        warehouse.append_run(run_row(ctx, summary, message, RunStatus.NOOP, None))
        return replace(summary, message=message)
    number = (state.version.number if state.version else 0) + 1
    report = warehouse.layout.report(ctx.run_id)  # written by finish_run, with every check
    row = run_row(ctx, summary, "", RunStatus.PUBLISHED, report) | {"dataset_version": number}
    candidate_runs = pl.concat([warehouse.runs(), RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))])
    verdict = check_publish(gate, plan.increment.touched, candidate_runs, plan.increment.snapshots)
    summary = replace(summary, checks=verdict.checks)
    crash_point("after_publish_gate")
    if verdict.failures:
        message = (
            f"publish gate failed, nothing published (dataset version {summary.dataset_version} stays current):\n"
            f"{verdict.failures}"
        )
        warehouse.append_run(run_row(ctx, summary, message, RunStatus.FAILED, report))
        return replace(summary, status=RunStatus.FAILED, message=message)
    message = (
        f"published dataset version {number}: {summary.count(FileStatus.ACCEPTED)} accepted, "
        f"{summary.count(FileStatus.DUPLICATE)} duplicate, {summary.count(FileStatus.REJECTED)} rejected, "
        f"{summary.n_quarantined} records quarantined; "
        f"{summary.n_new_papers} new and {summary.n_updated_papers} updated papers"
    )
    version = warehouse.publish(plan.increment.changes, run_row(ctx, summary, message, RunStatus.PUBLISHED, report), state.version)
    summary = replace(summary, message=message, dataset_version=version.number)
    try:
        write_duckdb_file(warehouse, version)
    except Exception as error:  # noqa: BLE001 - published already: reported, and the next run rewrites the file
        summary = with_problem(summary, f"the DuckDB file was not rewritten (the next run rewrites it): {_one_line(error)}")
    crash_point("after_duckdb_file")
    return summary


def finish_run(warehouse: Warehouse, summary: RunSummary, changed: Changed | None = None) -> RunSummary:
    """Write the release of the current version (a no-op or blocked run repairs one a killed run
    missed) and this run's report, each attempted whatever became of the other. The data is published
    already: a failure here is a problem of the summary (the command exits 7), not an error.
    `changed`: what this run changed, so that its release rewrites only those parts."""
    current = warehouse.current()
    if current is not None:
        published_here = summary.status is RunStatus.PUBLISHED and summary.dataset_version == current.number
        try:
            release = write_release(warehouse, current.number, changed if published_here else None)
            summary = replace(summary, release=str(release))
        except Exception as error:  # noqa: BLE001 - `paperfeed export` or the next run writes it
            summary = with_problem(
                summary, f"the release of dataset version {current.number} was not written "
                f"(`paperfeed export` or the next run writes it): {_one_line(error)}"
            )
    try:
        feed = warehouse.scan(APPEARANCES, current).select("snapshot_date", "paper_id", "is_new").collect() if current else None
        report = write_run_report(warehouse, summary, feed_by_date(feed) if feed is not None else [])
        summary = replace(summary, run_report=str(report))
    except Exception as error:  # noqa: BLE001 - the run is recorded in `runs` all the same
        summary = with_problem(summary, f"the run report was not written: {_one_line(error)}")
    return summary


def release_changes(increment: Increment) -> Changed:
    """What a run's increment changed, as its release needs it: per table, the parts (weeks) of
    the rows it wrote or removed; the papers it added and updated."""
    parts: dict[str, set[str] | None] = {}
    for name, change in increment.changes.items():
        rows = pl.concat([change.upserts, change.removed()])
        parts[name] = set(rows.select(part(change.table))[:, 0].to_list()) if rows.height else set()
    return Changed(parts, Changes(increment.new_papers, increment.updated_papers))


def with_problem(summary: RunSummary, problem: str) -> RunSummary:
    return replace(summary, problems=[*summary.problems, problem])


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_row(ctx: RunContext, summary: RunSummary, message: str, status: RunStatus, report: Path | None) -> dict[str, Any]:
    """The run's row of the `runs` table."""
    return {
        "run_id": ctx.run_id,
        "started_at": ctx.started_at,
        "finished_at": dt.datetime.now(dt.UTC),
        "status": status,
        "dataset_version": summary.dataset_version,
        "landing": ctx.landing,
        "n_files": len(summary.outcomes),
        "n_already_ingested": summary.count(FileStatus.ALREADY_INGESTED),
        "n_accepted": summary.count(FileStatus.ACCEPTED),
        "n_duplicate": summary.count(FileStatus.DUPLICATE),
        "n_rejected": summary.count(FileStatus.REJECTED),
        "n_quarantined": summary.n_quarantined,
        "n_new_papers": summary.n_new_papers,
        "n_updated_papers": summary.n_updated_papers,
        "n_papers": summary.n_papers,
        "n_appearances": summary.n_appearances,
        "table_versions": [],
        "message": message,
        "quality_report": str(report) if report else None,
        "checks": [check.__dict__ for check in summary.checks],
    }
