"""Curate snapshots: each incoming file's status (accepted, duplicate, rejected), what the gate set
aside, and the records of the accepted ones as sightings. Pure.

A retried file that was rejected before replaces its row when the outcome or the reason changed.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from paperfeed.model.contracts import QUARANTINE, SNAPSHOTS
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.status import SnapshotStatus


def snapshot_rows(
    previous: pl.DataFrame, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime
) -> pl.DataFrame:
    """Each incoming snapshot's status: rejected (by the quality gate, or with no usable record),
    duplicate (same content as an accepted one) or accepted.

    An incoming snapshot already in `previous` is a rejected one being retried: its row is
    replaced when the outcome or the reason changed, and kept (with its first run's stamp) when
    neither did.
    """
    accepted = previous.filter(pl.col("status") == SnapshotStatus.ACCEPTED)
    seen: dict[str, tuple[str, str]] = {
        cid: (sid, name)
        for cid, sid, name in accepted.select("content_id", "snapshot_id", "source_name").iter_rows()
    }
    known = dict(previous.select("snapshot_id", "reason").iter_rows())
    rows, replaced = [], set()
    for snap in incoming:  # one iteration per file, not per record
        status, duplicate_of, reason = SnapshotStatus.ACCEPTED, None, None
        n_quarantined = snap.quarantined.height if snap.quarantined is not None else 0
        if snap.verdict is not None:
            status, reason = SnapshotStatus.REJECTED, snap.verdict.reason
        elif snap.records.is_empty():
            status, reason = SnapshotStatus.REJECTED, f"no usable records: all {n_quarantined} were set aside (see quarantine)"
        elif snap.content_id in seen:
            duplicate_of, first_name = seen[snap.content_id]
            status, reason = SnapshotStatus.DUPLICATE, f"same records as {first_name} ({duplicate_of[:12]})"
        else:
            seen[snap.content_id or ""] = (snap.snapshot_id, snap.source_name)
        if snap.snapshot_id in known:
            if status is SnapshotStatus.REJECTED and reason == known[snap.snapshot_id]:
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
    accepted = set(statuses.filter((pl.col("status") == SnapshotStatus.ACCEPTED) & (pl.col("run_id") == run_id))["snapshot_id"])
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
        elif snap.quarantined is not None and snap.quarantined.height and status[snap.snapshot_id] != SnapshotStatus.DUPLICATE:
            frames.append(
                snap.quarantined.with_columns(
                    excerpt=pl.coalesce("title_raw", "abstract_raw").str.slice(0, 200),
                    **{k: pl.lit(v) for k, v in stamp.items()},
                )
            )
    return pl.concat([QUARANTINE.conform(f) for f in frames]) if frames else QUARANTINE.empty()
