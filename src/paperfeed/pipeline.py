"""The steps of one ingest run, as plain functions; the Prefect flow in flows/ composes them.

    start_run -> load_state -> list_landing / read_snapshot -> split_known -> prepare_snapshot
              -> plan_run (curate) -> publish_run (Delta tables, then the runs commit, then DuckDB file)
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from paperfeed.changes import paper_changes
from paperfeed.curate import Tables, curate
from paperfeed.duckdb_io import write_duckdb_file
from paperfeed.landing_io import RawSnapshot
from paperfeed.snapshot import PreparedSnapshot
from paperfeed.summary import RunSummary, SnapshotOutcome
from paperfeed.warehouse_io import DatasetVersion, Warehouse


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


def load_state(warehouse: Path) -> State:
    """Roll back what a killed run left half-written, then read the current dataset version."""
    store = Warehouse(warehouse)
    store.recover()
    version = store.current()
    return State(version, store.read(version))


def split_known(raws: list[RawSnapshot], state: State) -> tuple[list[RawSnapshot], list[RawSnapshot]]:
    """(new files, files whose exact bytes were ingested before or appear twice in this batch)."""
    seen = set(state.tables.snapshots["snapshot_id"].to_list())
    new: list[RawSnapshot] = []
    known: list[RawSnapshot] = []
    for raw in raws:
        (known if raw.snapshot_id in seen else new).append(raw)
        seen.add(raw.snapshot_id)
    return new, known


def plan_run(ctx: RunContext, state: State, prepared: list[PreparedSnapshot], known: list[RawSnapshot]) -> Plan:
    tables = curate(state.tables, prepared, ctx.run_id, ctx.started_at)
    new_rows = tables.snapshots.filter(run_id=ctx.run_id)
    outcomes = [
        SnapshotOutcome(
            r["source_name"],
            r["status"],
            r["snapshot_date"].isoformat() if r["snapshot_date"] else None,
            r["n_records"],
            r["reason"],
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
    changes = paper_changes(state.tables.papers, tables.papers)
    status = "published" if new_rows.height else "noop"
    summary = RunSummary(
        run_id=ctx.run_id,
        status=status,
        dataset_version=state.version.number if state.version else None,
        warehouse=str(ctx.warehouse),
        landing=str(ctx.landing),
        outcomes=outcomes,
        n_new_papers=len(changes.added),
        n_updated_papers=len(changes.updated),
        n_papers=tables.papers.height,
        n_appearances=tables.appearances.height,
    )
    return Plan(tables, summary)


def publish_run(ctx: RunContext, state: State, plan: Plan) -> RunSummary:
    """Publish the plan as the next dataset version, or record a no-op run; return the summary."""
    store = Warehouse(ctx.warehouse)
    summary = plan.summary
    if summary.status == "noop":
        message = f"nothing new: dataset version {summary.dataset_version} stays current"
        store.append_run(_run_row(ctx, summary, message, status="noop"))
        return _finish(summary, message, summary.dataset_version)
    number = (state.version.number if state.version else 0) + 1
    message = (
        f"published dataset version {number}: {summary.count('accepted')} accepted, "
        f"{summary.count('duplicate')} duplicate, {summary.count('rejected')} rejected; "
        f"{summary.n_new_papers} new and {summary.n_updated_papers} updated papers"
    )
    version = store.publish(plan.tables, _run_row(ctx, summary, message, status="published"), state.version)
    write_duckdb_file(store, version)
    return _finish(summary, message, version.number)


def _finish(summary: RunSummary, message: str, version: int | None) -> RunSummary:
    return replace(summary, message=message, dataset_version=version)


def _run_row(ctx: RunContext, summary: RunSummary, message: str, status: str) -> dict[str, Any]:
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
        "n_new_papers": summary.n_new_papers,
        "n_updated_papers": summary.n_updated_papers,
        "n_papers": summary.n_papers,
        "n_appearances": summary.n_appearances,
        "table_versions": [],
        "message": message,
    }
