"""Changes between two versions of the papers table: which paper_ids were added, which updated.
(Papers are never removed: appearances only accumulate.)"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Changes:
    added: list[str]
    updated: list[str]


def paper_changes(before: pl.DataFrame, after: pl.DataFrame) -> Changes:
    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select("paper_id", row=pl.struct(pl.all().exclude("paper_id")).struct.json_encode())

    joined = rows(after).join(rows(before), on="paper_id", how="left", suffix="_before")
    return Changes(
        added=joined.filter(pl.col("row_before").is_null())["paper_id"].sort().to_list(),
        updated=joined.filter(pl.col("row") != pl.col("row_before"))["paper_id"].sort().to_list(),
    )
