"""Backfill: which snapshot files to ingest, one run each, and in which order (their dates)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from paperfeed.storage.landing import Refused, list_landing, read_snapshot, select
from paperfeed.prepare.snapshot import prepare_snapshot


def plan_backfill(
    landing: Path, names: list[str] | None, year: int | None, since: dt.date | None, until: dt.date | None
) -> tuple[list[str], list[Refused]]:
    """The named files (all, without names) dated within [since, until], in date order; files whose
    date cannot be read come last (their runs will say why), in name order. And the refused ones
    (links out of the landing folder), never read."""
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
    return [name for _, name in order], refused
