"""The steps of one ingest run, as plain functions; the Prefect flow in flows/ composes them.

    start_run -> load_state -> list_landing / read_snapshot (or replay the archive) -> split_known
      -> archive (raw copies and arrivals, before any processing) -> prepare_snapshot
      -> check_snapshots (quality gate: reject files, set records aside)
      -> plan_run (curate)
      -> publish_run (publish gate, then Delta tables, the runs commit, the DuckDB file, Data Docs)
      -> finish_run (the release of the current version, if missing, and this run's report)
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from paperfeed.storage.files import clean_scratch
from paperfeed.curate.changes import paper_changes
from paperfeed.quality.checks import (
    RECORDS_SUITE,
    SNAPSHOT_SUITE,
    apply_record_gate,
    apply_snapshot_gate,
    check_rows,
    publish_frames,
    record_rows,
    snapshot_profiles,
)
from paperfeed.storage import archive as archive_io
from paperfeed.model.contracts import RUNS
from paperfeed.curate.tables import Tables, curate
from paperfeed.storage.duckdb import refresh_duckdb_file, write_duckdb_file
from paperfeed.quality.gx import QualityGate
from paperfeed.storage.faults import crash_point
from paperfeed.storage.landing import RawSnapshot, Refused, Waiting
from paperfeed.prepare.snapshot import PreparedSnapshot
from paperfeed.storage.releases import write_release, write_run_report
from paperfeed.publish.summary import RunSummary, SnapshotOutcome, feed_by_date
from paperfeed.storage.warehouse import DatasetVersion, Warehouse


log = logging.getLogger(__name__)


class PublishBlocked(RuntimeError):
    """The publish gate failed: nothing was published, the previous version stays current."""


@dataclass(frozen=True)
class RunContext:
    run_id: str
    started_at: dt.datetime
    landing: Path
    warehouse: Path
    year: int | None


@dataclass(frozen=True)
class State:
    """The published dataset a run starts from."""

    version: DatasetVersion | None
    tables: Tables


@dataclass(frozen=True)
class Plan:
    tables: Tables
    summary: RunSummary


def start_run(landing: Path, warehouse: Path, year: int | None) -> RunContext:
    now = dt.datetime.now(dt.timezone.utc)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return RunContext(run_id, now, landing.resolve(), warehouse.resolve(), year)


def open_gate(ctx: RunContext) -> QualityGate:
    return QualityGate(ctx.warehouse, ctx.run_id, ctx.started_at)


def load_state(warehouse: Path) -> State:
    """Repair what a killed run left behind (half-written tables, a stale DuckDB file), then read
    the current dataset version."""
    store = Warehouse(warehouse)
    store.recover()
    clean_scratch(store.root)
    crash_point("after_recover")
    version = store.current()
    if version is not None:
        refresh_duckdb_file(store, version)
    state = State(version, store.read(version))
    crash_point("after_load_state")
    return state


def split_known(
    raws: list[RawSnapshot], state: State, retry_rejected: bool = False
) -> tuple[list[RawSnapshot], list[RawSnapshot]]:
    """(files to process, files whose exact bytes were ingested before or appear twice in this
    batch). With `retry_rejected`, files rejected before are processed again (after a fix of the
    configuration, say --year); otherwise a rejection stands."""
    snapshots = state.tables.snapshots
    if retry_rejected:
        snapshots = snapshots.filter(pl.col("status") != "rejected")
    seen = set(snapshots["snapshot_id"].to_list())
    new: list[RawSnapshot] = []
    known: list[RawSnapshot] = []
    for raw in raws:
        (known if raw.snapshot_id in seen else new).append(raw)
        seen.add(raw.snapshot_id)
    return new, known


def years(raws: list[RawSnapshot], year: int | None) -> list[int | None]:
    """The --year each file is processed with: a replayed file keeps the year it was processed with."""
    return [raw.file.year if raw.file.year is not None else year for raw in raws]


def archive(ctx: RunContext, raws: list[RawSnapshot], new: list[RawSnapshot]) -> None:
    """Keep every file this run saw in the raw archive, before any of it is processed."""
    used = dict(zip((raw.snapshot_id for raw in new), years(new, ctx.year)))
    archive_io.archive(ctx.warehouse, raws, set(used), used, ctx.run_id, ctx.started_at)


def check_snapshots(gate: QualityGate, snapshots: list[PreparedSnapshot]) -> list[PreparedSnapshot]:
    """The gate before anything is written: reject bad files, set bad records aside."""
    if not snapshots:
        return []
    profiles = snapshot_profiles(snapshots)
    checked = apply_snapshot_gate(snapshots, gate.validate(SNAPSHOT_SUITE, profiles), profiles)
    crash_point("after_snapshot_gate")
    candidates = [s for s in checked if not s.rejected]
    if not candidates:
        return checked
    # One validation for all records of the run (one report page), split back per snapshot.
    rows = [record_rows(s) for s in candidates]
    report = gate.validate(RECORDS_SUITE, pl.concat(rows))
    gated: dict[str, PreparedSnapshot] = {}
    offset = 0
    for snap, frame in zip(candidates, rows):
        part = replace(report, failures=[_shift(f, offset, frame.height) for f in report.failures])
        gated[snap.snapshot_id] = apply_record_gate(snap, part, frame)
        offset += frame.height
    crash_point("after_record_gate")
    return [gated.get(s.snapshot_id, s) for s in checked]


def _shift(failure: Any, offset: int, height: int) -> Any:
    if failure.rows is None:
        return failure
    return replace(failure, rows=[r - offset for r in failure.rows if offset <= r < offset + height])


def plan_run(
    ctx: RunContext,
    state: State,
    prepared: list[PreparedSnapshot],
    known: list[RawSnapshot],
    refused: list[Refused] | None = None,
    waiting: list[Waiting] | None = None,
) -> Plan:
    tables = curate(state.tables, prepared, ctx.run_id, ctx.started_at)
    new_rows = tables.snapshots.filter(run_id=ctx.run_id)
    outcomes = [
        SnapshotOutcome(
            r["source_name"],
            r["status"],
            r["snapshot_date"].isoformat() if r["snapshot_date"] else None,
            r["n_records"],
            r["reason"],
            r["n_quarantined"],
        )
        for r in new_rows.iter_rows(named=True)
    ]
    first_names = dict(state.tables.snapshots.select("snapshot_id", "source_name").iter_rows())
    outcomes += [
        SnapshotOutcome(
            raw.file.source_name,
            "already ingested",
            reason=f"same bytes as {first_names.get(raw.snapshot_id, 'a file earlier in this run')}",
        )
        for raw in known
    ]
    renewed = set(new_rows["snapshot_id"])
    outcomes += [  # retried, and rejected again for the same reason: its row stands, unchanged
        SnapshotOutcome(s.source_name, "rejected", reason=f"rejected again: {s.verdict.reason}")
        for s in prepared
        if s.verdict is not None and s.snapshot_id not in renewed
    ]
    outcomes += [SnapshotOutcome(r.source_name, "refused", reason=r.reason) for r in refused or []]
    outcomes += [SnapshotOutcome(w.source_name, "waiting", reason=w.reason) for w in waiting or []]
    changes = paper_changes(state.tables.papers, tables.papers)
    summary = RunSummary(
        run_id=ctx.run_id,
        status="published" if new_rows.height else "noop",
        dataset_version=state.version.number if state.version else None,
        warehouse=str(ctx.warehouse),
        landing=str(ctx.landing),
        outcomes=outcomes,
        n_new_papers=len(changes.added),
        n_updated_papers=len(changes.updated),
        n_papers=tables.papers.height,
        n_appearances=tables.appearances.height,
    )
    crash_point("after_plan")
    return Plan(tables, summary)


def publish_run(ctx: RunContext, state: State, plan: Plan, gate: QualityGate) -> RunSummary:
    """Check the plan with the publish gate, then publish it as the next dataset version.

    The one place that publishes; it cannot publish without passing the gate. A run with nothing
    new is recorded as a no-op; a run the gate blocks is recorded as failed and raises.
    """
    store = Warehouse(ctx.warehouse)
    summary = plan.summary
    if summary.status == "noop":
        message = f"nothing new: dataset version {summary.dataset_version} stays current"
        store.append_run(_run_row(ctx, summary, message, "noop", None))
        return replace(summary, message=message)
    number = (state.version.number if state.version else 0) + 1
    row = _run_row(ctx, summary, "", "published", None) | {"dataset_version": number}
    failures, checks = _publish_gate(gate, plan.tables, pl.concat([store.runs(), RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))]))
    summary = replace(summary, checks=checks)
    crash_point("after_publish_gate")
    report = gate.build_docs()
    crash_point("after_docs")
    if failures:
        message = f"publish gate failed, nothing published (dataset version {summary.dataset_version} stays current):\n{failures}"
        store.append_run(_run_row(ctx, summary, message, "failed", report))
        raise PublishBlocked(message + (f"\nquality report: {report}" if report else ""))
    message = (
        f"published dataset version {number}: {summary.count('accepted')} accepted, "
        f"{summary.count('duplicate')} duplicate, {summary.count('rejected')} rejected, "
        f"{summary.n_quarantined} records quarantined; "
        f"{summary.n_new_papers} new and {summary.n_updated_papers} updated papers"
    )
    version = store.publish(plan.tables, _run_row(ctx, summary, message, "published", report), state.version)
    try:
        write_duckdb_file(store, version)
    except Exception as error:  # noqa: BLE001 - published already; the next run rewrites the file
        log.warning("dataset version %s is published, but the DuckDB file was not rewritten: %s", version.number, error)
    crash_point("after_duckdb_file")
    return replace(summary, message=message, dataset_version=version.number, quality_report=str(report) if report else None)


def finish_run(ctx: RunContext, summary: RunSummary) -> RunSummary:
    """Write the release of the current version (a no-op run repairs one a killed run missed) and
    this run's report. The data is published already; a failure here is logged, not fatal."""
    store = Warehouse(ctx.warehouse)
    current = store.current()
    release = None
    try:
        if current is not None:
            release = str(write_release(store, current.number))
        tables = store.read(current)
        summary = replace(summary, release=release)
        report = write_run_report(store, summary.as_dict(), feed_by_date(tables.appearances))
        return replace(summary, run_report=str(report))
    except Exception as error:  # noqa: BLE001 - published already; export or the next run retries
        log.warning("the release or run report of %s was not written: %s", ctx.run_id, error)
        return replace(summary, release=release)


def _publish_gate(gate: QualityGate, tables: Tables, runs: pl.DataFrame) -> tuple[str, list[dict[str, Any]]]:
    """Validate every published table; return the failures in words ('' when all pass) and every
    check, passed or not (the version's data-quality record)."""
    lines, reports = [], []
    for suite, frame in publish_frames(tables, runs).items():
        report = gate.validate(suite, frame)
        reports.append(report)
        if not report.success:
            lines.append(report.summary(frame))
    return "\n".join(lines), check_rows(reports)


def _run_row(ctx: RunContext, summary: RunSummary, message: str, status: str, report: Path | None) -> dict[str, Any]:
    return {
        "run_id": ctx.run_id,
        "started_at": ctx.started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "status": status,
        "dataset_version": summary.dataset_version,
        "landing": str(ctx.landing),
        "n_files": len(summary.outcomes),
        "n_already_ingested": summary.count("already ingested"),
        "n_accepted": summary.count("accepted"),
        "n_duplicate": summary.count("duplicate"),
        "n_rejected": summary.count("rejected"),
        "n_quarantined": summary.n_quarantined,
        "n_new_papers": summary.n_new_papers,
        "n_updated_papers": summary.n_updated_papers,
        "n_papers": summary.n_papers,
        "n_appearances": summary.n_appearances,
        "table_versions": [],
        "message": message,
        "quality_report": str(report) if report else None,
        "checks": summary.checks,
    }
