"""The Prefect flows: one ingest run, a backfill, a rebuild. Each hands the library's run to
Prefect's task steps; what a run does is written once, in paperfeed/ops/."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from paperfeed.config import DEFAULT_LOCK_WAIT_SECONDS, PREPARE_BATCH_BYTES
from paperfeed.ops.backfill import Backfill, plan_backfill
from paperfeed.ops.backfill import backfill as backfill_files
from paperfeed.ops.cluster import connected
from paperfeed.ops.context import FromArchive, FromLanding, IngestRequest
from paperfeed.ops.rebuild import Rebuilt
from paperfeed.ops.rebuild import rebuild as rebuild_warehouse
from paperfeed.ops.run import PublishedWithProblems, run_ingest
from paperfeed.publish.summary import RunSummary
from paperfeed.storage.landing import landing_at
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.warehouse import Warehouse
from paperfeed_flows.tasks import PrefectSteps


# Retried as a whole when it fails (a scheduled run that met a full disk, a lock held too long);
# the command line turns this off, to answer at once.
@flow(name="paperfeed-ingest", log_prints=False, retries=2, retry_delay_seconds=300)
def ingest(
    landing: str,
    warehouse: str,
    year: int | None = None,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    retry_rejected: bool = False,
    replay_from: str | None = None,
    replay_run: str | None = None,
    only: list[str] | None = None,
    settle_seconds: float = 0,
    run_id: str | None = None,
    dask_address: str | None = None,
    batch_mb: int | None = None,
) -> RunSummary:
    """Ingest the new files of `landing` into `warehouse` as one dataset version (only the files
    named in `only`, if given); or, with `replay_from` and `replay_run`, the files that published
    run of that warehouse processed, from its raw archive. A file modified less than
    `settle_seconds` ago is left for a later run. Given `dask_address`, each batch's per-file work
    runs on that Dask cluster's workers. New files are taken about `batch_mb` MB at a time
    (default PREPARE_BATCH_BYTES): peak memory follows it."""
    if replay_from is not None and replay_run is not None:
        source: FromLanding | FromArchive = FromArchive(WarehouseLayout.at(replay_from), replay_run)
    elif replay_from is not None:
        raise ValueError("replay_from needs replay_run: the published run to replay")
    else:
        source = FromLanding(landing_at(landing), settle_seconds, only)
    request = IngestRequest(source, year, retry_rejected, run_id)
    try:
        with connected(dask_address) as cluster:
            summary = run_ingest(
                Warehouse.at(warehouse), request, steps=PrefectSteps(), lock_wait_seconds=lock_wait_seconds, cluster=cluster,
                batch_bytes=batch_mb * 2**20 if batch_mb else PREPARE_BATCH_BYTES,
            )
    except PublishedWithProblems as problems:
        report(problems.summary)
        raise
    report(summary)
    return summary


@flow(name="paperfeed-backfill", log_prints=False)
def backfill(
    landing: str,
    warehouse: str,
    names: list[str] | None = None,
    year: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    dask_address: str | None = None,
) -> Backfill:
    """Ingest snapshot files one run each, in date order (optionally only those dated within
    [since, until]); the files whose date cannot be read last."""
    plan = plan_backfill(landing_at(landing), names, year, since, until)
    with connected(dask_address) as cluster:
        done = backfill_files(
            Warehouse.at(warehouse), plan, landing_at(landing), year, steps=PrefectSteps(), lock_wait_seconds=lock_wait_seconds,
            cluster=cluster,
        )
    for summary in done.runs:
        report(summary)
    return done


@flow(name="paperfeed-rebuild", log_prints=False)
def rebuild(warehouse: str, into: str) -> Rebuilt:
    """Recreate every dataset version of `warehouse` from its raw archive into the empty folder
    `into`, and compare each version's table fingerprints."""
    rebuilt = rebuild_warehouse(Warehouse.at(warehouse), Warehouse.at(into), steps=PrefectSteps())
    get_run_logger().info("rebuilt %d versions: %s", len(rebuilt.versions), "the same" if rebuilt.equal else "they differ")
    return rebuilt


def report(summary: RunSummary) -> None:
    """The run's summary as the flow run's markdown artifact, and its message in the run's log."""
    create_markdown_artifact(summary.to_markdown(), key="paperfeed-run", description=summary.message)
    get_run_logger().info(summary.message)
