"""What a batch of checked snapshots changes in the published dataset: for each table, the rows it
adds or replaces and the rows it removes. Pure.

Only the papers the batch touches are recomputed (papers.py decides everything per paper): those
it sighted, and those seen in a snapshot whose order among same-date copies changed. So a run
reads what it needs to decide (every snapshot's row, and the touched papers' rows), never every
table in full, and writes only rows that differ from what is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from paperfeed.curate.blocking import Holding
from paperfeed.curate.match import (
    KEPT_APART,
    KNOWN_TEXTS,
    Matched,
    assign_ids,
    claimed_ids,
    earliest_titles,
    match,
    owned_before,
    relabel,
    title_rows,
)
from paperfeed.curate.papers import SIGHTING_ORDER, curate_papers, sighting_keys
from paperfeed.curate.snapshots import new_sightings, quarantine_rows, snapshot_rows
from paperfeed.model.contracts import (
    APPEARANCES,
    PAPER_MATCHES,
    PAPER_TITLES,
    PAPER_VERSIONS,
    PAPERS,
    QUARANTINE,
    SNAPSHOTS,
    TableContract,
)
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.tables import Tables


class Published(Protocol):
    """What curation reads of the dataset a batch goes into (the warehouse, or frames in memory)."""

    def snapshots(self) -> pl.DataFrame:
        """Every snapshot row."""
        ...

    def rows_of(
        self, table: TableContract, column: str, values: list[str], since: dt.date | None = None, columns: list[str] | None = None
    ) -> pl.DataFrame:
        """The rows of `table` whose `column` is one of `values` (and, given `since`, whose
        `table.grows_with` date is not older: a hint that lets storage skip older files); given
        `columns`, only those columns (storage then reads only them)."""
        ...

    def known_texts(self) -> KnownTexts:
        """Every known paper's folded titles and abstracts (what matching compares a record with)."""
        ...


@dataclass(frozen=True)
class KnownTexts:
    # KNOWN_TEXTS: paper_id, title_key, abstract (one of them per row), lazily: a warehouse's are
    # scans that matching streams through, never the whole history in memory. A scan reads the
    # tables as they are when it is collected: use it before the batch writes, as increment() does.
    frame: pl.LazyFrame
    # False: the titles come from appearances, written before paper_titles existed (the run that
    # reads them lists every paper's titles, once).
    titled: bool = True
    # The known abstracts that may hold given abstract block keys (a warehouse's key index), so
    # that matching need not search them all; None: it searches them all.
    holding: Holding | None = None


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
    merged: dict[str, str]  # paper_ids that are gone -> the paper_id they are now (merged or renamed)
    evidence: pl.DataFrame  # the batch's own new paper_matches rows (not the older ones it relabels)
    referenced: list[str]  # papers the batch does not touch that its paper_matches rows name

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
    # The history's titles and abstracts are read only when there are records to match.
    known_texts = published.known_texts() if sightings.height else KnownTexts(pl.LazyFrame(schema=KNOWN_TEXTS))
    matched = match(sightings, known_texts.frame, run_id, lambda ids: _snapshots_of(published, ids), known_texts.holding)
    # Papers seen in a snapshot whose sort name changed (a copy with an earlier name arrived) may
    # have another newest sighting now: they are recomputed too.
    keys = sighting_keys(snapshots)
    reordered = (
        keys.join(sighting_keys(before), on="snapshot_id", suffix="_before")
        .filter(pl.col("order_name") != pl.col("order_name_before"))["snapshot_id"].to_list()
    )
    touched = sorted(
        set(matched.sightings["paper_id"].to_list() if sightings.height else [])
        | set(matched.merges)
        | set(published.rows_of(APPEARANCES, "snapshot_id", reordered, columns=["paper_id"])["paper_id"].to_list() if reordered else [])
        # Written by a paperfeed without paper_titles: every paper is recomputed once, to list its titles.
        | (set() if known_texts.titled else set(known_texts.frame.select("paper_id").collect()["paper_id"].to_list()))
    )
    known = published.rows_of(PAPERS, "paper_id", touched)
    # A paper's appearances and versions are no older than its first_seen, and a paper without a
    # row has neither: so they are read from the known papers' oldest first_seen on.
    existing, since = known["paper_id"].to_list(), known["first_seen"].min()
    previous = {
        PAPERS.name: known,
        **{t.name: published.rows_of(t, "paper_id", existing, since if isinstance(since, dt.date) else None) for t in (APPEARANCES, PAPER_VERSIONS)},
        # A title is first seen no earlier than its paper.
        PAPER_TITLES.name: published.rows_of(PAPER_TITLES, "paper_id", existing, since if isinstance(since, dt.date) else None),
    }
    ids = _paper_ids(published, keys, previous, matched)
    renamed = {old: new for old, new in ids.items() if old != new}
    papers = curate_papers(
        snapshots,
        relabel(previous[APPEARANCES.name], ids),
        relabel(previous[PAPER_VERSIONS.name], ids),
        relabel(matched.sightings, ids),
    )
    evidence = relabel(matched.evidence, ids, "paper_id", "other_paper_id")
    new_quarantine = quarantine_rows(incoming, snapshots, run_id, now)
    renewed_ids = renewed["snapshot_id"].to_list()
    # Each title's id, held by no other paper: a published paper's old ids are its own.
    ordered = papers.appearances.join(keys, on="snapshot_id").sort(SIGHTING_ORDER)
    titles = PAPER_TITLES.conform(title_rows(ordered, lambda ids: _holders(published, ids, renamed), owned_before(renamed)))
    evidence_change, own_evidence = _evidence_change(published, evidence, renamed)
    # Papers the evidence names that the run did not touch: they exist (the publish gate checks it).
    named = set(evidence_change.upserts["paper_id"].to_list()) | set(evidence_change.upserts["other_paper_id"].to_list())
    outside = sorted(named - set(papers.papers["paper_id"].to_list()))
    referenced = published.rows_of(PAPERS, "paper_id", outside, columns=["paper_id"])["paper_id"].to_list() if outside else []
    changes = {
        SNAPSHOTS.name: diff(SNAPSHOTS, before.filter(pl.col("snapshot_id").is_in(renewed_ids)), SNAPSHOTS.conform(renewed)),
        APPEARANCES.name: diff(APPEARANCES, previous[APPEARANCES.name], papers.appearances),
        PAPERS.name: diff(PAPERS, previous[PAPERS.name], papers.papers),
        PAPER_VERSIONS.name: diff(PAPER_VERSIONS, previous[PAPER_VERSIONS.name], papers.paper_versions),
        PAPER_TITLES.name: diff(PAPER_TITLES, previous[PAPER_TITLES.name], titles),
        PAPER_MATCHES.name: evidence_change,
        # A retried snapshot's set-aside records are listed anew: the old ones go, the new ones come.
        QUARANTINE.name: TableChange(
            QUARANTINE, new_quarantine, QUARANTINE.empty(), published.rows_of(QUARANTINE, "snapshot_id", renewed_ids)
        ),
    }
    # A paper that existed under another id (merged, or renamed by an earlier sighting) is updated, not new.
    existed = {ids.get(p, p) for p in existing}
    updated = changes[PAPERS.name].upserts["paper_id"].to_list()
    return Increment(
        changes,
        Tables(
            snapshots=SNAPSHOTS.conform(renewed),
            appearances=papers.appearances,
            papers=papers.papers,
            paper_versions=papers.paper_versions,
            paper_titles=titles,
            paper_matches=changes[PAPER_MATCHES.name].upserts,
            quarantine=new_quarantine,
        ),
        SNAPSHOTS.conform(snapshots),
        new_papers=sorted(set(updated) - existed),
        updated_papers=sorted(set(updated) & existed),
        merged={old: new for old, new in renamed.items() if old in existing},
        evidence=own_evidence,
        referenced=sorted(referenced),
    )


def _paper_ids(
    published: Published, keys: pl.DataFrame, previous: dict[str, pl.DataFrame], matched: Matched
) -> dict[str, str]:
    """Each touched paper's id as it is now (known, merged, or new from matching) -> its id after
    the run. keys: sighting_keys of every snapshot."""
    merges = matched.merges
    columns = ["snapshot_id", "snapshot_date", "paper_id", "rank", "title", "abstract_hash"]
    sightings = pl.concat([
        relabel(previous[APPEARANCES.name], merges).select(columns),
        *([matched.sightings.select(columns)] if matched.sightings.height else []),
    ])  # fmt: skip
    if sightings.is_empty():
        return {}
    first = earliest_titles(sightings.join(keys, on="snapshot_id").sort(SIGHTING_ORDER))
    claims = claimed_ids(first)
    holders = _holders(published, claims)
    assigned = assign_ids(first, holders, owned_before(merges))
    return {**{old: assigned[new] for old, new in merges.items()}, **assigned}


def _snapshots_of(published: Published, paper_ids: list[str]) -> dict[str, set[str]]:
    """The snapshots each of these papers was seen in."""
    seen: dict[str, set[str]] = {}
    for paper_id, snapshot_id in published.rows_of(APPEARANCES, "paper_id", paper_ids, columns=["paper_id", "snapshot_id"]).rows():
        seen.setdefault(paper_id, set()).add(snapshot_id)
    return seen


def _holders(published: Published, ids: list[str], renamed: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """Which published papers hold each of `ids`, as their paper_id or as a title's title_id (by
    their ids before the run, or through `renamed`, after it)."""
    holders: dict[str, set[str]] = {}
    for held_id, holder in [
        *((i, i) for i in published.rows_of(PAPERS, "paper_id", ids, columns=["paper_id"])["paper_id"].to_list()),
        *published.rows_of(PAPER_TITLES, "title_id", ids, columns=["title_id", "paper_id"]).rows(),
    ]:
        holders.setdefault(held_id, set()).add((renamed or {}).get(holder, holder))
    return holders


def _evidence_change(published: Published, evidence: pl.DataFrame, renamed: dict[str, str]) -> tuple[TableChange, pl.DataFrame]:
    """paper_matches after the run, and the run's own new evidence: the evidence not on record yet
    (a join as recorded, or a pair kept apart for the same reason, from either side: an exact repeat
    of either paper meets the other again), and the recorded evidence on papers whose id changed,
    under the new ids (a pair kept apart whose two papers are now one is dropped)."""
    key = list(PAPER_MATCHES.key)
    stale = pl.concat([published.rows_of(PAPER_MATCHES, column, sorted(renamed)) for column in ("paper_id", "other_paper_id")]).unique(key)
    fixed = relabel(stale, renamed, "paper_id", "other_paper_id").filter(
        (pl.col("decision") != KEPT_APART) | (pl.col("paper_id") != pl.col("other_paper_id"))
    )
    incoming = pl.concat([fixed, evidence])
    if incoming.is_empty():
        return TableChange(PAPER_MATCHES, incoming, PAPER_MATCHES.empty(), stale), evidence
    ids = sorted(set(incoming["paper_id"].to_list()) | set(incoming["other_paper_id"].to_list()))
    recorded = published.rows_of(PAPER_MATCHES, "paper_id", ids).join(stale.select(key), on=key, how="anti", nulls_equal=True)
    # What makes two rows the same evidence: for a pair kept apart, its two papers in either order
    # and the rule; for a join, its key. One struct, the other side's fields null.
    kept = pl.col("decision") == KEPT_APART
    same = pl.struct(
        kept.alias("_kept"),
        pl.when(kept).then(pl.min_horizontal("paper_id", "other_paper_id")).alias("_a"),
        pl.when(kept).then(pl.max_horizontal("paper_id", "other_paper_id")).alias("_b"),
        pl.when(kept).then(pl.col("rule")).alias("_rule"),
        *(pl.when(~kept).then(pl.col(k)).alias(f"_key_{k}") for k in key),
    )
    first = pl.concat([recorded, incoming]).with_row_index("_order").filter(same.is_first_distinct())
    upserts = first.filter(pl.col("_order") >= recorded.height)
    own = upserts.filter(pl.col("_order") >= recorded.height + fixed.height)
    return TableChange(PAPER_MATCHES, upserts.drop("_order"), PAPER_MATCHES.empty(), stale), own.drop("_order")


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

    def rows_of(
        self, table: TableContract, column: str, values: list[str], since: dt.date | None = None, columns: list[str] | None = None
    ) -> pl.DataFrame:
        rows = self.tables.frame(table).filter(pl.col(column).is_in(values))  # `since` only skips files
        return rows.select(columns) if columns else rows

    def known_texts(self) -> KnownTexts:
        return KnownTexts(texts_of(self.tables.paper_titles, self.tables.paper_versions))


def texts_of(titles: pl.DataFrame | pl.LazyFrame, versions: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """paper_titles and paper_versions rows (or any frames or scans with their columns) -> KNOWN_TEXTS, lazily."""
    return pl.concat([
        titles.lazy().select("paper_id", "title_key", abstract=pl.lit(None, pl.String)),
        versions.lazy().select("paper_id", title_key=pl.lit(None, pl.String), abstract="abstract"),
    ]).cast(KNOWN_TEXTS)  # fmt: skip


def curate(previous: Tables, incoming: list[PreparedSnapshot], run_id: str, now: dt.datetime) -> Tables:
    """The published tables plus a batch of checked snapshots -> the next tables."""
    return apply(previous, increment(InMemory(previous), incoming, run_id, now))
