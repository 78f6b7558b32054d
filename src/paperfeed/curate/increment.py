"""What a batch of checked snapshots changes in the published dataset: for each table, the rows it
adds or replaces and the rows it removes. Pure.

Only the papers the batch touches are recomputed (papers.py decides everything per paper): those
it sighted, and those seen in a snapshot whose order among same-date copies changed. So a run
reads what it needs to decide (every snapshot's row, and the touched papers' rows), never every
table in full, and writes only rows that differ from what is published.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from paperfeed.curate.papers import curate_papers, sighting_keys
from paperfeed.curate.snapshots import new_sightings, quarantine_rows, snapshot_rows
from paperfeed.model.contracts import APPEARANCES, PAPER_VERSIONS, PAPERS, QUARANTINE, SNAPSHOTS, TableContract
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.tables import Tables


class Published(Protocol):
    """What curation reads of the dataset a batch goes into (the warehouse, or frames in memory)."""

    def snapshots(self) -> pl.DataFrame:
        """Every snapshot row."""
        ...

    def rows_of(self, table: TableContract, column: str, values: list[str], since: dt.date | None = None) -> pl.DataFrame:
        """The rows of `table` whose `column` is one of `values` (and, given `since`, whose
        `table.grows_with` date is not older: a hint that lets storage skip older files)."""
        ...


@dataclass(frozen=True)
class TableChange:
    """What a batch changes in one table."""

    table: TableContract
    upserts: pl.DataFrame  # rows to write: new ones, or replacing the row with the same key
    replaced: pl.DataFrame  # the published rows the upserts replace
    deletes: pl.DataFrame  # published rows to remove

    @property
    def changed(self) -> bool:
        return bool(self.upserts.height or self.deletes.height)

    def removed(self) -> pl.DataFrame:
        """Every published row this change takes away (replaced or deleted)."""
        return pl.concat([self.replaced, self.deletes])


@dataclass(frozen=True)
class Increment:
    """A batch's changes, table by table, with what the run summary counts."""

    changes: dict[str, TableChange]  # by table name, in DATA_TABLES order
    # After the batch: the run's snapshot rows, the touched papers' rows (all of their
    # appearances and versions), and the records it set aside: what the publish gate validates.
    touched: Tables
    snapshots: pl.DataFrame  # every snapshot row after the batch (for the checks across tables)
    new_papers: list[str]  # paper_ids that did not exist before
    updated_papers: list[str]  # paper_ids whose row changed

    def change(self, table: TableContract) -> TableChange:
        return self.changes[table.name]

    @property
    def changed(self) -> bool:
        """Whether the batch changes any table (a batch of files ingested before changes none)."""
        return any(change.changed for change in self.changes.values())


def increment(published: Published, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime) -> Increment:
    before = published.snapshots()
    snapshots = snapshot_rows(before, incoming, run_id, now)
    renewed = snapshots.filter((pl.col("run_id") == run_id) & pl.col("snapshot_id").is_in([s.snapshot_id for s in incoming]))
    sightings = new_sightings(incoming, snapshots, run_id)
    # Papers seen in a snapshot whose sort name changed (a copy with an earlier name arrived) may
    # have another newest sighting now: they are recomputed too.
    reordered = (
        sighting_keys(snapshots).join(sighting_keys(before), on="snapshot_id", suffix="_before")
        .filter(pl.col("order_name") != pl.col("order_name_before"))["snapshot_id"].to_list()
    )
    touched = sorted(
        set(sightings["paper_id"].drop_nulls().to_list() if sightings.height else [])
        | set(published.rows_of(APPEARANCES, "snapshot_id", reordered)["paper_id"].to_list() if reordered else [])
    )
    known = published.rows_of(PAPERS, "paper_id", touched)
    # A paper's appearances and versions are no older than its first_seen, and a paper without a
    # row has neither: so they are read from the known papers' oldest first_seen on.
    existing, since = known["paper_id"].to_list(), known["first_seen"].min()
    previous = {
        PAPERS.name: known,
        **{t.name: published.rows_of(t, "paper_id", existing, since if isinstance(since, dt.date) else None) for t in (APPEARANCES, PAPER_VERSIONS)},
    }
    papers = curate_papers(snapshots, previous[APPEARANCES.name], previous[PAPER_VERSIONS.name], sightings)
    new_quarantine = quarantine_rows(incoming, snapshots, run_id, now)
    renewed_ids = renewed["snapshot_id"].to_list()
    changes = {
        SNAPSHOTS.name: diff(SNAPSHOTS, before.filter(pl.col("snapshot_id").is_in(renewed_ids)), SNAPSHOTS.conform(renewed)),
        APPEARANCES.name: diff(APPEARANCES, previous[APPEARANCES.name], papers.appearances),
        PAPERS.name: diff(PAPERS, previous[PAPERS.name], papers.papers),
        PAPER_VERSIONS.name: diff(PAPER_VERSIONS, previous[PAPER_VERSIONS.name], papers.paper_versions),
        # A retried snapshot's set-aside records are listed anew: the old ones go, the new ones come.
        QUARANTINE.name: TableChange(
            QUARANTINE, new_quarantine, QUARANTINE.empty(), published.rows_of(QUARANTINE, "snapshot_id", renewed_ids)
        ),
    }
    existed = set(previous[PAPERS.name]["paper_id"].to_list())
    updated = changes[PAPERS.name].upserts["paper_id"].to_list()
    return Increment(
        changes,
        Tables(SNAPSHOTS.conform(renewed), papers.appearances, papers.papers, papers.paper_versions, new_quarantine),
        SNAPSHOTS.conform(snapshots),
        new_papers=sorted(set(updated) - existed),
        updated_papers=sorted(set(updated) & existed),
    )


def diff(table: TableContract, before: pl.DataFrame, after: pl.DataFrame) -> TableChange:
    """Rows of `after` that are not in `before` as they are (upserts), the rows of `before` they
    replace (same key), and the rows of `before` whose key is gone from `after` (deletes)."""
    before, after = table.conform(before), table.conform(after)
    key = list(table.key)
    whole = pl.struct(table.column_names).struct.json_encode().alias("_row")
    old = before.with_columns(whole)
    new = after.with_columns(whole)
    upserts = new.join(old.select("_row"), on="_row", how="anti").drop("_row")
    replaced = before.join(upserts.select(key), on=key, how="semi", nulls_equal=True)
    deletes = before.join(after.select(key), on=key, how="anti", nulls_equal=True)
    return TableChange(table, upserts, replaced, deletes)


def apply(tables: Tables, inc: Increment) -> Tables:
    """The tables after the increment: what publishing it to Delta gives, in memory."""
    frames = {}
    for name, frame in tables.as_dict().items():
        change = inc.changes[name]
        key = list(change.table.key)
        kept = frame.join(change.removed().select(key).unique(), on=key, how="anti", nulls_equal=True)
        frames[name] = change.table.conform(pl.concat([change.table.conform(kept), change.upserts]))
    return Tables(**frames)


@dataclass(frozen=True)
class InMemory:
    """Published tables held as frames (Published, for curating without a warehouse)."""

    tables: Tables

    def snapshots(self) -> pl.DataFrame:
        return self.tables.snapshots

    def rows_of(self, table: TableContract, column: str, values: list[str], since: dt.date | None = None) -> pl.DataFrame:
        return self.tables.frame(table).filter(pl.col(column).is_in(values))  # `since` only skips files


def curate(previous: Tables, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime) -> Tables:
    """The published tables plus a batch of checked snapshots -> the next tables."""
    return apply(previous, increment(InMemory(previous), incoming, run_id, now))
