"""Curate: the published tables plus a batch of checked snapshots -> the next tables. Pure.

Appearances accumulate; papers and paper_versions are recomputed from all of them each run, so the
result depends on what arrived, not on the order or batches it arrived in: first_seen is the
earliest date, versions follow snapshot dates, and every per-text choice is made from all of a
text's sightings. Abstract texts are kept in paper_versions, which with the appearances is all a
later run needs.

Order of sightings, wherever "newest" matters: snapshot date, then file name (of the first-named
copy, when a file was delivered more than once), then snapshot id. Two snapshots of one date have
no time of day; their names are the only order they carry.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from paperfeed.model.contracts import APPEARANCES, PAPER_VERSIONS, PAPERS, QUARANTINE, SNAPSHOTS
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.tables import Tables

SIGHTING_ORDER = ["snapshot_date", "order_name", "snapshot_id", "rank"]
TEXT_COLUMNS = ["paper_id", "abstract_hash", "abstract", "abstract_raw", "links"]


def snapshot_rows(
    previous: pl.DataFrame, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime
) -> pl.DataFrame:
    """Each incoming snapshot's status: rejected (by the quality gate, or with no usable record),
    duplicate (same content as an accepted one) or accepted.

    An incoming snapshot already in `previous` is a rejected one being retried: its row is
    replaced when the outcome or the reason changed, and kept (with its first run's stamp) when
    neither did.
    """
    accepted = previous.filter(pl.col("status") == "accepted")
    seen: dict[str, tuple[str, str]] = {
        cid: (sid, name)
        for cid, sid, name in accepted.select("content_id", "snapshot_id", "source_name").iter_rows()
    }
    known = dict(previous.select("snapshot_id", "reason").iter_rows())
    rows, replaced = [], set()
    for snap in incoming:  # one iteration per file, not per record
        status, duplicate_of, reason = "accepted", None, None
        n_quarantined = snap.quarantined.height if snap.quarantined is not None else 0
        if snap.verdict is not None:
            status, reason = "rejected", snap.verdict.reason
        elif snap.records.is_empty():
            status, reason = "rejected", f"no usable records: all {n_quarantined} were set aside (see quarantine)"
        elif snap.content_id in seen:
            duplicate_of, first_name = seen[snap.content_id]
            status, reason = "duplicate", f"same records as {first_name} ({duplicate_of[:12]})"
        else:
            seen[snap.content_id or ""] = (snap.snapshot_id, snap.source_name)
        if snap.snapshot_id in known:
            if status == "rejected" and reason == known[snap.snapshot_id]:
                continue
            replaced.add(snap.snapshot_id)
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
                "n_quarantined": n_quarantined,
                "n_truncated": int(snap.records["is_truncated"].sum()) if snap.records.height else 0,
                "reason": reason,
                "run_id": run_id,
                "ingested_at": now,
            }
        )
    new = pl.DataFrame(rows, schema=SNAPSHOTS.schema) if rows else SNAPSHOTS.empty()
    return pl.concat([previous.filter(~pl.col("snapshot_id").is_in(list(replaced))), new])


def new_sightings(incoming: list[PreparedSnapshot], statuses: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Records of the snapshots this run accepted, tagged with their snapshot."""
    accepted = set(statuses.filter((pl.col("status") == "accepted") & (pl.col("run_id") == run_id))["snapshot_id"])
    frames = [
        snap.records.with_columns(
            snapshot_id=pl.lit(snap.snapshot_id), snapshot_date=pl.lit(snap.snapshot_date, pl.Date)
        )
        for snap in incoming
        if snap.snapshot_id in accepted
    ]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def quarantine_rows(
    incoming: list[PreparedSnapshot], statuses: pl.DataFrame, run_id: str, now: dt.datetime
) -> pl.DataFrame:
    """What the gate set aside in this run: whole rejected snapshots, and single records of the
    snapshots that were not duplicates (a duplicate's faults are its original's, listed already)."""
    status = dict(statuses.filter(pl.col("run_id") == run_id).select("snapshot_id", "status").iter_rows())
    frames = []
    for snap in incoming:
        if snap.snapshot_id not in status:
            continue  # a retried file that was rejected again: its first rejection stays listed
        stamp = {"source_name": snap.source_name, "snapshot_id": snap.snapshot_id, "run_id": run_id, "quarantined_at": now}
        if snap.verdict is not None:
            row = {**stamp, "line": None, "rank": None, "excerpt": snap.first_line, **snap.verdict.__dict__}
            frames.append(pl.DataFrame([row], schema=QUARANTINE.schema))
        elif snap.quarantined is not None and snap.quarantined.height and status[snap.snapshot_id] != "duplicate":
            frames.append(
                snap.quarantined.with_columns(
                    excerpt=pl.coalesce("title_raw", "abstract_raw").str.slice(0, 200),
                    **{k: pl.lit(v) for k, v in stamp.items()},
                )
            )
    return pl.concat([QUARANTINE.conform(f) for f in frames]) if frames else QUARANTINE.empty()


def curate(previous: Tables, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime) -> Tables:
    snapshots = snapshot_rows(previous.snapshots, incoming, run_id, now)
    renewed = snapshots.filter(pl.col("run_id") == run_id)["snapshot_id"]
    quarantine = pl.concat(
        [
            previous.quarantine.filter(~pl.col("snapshot_id").is_in(renewed.implode())),
            quarantine_rows(incoming, snapshots, run_id, now),
        ]
    )
    sightings = new_sightings(incoming, snapshots, run_id)
    texts = previous.paper_versions.select(TEXT_COLUMNS)
    appearances = previous.appearances
    if not sightings.is_empty():
        texts = pl.concat([texts, sightings.select(TEXT_COLUMNS)])
        appearances = pl.concat([appearances, sightings], how="diagonal_relaxed")
    # One row per text; of two raw spellings of one clean text, the same one whatever the order.
    texts = texts.group_by("paper_id", "abstract_hash").agg(
        pl.col("abstract").first(), pl.col("abstract_raw").min(), pl.col("links").first()
    )
    ordered = mark_cut_off(appearances.join(sighting_keys(snapshots), on="snapshot_id"), texts).sort(SIGHTING_ORDER)
    timeline = version_timeline(ordered)
    versions = build_versions(timeline, texts)
    return Tables(
        snapshots=SNAPSHOTS.conform(snapshots),
        appearances=APPEARANCES.conform(
            ordered.drop("version", strict=False)
            .join(timeline.select("snapshot_id", "paper_id", "version"), on=["snapshot_id", "paper_id"], how="left")
            .with_columns(is_new=pl.col("snapshot_date") == pl.col("snapshot_date").min().over("paper_id"))
        ),
        papers=build_papers(ordered, versions),
        paper_versions=versions,
        quarantine=QUARANTINE.conform(quarantine),
    )


def sighting_keys(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Per accepted snapshot: the name it sorts by (the first name among it and its duplicates)
    and its number of records, quarantined ones included (the last rank in the file)."""
    group = pl.coalesce("duplicate_of", "snapshot_id")
    names = snapshots.group_by(group.alias("snapshot_id")).agg(order_name=pl.col("source_name").min())
    return (
        snapshots.filter(pl.col("status") == "accepted")
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
