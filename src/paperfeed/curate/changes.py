"""Changes between two versions of the papers table: which paper_ids were added, updated, removed."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Changes:
    added: list[str]
    updated: list[str]
    removed: list[str]


def paper_changes(before: pl.DataFrame, after: pl.DataFrame) -> Changes:
    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select("paper_id", row=pl.struct(pl.all().exclude("paper_id")).struct.json_encode())

    joined = rows(before).join(rows(after), on="paper_id", how="full", suffix="_after", coalesce=True)
    return Changes(
        added=joined.filter(pl.col("row").is_null())["paper_id"].sort().to_list(),
        updated=joined.filter(pl.col("row") != pl.col("row_after"))["paper_id"].sort().to_list(),
        removed=joined.filter(pl.col("row_after").is_null())["paper_id"].sort().to_list(),
    )
