"""The end of a run: record it in `runs` (publishing its tables as the next dataset version, or as
a no-op or a blocked run), then its release and its report.

Everything after the `runs` commit is attempted whatever became of the rest, and a failure there is
a problem of the summary (the command exits 7), never a lost version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from paperfeed.curate.changes import Changes
from paperfeed.model.contracts import APPEARANCES, PAPERS, RUNS
from paperfeed.model.status import FileStatus, RunStatus
from paperfeed.ops.batches import Progress, combine_checks
from paperfeed.ops.context import RunContext
from paperfeed.publish.summary import RunSummary, feed_by_date
from paperfeed.quality.gate import Gate
from paperfeed.storage.duckdb import write_duckdb_file
from paperfeed.storage.faults import crash_point
from paperfeed.storage.releases import Changed, write_release, write_run_report
from paperfeed.storage.warehouse import DatasetVersion, Warehouse


def commit_run(warehouse: Warehouse, ctx: RunContext, base: DatasetVersion | None, progress: Progress, gate: Gate) -> RunSummary:
    """Record the run: publish what its batches wrote as the next dataset version (after the
    `runs` suite of the publish gate); if they changed no data (rejected or duplicate files only),
    record it, the current version staying; if nothing changed, a no-op. A run the gate blocked is
    recorded as failed, and what its batches wrote is rolled back."""
    status = RunStatus.NOOP if not progress.changed else RunStatus.PUBLISHED if progress.data_changed else RunStatus.RECORDED
    summary = RunSummary(
        run_id=ctx.run_id,
        status=status,
        dataset_version=base.number if base else None,
        warehouse=ctx.warehouse,
        landing=ctx.landing,
        outcomes=progress.outcomes,
        n_new_papers=len(progress.new_papers),
        n_updated_papers=len(progress.updated_papers),
        n_papers=progress.written.rows.get(PAPERS.name, 0),
        n_appearances=progress.written.rows.get(APPEARANCES.name, 0),
        n_matched=progress.n_matched,
        n_candidates=progress.n_candidates,
        matches=list(progress.matches),
        n_merged_papers=len(progress.merged_papers),
        checks=progress.checks,
    )
    if summary.status is RunStatus.NOOP:
        empty = f"{ctx.landing} holds no files; " if not summary.outcomes else ""
        message = f"nothing new: {empty}{what_stays(summary.dataset_version)}"
        warehouse.append_run(run_row(ctx, summary, message, RunStatus.NOOP, None))
        return replace(summary, message=message)
    number = (base.number if base else 0) + 1
    report = warehouse.layout.report(ctx.run_id)  # written by finish_run, with every check
    failures = progress.failures
    if not failures:
        row = run_row(ctx, summary, "", status, report)
        if status is RunStatus.PUBLISHED:
            row["dataset_version"] = number
        runs = pl.concat([warehouse.runs(), RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))])
        verdict = gate.validate("runs", runs, all_rows=False)
        summary = replace(summary, checks=combine_checks(summary.checks, verdict.checks))
        failures = verdict.summary(runs)
    if failures:
        message = (
            f"publish gate failed, nothing published ({what_stays(summary.dataset_version)}):\n{failures}"
        )
        warehouse.append_run(run_row(ctx, summary, message, RunStatus.FAILED, report))
        warehouse.recover()  # the batches' writes: no version names them
        return replace(summary, status=RunStatus.FAILED, message=message)
    if status is RunStatus.RECORDED:
        what = [f"{n} {kind}" for kind in (FileStatus.REJECTED, FileStatus.DUPLICATE) if (n := summary.count(kind))]
        message = (
            f"no new data ({', '.join(what)}), nothing published: {what_stays(summary.dataset_version)}; "
            "these files' rows are recorded and go out with the next version"
        )
        warehouse.record(run_row(ctx, summary, message, status, report), progress.written)
        return replace(summary, message=message)
    message = (
        f"published dataset version {number}: {summary.count(FileStatus.ACCEPTED)} accepted, "
        f"{summary.count(FileStatus.DUPLICATE)} duplicate, {summary.count(FileStatus.REJECTED)} rejected, "
        f"{summary.n_quarantined} records quarantined; "
        f"{summary.n_new_papers} new and {summary.n_updated_papers} updated papers"
    )
    version = warehouse.commit(run_row(ctx, summary, message, RunStatus.PUBLISHED, report), progress.written, number)
    summary = replace(summary, message=message, dataset_version=version.number)
    try:
        write_duckdb_file(warehouse, version)
    except Exception as error:  # noqa: BLE001 - published already: reported, and the next run rewrites the file
        summary = with_problem(summary, f"the DuckDB file was not rewritten (the next run rewrites it): {_one_line(error)}")
    crash_point("after_duckdb_file")
    return summary


def finish_run(warehouse: Warehouse, summary: RunSummary, progress: Progress) -> RunSummary:
    """Write the release of the current version (a no-op or blocked run repairs one a killed run
    missed) and this run's report, each attempted whatever became of the other."""
    current = warehouse.current()
    if current is not None:
        published_here = summary.status is RunStatus.PUBLISHED and summary.dataset_version == current.number
        changed = Changed(progress.parts, Changes(sorted(progress.new_papers), sorted(progress.updated_papers)))
        try:
            # Only the parts this run changed are written anew, unless runs recorded rows since the
            # previous version: then every part is (their parts are not known here).
            release = write_release(warehouse, current.number, changed if published_here and progress.from_published else None)
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
        "n_matched": summary.n_matched,
        "n_merged_papers": summary.n_merged_papers,
        "n_candidates": summary.n_candidates,
        "table_versions": [],
        "message": message,
        "quality_report": str(report) if report else None,
        "checks": [check.__dict__ for check in summary.checks],
    }


def what_stays(number: int | None) -> str:
    """What stays, when a run publishes nothing."""
    return f"dataset version {number} stays current" if number is not None else "nothing is published yet"
