"""Backfill: snapshot files one run each, in date order (files whose date cannot be read last),
optionally only those dated within a range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from paperfeed.model.inputs import Refused
from paperfeed.ops.cluster import Cluster
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import GateFactory, great_expectations_gate, run_ingest
from paperfeed.ops.steps import Steps
from paperfeed.prepare.snapshot import prepare_snapshot
from paperfeed.publish.summary import RunSummary
from paperfeed.storage.landing import LandingPlace, list_landing, read_snapshot, select
from paperfeed.storage.warehouse import Warehouse


@dataclass(frozen=True)
class BackfillPlan:
    order: list[str]  # file names, in the order to ingest them
    refused: list[Refused]  # links out of the landing folder, never read


@dataclass(frozen=True)
class Backfill:
    runs: list[RunSummary]
    refused: list[Refused]


def plan_backfill(
    landing: LandingPlace, names: list[str] | None, year: int | None, since: dt.date | None, until: dt.date | None
) -> BackfillPlan:
    """The named files (all, without names) dated within [since, until], in date order; files whose
    date cannot be read come last (their runs will say why), in name order."""
    listed = list_landing(landing)
    refused = [r for r in listed.refused if names is None or r.source_name in names]
    files = select(listed, [n for n in names if n not in {r.source_name for r in refused}] if names else None).files
    dated = [(prepare_snapshot(read_snapshot(f), year).snapshot_date, f.source_name) for f in files]
    within = [
        (day, name)
        for day, name in dated
        if day is None or ((since is None or day >= since) and (until is None or day <= until))
    ]
    if since is not None or until is not None:
        within = [(day, name) for day, name in within if day is not None]
    order = sorted(within, key=lambda item: (item[0] is None, item[0] or dt.date.min, item[1]))
    return BackfillPlan([name for _, name in order], refused)


def backfill(
    warehouse: Warehouse,
    plan: BackfillPlan,
    landing: LandingPlace,
    year: int | None,
    *,
    steps: Steps | None = None,
    gate: GateFactory = great_expectations_gate,
    lock_wait_seconds: float = 0,
    cluster: Cluster | None = None,
) -> Backfill:
    """Ingest the planned files one run each, in the plan's order, with the lock held throughout."""
    runs = []
    with warehouse.lock("backfill", lock_wait_seconds, on_wait=(steps or Steps()).say):
        for name in plan.order:
            request = IngestRequest(FromLanding(landing, only=[name]), year)
            runs.append(run_ingest(warehouse, request, steps=steps, gate=gate, lock_wait_seconds=lock_wait_seconds, cluster=cluster))
    return Backfill(runs, plan.refused)
