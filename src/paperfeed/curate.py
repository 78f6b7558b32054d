"""Curate: the published tables plus a batch of prepared snapshots -> the next tables. Pure.

Appearances accumulate; papers and paper_versions are recomputed from all of them each run, so
the result does not depend on the order in which snapshots arrived (first_seen is the earliest
date, versions are ordered by snapshot date). Abstract texts are kept in paper_versions, which is
all a later run needs besides the appearances.

Order of sightings, wherever "newest" matters: snapshot date, then source name, then snapshot id.
Two snapshots of one date have no time of day; their names are the only order they carry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from paperfeed.contracts import APPEARANCES, PAPER_VERSIONS, PAPERS, SNAPSHOTS
from paperfeed.snapshot import PreparedSnapshot

SIGHTING_ORDER = ["snapshot_date", "source_name", "snapshot_id"]
TEXT_COLUMNS = ["paper_id", "abstract_hash", "abstract", "abstract_raw", "links", "is_truncated"]


@dataclass(frozen=True)
class Tables:
    """The data tables of one dataset version."""

    snapshots: pl.DataFrame
    appearances: pl.DataFrame
    papers: pl.DataFrame
    paper_versions: pl.DataFrame

    @classmethod
    def empty(cls) -> Tables:
        return cls(SNAPSHOTS.empty(), APPEARANCES.empty(), PAPERS.empty(), PAPER_VERSIONS.empty())

    def as_dict(self) -> dict[str, pl.DataFrame]:
        return {
            "snapshots": self.snapshots,
            "appearances": self.appearances,
            "papers": self.papers,
            "paper_versions": self.paper_versions,
        }


def snapshot_rows(
    previous: pl.DataFrame, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime
) -> pl.DataFrame:
    """Decide each incoming snapshot's status: rejected, duplicate (same content) or accepted."""
    accepted = previous.filter(pl.col("status") == "accepted")
    seen: dict[str, tuple[str, str]] = {
        cid: (sid, name)
        for cid, sid, name in accepted.select("content_id", "snapshot_id", "source_name").iter_rows()
    }
    rows = []
    for snap in incoming:  # one iteration per file, not per record
        status, duplicate_of, reason = "accepted", None, None
        if snap.rejected:
            status, reason = "rejected", "; ".join(snap.problems)
        elif snap.records.is_empty():
            status, reason = "rejected", "no usable records: " + "; ".join(snap.faults["problem"].unique().to_list())
        elif snap.content_id in seen:
            duplicate_of, first_name = seen[snap.content_id]
            status, reason = "duplicate", f"same records as {first_name} ({duplicate_of[:12]})"
        else:
            seen[snap.content_id or ""] = (snap.snapshot_id, snap.source_name)
        rows.append(
            {
                "snapshot_id": snap.snapshot_id,
                "content_id": snap.content_id,
                "source_name": snap.source_name,
                "arrived_at": snap.arrived_at,
                "n_bytes": snap.n_bytes,
                "encoding": snap.encoding,
                "date_text": snap.date_text,
                "snapshot_date": snap.snapshot_date,
                "date_source": snap.date_source,
                "status": status,
                "duplicate_of": duplicate_of,
                "n_records": snap.records.height,
                "n_truncated": int(snap.records["is_truncated"].sum()) if snap.records.height else 0,
                "reason": reason,
                "run_id": run_id,
                "ingested_at": now,
            }
        )
    new = pl.DataFrame(rows, schema=SNAPSHOTS.schema) if rows else SNAPSHOTS.empty()
    return pl.concat([previous, new])


def new_sightings(incoming: list[PreparedSnapshot], statuses: pl.DataFrame) -> pl.DataFrame:
    """Records of the accepted incoming snapshots, tagged with their snapshot."""
    accepted = set(statuses.filter(pl.col("status") == "accepted")["snapshot_id"].to_list())
    frames = [
        snap.records.with_columns(
            snapshot_id=pl.lit(snap.snapshot_id), snapshot_date=pl.lit(snap.snapshot_date, pl.Date)
        )
        for snap in incoming
        if snap.snapshot_id in accepted
    ]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def curate(previous: Tables, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime) -> Tables:
    snapshots = snapshot_rows(previous.snapshots, incoming, run_id, now)
    sightings = new_sightings(incoming, snapshots)
    texts = previous.paper_versions.select(TEXT_COLUMNS)
    appearances = previous.appearances
    if not sightings.is_empty():
        texts = pl.concat([texts, sightings.select(TEXT_COLUMNS)]).unique(
            ["paper_id", "abstract_hash"], keep="first", maintain_order=True
        )
        appearances = pl.concat([appearances, sightings.with_columns(is_new=pl.lit(False))], how="diagonal_relaxed")
    ordered = appearances.join(snapshots.select("snapshot_id", "source_name"), on="snapshot_id").sort(
        [*SIGHTING_ORDER, "rank"]
    )
    versions = build_versions(ordered, texts)
    return Tables(
        snapshots=SNAPSHOTS.conform(snapshots),
        appearances=APPEARANCES.conform(
            ordered.with_columns(is_new=pl.col("snapshot_date") == pl.col("snapshot_date").min().over("paper_id"))
        ),
        papers=build_papers(ordered, versions),
        paper_versions=versions,
    )


def build_versions(ordered: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """SCD type 2 over each paper's abstracts: a new version whenever the abstract changes.

    A truncated abstract never makes a version while the paper has a complete one.
    """
    has_complete = (~pl.col("is_truncated")).any().over("paper_id")
    timeline = (
        ordered.filter(~pl.col("is_truncated") | ~has_complete)
        .with_columns(
            changed=(pl.col("abstract_hash") != pl.col("abstract_hash").shift(1).over("paper_id")).fill_null(True)
        )
        .with_columns(version=pl.col("changed").cast(pl.Int64).cum_sum().over("paper_id"))
    )
    versions = (
        timeline.group_by("paper_id", "version", maintain_order=True)
        .agg(
            pl.col("abstract_hash").first(),
            valid_from=pl.col("snapshot_date").min(),
            times_seen=pl.len().cast(pl.Int64),
        )
        .sort("paper_id", "version")
        .with_columns(
            valid_to=pl.col("valid_from").shift(-1).over("paper_id"),
            is_current=pl.col("version") == pl.col("version").max().over("paper_id"),
        )
        .join(texts, on=["paper_id", "abstract_hash"], how="left")
    )
    return PAPER_VERSIONS.conform(versions)


def build_papers(ordered: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    newest = ordered.group_by("paper_id", maintain_order=True).agg(
        pl.col("title").last(),
        pl.col("title_raw").last(),
        latest_rank=pl.col("rank").last(),
        first_seen=pl.col("snapshot_date").min(),
        last_seen=pl.col("snapshot_date").max(),
        times_seen=pl.len().cast(pl.Int64),
        dates_seen=pl.col("snapshot_date").n_unique().cast(pl.Int64),
        best_rank=pl.col("rank").min(),
    )
    current = versions.filter(pl.col("is_current")).select(
        "paper_id", "abstract", "abstract_raw", "links", abstract_is_truncated="is_truncated"
    )
    n_versions = versions.group_by("paper_id").agg(n_versions=pl.len().cast(pl.Int64))
    papers = newest.join(current, on="paper_id", how="left").join(n_versions, on="paper_id", how="left")
    return PAPERS.conform(papers.sort("first_seen", "best_rank", "paper_id"))
