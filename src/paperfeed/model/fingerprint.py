"""Content fingerprints: one hash per table that ignores row order and run bookkeeping columns.

Two warehouses with the same data have the same fingerprints, whenever and however they were
built (incrementally, or rebuilt from the raw archive).
"""

from __future__ import annotations

import hashlib

import polars as pl

from paperfeed.model.contracts import TableContract


def fingerprint(frame: pl.DataFrame, contract: TableContract) -> str:
    columns = [c for c in contract.column_names if c not in contract.volatile]
    rows = (
        contract.conform(frame)
        .select(pl.struct(columns).struct.json_encode().alias("row"))
        .sort("row")
        .select(pl.col("row").str.join("\n"))
    )
    return hashlib.sha256(rows.item().encode("utf-8")).hexdigest()
