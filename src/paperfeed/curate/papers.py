"""Curate papers: sightings -> appearances, paper versions (SCD type 2) and papers. Pure.

Everything here is decided per paper, from all of that paper's sightings, so the result depends
on what arrived, not on the order or batches it arrived in: first_seen is the earliest date,
versions follow snapshot dates, and every per-text choice is made from all of a text's
sightings. A run recomputes the papers its batch touches and no others (curate/increment.py).

Order of sightings, wherever "newest" matters: snapshot date, then file name (of the first-named
copy, when a file was delivered more than once), then snapshot id. Two snapshots of one date have
no time of day; their names are the only order they carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from paperfeed.model.contracts import APPEARANCES, PAPER_VERSIONS, PAPERS
from paperfeed.model.status import SnapshotStatus

SIGHTING_ORDER = ["snapshot_date", "order_name", "snapshot_id", "rank"]
TEXT_COLUMNS = ["paper_id", "abstract_hash", "abstract", "abstract_raw", "links"]


@dataclass(frozen=True)
class Papers:
    """The paper tables of some papers (all of a dataset's, or those a batch touches)."""

    appearances: pl.DataFrame
    papers: pl.DataFrame
    paper_versions: pl.DataFrame


def curate_papers(
    snapshots: pl.DataFrame, appearances: pl.DataFrame, versions: pl.DataFrame, sightings: pl.DataFrame
) -> Papers:
    """The previous appearances and versions of some papers, plus new sightings (of those papers
    only, or of new ones) -> those papers' tables. `snapshots` must hold every snapshot the
    appearances and sightings come from."""
    texts = versions.select(TEXT_COLUMNS)
    if not sightings.is_empty():
        texts = pl.concat([texts, sightings.select(TEXT_COLUMNS)])
        appearances = pl.concat([appearances, sightings], how="diagonal_relaxed")
    # One row per text; of two raw spellings of one clean text, the same one whatever the order.
    texts = texts.group_by("paper_id", "abstract_hash").agg(
        pl.col("abstract").first(), pl.col("abstract_raw").min(), pl.col("links").first()
    )
    ordered = mark_cut_off(appearances.join(sighting_keys(snapshots), on="snapshot_id"), texts).sort(SIGHTING_ORDER)
    timeline = version_timeline(ordered)
    new_versions = build_versions(timeline, texts)
    return Papers(
        appearances=APPEARANCES.conform(
            ordered.drop("version", strict=False)
            .join(timeline.select("snapshot_id", "paper_id", "version"), on=["snapshot_id", "paper_id"], how="left")
            .with_columns(is_new=pl.col("snapshot_date") == pl.col("snapshot_date").min().over("paper_id"))
        ),
        papers=build_papers(ordered, new_versions),
        paper_versions=new_versions,
    )


def sighting_keys(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Per accepted snapshot: the name it sorts by (the first name among it and its duplicates)
    and its number of records, quarantined ones included (the last rank in the file)."""
    group = pl.coalesce("duplicate_of", "snapshot_id")
    names = snapshots.group_by(group.alias("snapshot_id")).agg(order_name=pl.col("source_name").min())
    return (
        snapshots.filter(pl.col("status") == SnapshotStatus.ACCEPTED)
        .select("snapshot_id", last_rank=pl.col("n_records") + pl.col("n_quarantined"))
        .join(names, on="snapshot_id")
    )


def mark_cut_off(ordered: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """A sighting is cut off when the parser flagged it, or when it is its file's last record and
    its text is a shorter prefix of another abstract of the same paper (it stopped at a full stop).
    Once cut off, always cut off: the flag only ever turns on."""
    prefixes = (
        texts.select("paper_id", "abstract_hash", "abstract")
        .join(texts.select("paper_id", longer="abstract"), on="paper_id")
        .filter(
            (pl.col("longer").str.len_chars() > pl.col("abstract").str.len_chars())
            & pl.col("longer").str.starts_with(pl.col("abstract"))
        )
        .select("paper_id", "abstract_hash", is_prefix=pl.lit(True))
        .unique()
    )
    return (
        ordered.join(prefixes, on=["paper_id", "abstract_hash"], how="left")
        .with_columns(
            is_truncated=pl.col("is_truncated") | (pl.col("is_prefix").fill_null(False) & (pl.col("rank") == pl.col("last_rank")))
        )
        .drop("is_prefix")
    )


def version_timeline(ordered: pl.DataFrame) -> pl.DataFrame:
    """The sightings that define versions, numbered: a new version whenever the abstract changes.

    A text is cut off when every sighting of it was; a cut-off text makes a version only while its
    paper has no complete one, so a truncated abstract never replaces a complete one.
    """
    text_cut = pl.col("is_truncated").all().over("paper_id", "abstract_hash")
    return (
        ordered.with_columns(text_cut=text_cut)
        .filter(~pl.col("text_cut") | ~(~pl.col("text_cut")).any().over("paper_id"))
        .with_columns(
            changed=(pl.col("abstract_hash") != pl.col("abstract_hash").shift(1).over("paper_id")).fill_null(True)
        )
        .with_columns(version=pl.col("changed").cast(pl.Int64).cum_sum().over("paper_id"))
    )


def build_versions(timeline: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """SCD type 2: one row per version, valid from its first date to the next version's."""
    versions = (
        timeline.group_by("paper_id", "version", maintain_order=True)
        .agg(
            pl.col("abstract_hash").first(),
            valid_from=pl.col("snapshot_date").min(),
            times_seen=pl.len().cast(pl.Int64),
            is_truncated=pl.col("text_cut").first(),
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
