"""What each suite validates: the frames the quality gate hands to Great Expectations. Pure.

Great Expectations validates one table at a time, so the rules that span tables (an appearance
points at an existing paper, times_seen equals the number of appearances, ...) are expressed as
`check_*` columns computed here and constrained by the suites in expectations/. The suites hold
every threshold and pattern; this module only lays the facts side by side.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.status import SnapshotStatus
from paperfeed.model.tables import Tables
from paperfeed.quality.mojibake import with_mojibake_checks

SNAPSHOT_SUITE = "snapshot"
RECORDS_SUITE = "records"
LINKS_SUITE = "links"


def snapshot_profiles(snapshots: list[PreparedSnapshot]) -> pl.DataFrame:
    """One row per incoming file: the facts the `snapshot` suite judges."""
    return pl.DataFrame(
        [
            {
                "source_name": s.source_name,
                "n_bytes": s.n_bytes,
                "encoding": s.encoding,
                "control_ratio": s.control_chars / max(s.n_chars, 1),
                "first_line": s.first_line,
                "header_lines": s.header_lines,
                "date_text": s.date_text,
                "snapshot_date": s.snapshot_date,
                "n_records": s.records.height,
                "detail": s.detail,
            }
            for s in snapshots
        ],
        schema={
            "source_name": pl.String, "n_bytes": pl.Int64, "encoding": pl.String, "control_ratio": pl.Float64,
            "first_line": pl.String, "header_lines": pl.Int64, "date_text": pl.String, "snapshot_date": pl.Date,
            "n_records": pl.Int64, "detail": pl.String,
        },
    )


RECORD_COLUMNS = [
    "rank", "line", "title", "abstract", "title_raw", "abstract_raw", "is_truncated", "ambiguous", "repeat_of_rank",
]


def record_rows(snapshots: list[PreparedSnapshot]) -> pl.DataFrame:
    """Every record of the snapshots, in their order, one frame: what the `records` suite judges."""
    return with_mojibake_checks(pl.concat([s.records.select(RECORD_COLUMNS) for s in snapshots]))


def publish_frames(
    tables: Tables, runs: pl.DataFrame | None, snapshots: pl.DataFrame | None = None, referenced: Collection[str] = ()
) -> dict[str, pl.DataFrame]:
    """Suite name -> the frame it validates: each table with its cross-table `check_*` columns.

    `tables` holds the rows to check (a run's: its snapshot rows, every row of the papers it
    touches, what it set aside); `runs`, the runs table with the row that would publish them
    (None: the `runs` suite is left out); `snapshots`, every snapshot row the appearances may
    point at (default: tables.snapshots); `referenced`, published papers outside `tables` that
    paper_matches rows name (they exist: storage found them)."""
    snapshots = tables.snapshots if snapshots is None else snapshots
    accepted = snapshots.filter(pl.col("status") == SnapshotStatus.ACCEPTED)
    paper_ids = tables.papers["paper_id"].implode()
    rank_limits = accepted.select(
        "snapshot_id", check_rank_limit=pl.col("n_records") + pl.col("n_quarantined")
    )
    appearances = (
        tables.appearances.with_columns(
            check_paper_exists=pl.col("paper_id").is_in(paper_ids),
            check_snapshot_accepted=pl.col("snapshot_id").is_in(accepted["snapshot_id"].implode()),
        )
        .join(rank_limits, on="snapshot_id", how="left")
    )
    counts = tables.appearances.group_by("paper_id").agg(check_n_appearances=pl.len().cast(pl.Int64))
    n_titles = tables.paper_titles.group_by("paper_id").agg(check_n_titles=pl.len().cast(pl.Int64))
    current = tables.paper_versions.group_by("paper_id").agg(
        check_current_versions=pl.col("is_current").sum().cast(pl.Int64)
    )
    papers = with_mojibake_checks(
        tables.papers.join(counts, on="paper_id", how="left")
        .join(current, on="paper_id", how="left")
        .join(n_titles, on="paper_id", how="left")
        .with_columns(pl.col("check_n_appearances", "check_current_versions", "check_n_titles").fill_null(0))
    )
    versions = with_mojibake_checks(
        tables.paper_versions.with_columns(
            check_paper_exists=pl.col("paper_id").is_in(paper_ids),
            title_raw=pl.lit(None, pl.String),
        )
    ).drop("title_raw", "check_mojibake_title")
    links = pl.concat(
        [
            frame.select("paper_id", pl.col("links")).explode("links").drop_nulls("links").unnest("links")
            for frame in (tables.papers, tables.paper_versions)
        ]
    )
    titles = tables.paper_titles.with_columns(check_paper_exists=pl.col("paper_id").is_in(paper_ids))
    known = pl.concat([tables.papers["paper_id"], pl.Series(list(referenced), dtype=pl.String)]).implode()
    matches = tables.paper_matches.with_columns(
        check_paper_exists=pl.col("paper_id").is_in(known),
        check_other_paper_exists=pl.col("other_paper_id").is_in(known),
        check_sides=(pl.col("decision") == "joined") == (pl.col("paper_id") == pl.col("other_paper_id")),
    )
    frames = {
        "snapshots": tables.snapshots,
        "appearances": appearances,
        "papers": papers,
        "paper_versions": versions,
        "paper_titles": titles,
        "paper_matches": matches,
        "quarantine": tables.quarantine,
        LINKS_SUITE: links,
    }
    return frames if runs is None else frames | {"runs": runs}
