"""A release's parts (weeks), written one week at a time: each holds its week's rows, a week that
spans two months included, and the parts together are the table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from helpers import abstract, feed_bytes, ingest
from paperfeed.model.contracts import APPEARANCES, PAPERS
from paperfeed.storage.warehouse import Warehouse


def test_a_week_across_two_months_is_one_part_and_the_parts_are_the_table(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(
        warehouse,
        ("a.txt", feed_bytes("Mar 28", [("Paper One", abstract("one"))])),  # week 13
        ("b.txt", feed_bytes("Mar 31", [("Paper Two", abstract("two"))])),  # Monday of week 14 (March)
        ("c.txt", feed_bytes("Apr 2", [("Paper Two", abstract("two")), ("Paper Three", abstract("three"))])),  # week 14 (April)
    )
    release = warehouse / "releases" / "version=0001"
    parts = sorted(p.name for p in (release / "appearances").iterdir())
    assert parts == ["2025-W13.parquet", "2025-W14.parquet"]
    week = pl.read_parquet(release / "appearances" / "2025-W14.parquet")
    assert sorted(week["snapshot_date"].cast(pl.String).to_list()) == ["2025-03-31", "2025-04-02", "2025-04-02"]
    store = Warehouse.at(warehouse)
    version = store.current()
    assert version is not None
    for table in (APPEARANCES, PAPERS):
        written = pl.read_parquet(release / table.name / "*.parquet").sort(list(table.key))
        assert written.equals(store.read_table(table, version).sort(list(table.key))), table.name
    listed = {f["path"] for f in json.loads((release / "manifest.json").read_text())["files"] if f["table"] == "appearances"}
    assert listed == {f"appearances/{p}" for p in parts}
