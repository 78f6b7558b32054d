"""Which paper each new sighting is, and what ids the papers carry. Pure.

Two steps, each deciding from text and dates only, never from arrival order:
- `match`: entity resolution (curate/resolve.py) of the run's sightings against every known
  paper's titles and abstracts. A sighting gets the id of the paper it is one work with (known, or
  new), known papers that a sighting shows to be one work are merged, and every decision that was
  not an exact repeat (a join under another title or abstract, a pair kept apart for review) becomes
  evidence for `paper_matches`.
- `assign_ids`: a paper's id is the hash of the folded title of its earliest sighting (snapshot
  date, then file name, then rank). So a retitled version that arrives first (a backfill brings the
  original later) ends with the same id as when the original came first; the id it had before stays
  resolvable through `paper_titles.title_id` (the view `paper_aliases`). An id held by a paper,
  as its id or as one of its titles' ids, is never given to another: two different works with one
  folded title (kept apart by their abstracts) cannot share its hash, so the one that holds it
  keeps it and the other takes the hash of title and abstract hash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from paperfeed.curate.blocking import Holding, build_index
from paperfeed.curate.resolve import resolve
from paperfeed.model.contracts import PAPER_MATCHES
from paperfeed.prepare.identify import map_distinct, stable_hash, title_key

# A known paper's titles and abstracts, one per row (either may be null): what matching compares with.
KNOWN_TEXTS = pl.Schema({"paper_id": pl.String, "title_key": pl.String, "abstract": pl.String})
JOINED, KEPT_APART = "joined", "kept_apart"


@dataclass(frozen=True)
class Matched:
    sightings: pl.DataFrame  # the run's sightings, paper_id set to the paper each is (known, or a new id)
    merges: dict[str, str]  # known paper_id -> the known paper_id it is merged into
    evidence: pl.DataFrame  # PAPER_MATCHES rows, ids as matching left them (before assign_ids)


def match(
    sightings: pl.DataFrame,
    known: pl.DataFrame | pl.LazyFrame,
    run_id: str,
    seen_in: Callable[[list[str]], Mapping[str, set[str]]] | None = None,
    holding: Holding | None = None,
) -> Matched:
    """sightings: title_key, abstract, abstract_hash, paper_id, snapshot_id (+ any); known:
    KNOWN_TEXTS; seen_in: known paper_ids -> their snapshots (two papers of one snapshot are two
    works: asked before known papers merge); holding: the known abstracts that may hold given
    abstract keys (curate/blocking.py)."""
    if sightings.is_empty():
        return Matched(sightings, {}, PAPER_MATCHES.empty())
    new = sightings.drop("paper_id")
    # The index holds only the known papers these records can reach (not the whole history).
    resolution = resolve(new, build_index(known, new.select("title_key", "abstract").unique(), holding=holding), seen_in)
    decided = resolution.decisions.rename({"resolved_id": "paper_id"})
    records = decided.unique(["title_key", "abstract_hash"], keep="first").sort("title_key", "abstract_hash", nulls_last=True)
    # Every join that is not an exact repeat: another title, or the same title with another abstract.
    exact = (pl.col("rule") == "same_title") & (pl.col("abstract_score").is_null() | (pl.col("abstract_score") == 1.0))
    joined = records.filter(pl.col("rule").is_not_null() & ~exact).select(
        "title_key", "abstract_hash", "paper_id", decision=pl.lit(JOINED), rule="rule", other_paper_id="paper_id",
        other_title_key="matched_title_key", title_score="title_score", abstract_score="abstract_score", abstract_cut="abstract_cut",
    )  # fmt: skip
    ids = records.select("title_key", "abstract_hash", "paper_id")
    # The other side of a pair kept apart is a known paper, or another record of the batch.
    other = ids.rename({"title_key": "other_title_key", "abstract_hash": "other_abstract_hash", "paper_id": "other_record_id"})
    kept = (
        resolution.candidates.join(ids, on=["title_key", "abstract_hash"], how="left", nulls_equal=True)
        .join(other, on=["other_title_key", "other_abstract_hash"], how="left", nulls_equal=True)
        .select(
            "title_key", "abstract_hash", "paper_id", decision=pl.lit(KEPT_APART), rule="reason",
            other_paper_id=pl.coalesce("other_paper_id", "other_record_id"), other_title_key="other_title_key",
            title_score="title_score", abstract_score="abstract_score", abstract_cut="abstract_cut",
        )
    )  # fmt: skip
    sides = ("paper_id", "other_paper_id")
    # A pair listed before a third record joined both sides into one paper is not kept apart.
    kept = relabel(kept, resolution.merges, *sides).filter(pl.col("paper_id") != pl.col("other_paper_id"))
    evidence = pl.concat([relabel(joined, resolution.merges, *sides), kept], how="vertical_relaxed").with_columns(run_id=pl.lit(run_id))
    return Matched(decided.drop(*(c for c in decided.columns if c not in sightings.columns)), resolution.merges, PAPER_MATCHES.conform(evidence))


def relabel(frame: pl.DataFrame, ids: Mapping[str, str], *columns: str) -> pl.DataFrame:
    """The id columns (default paper_id) through the id map; ids not in it stay."""
    if frame.is_empty() or not ids:
        return frame
    return frame.with_columns(pl.col(c).replace(dict(ids)) for c in columns or ("paper_id",))


def owned_before(ids: Mapping[str, str]) -> dict[str, set[str]]:
    """An id map (old -> new) turned round: each new id -> the old ids it stands for."""
    owned: dict[str, set[str]] = {}
    for old, new in ids.items():
        owned.setdefault(new, set()).add(old)
    return owned


def earliest_titles(ordered: pl.DataFrame) -> pl.DataFrame:
    """Sightings in sighting order (paper_id, title, abstract_hash) -> per paper: the folded title
    and the abstract hash of its earliest sighting, in the order of those sightings."""
    first = ordered.group_by("paper_id", maintain_order=True).agg(pl.col("title").first(), pl.col("abstract_hash").first())
    return map_distinct(first, "title", "title_key", title_key).select("paper_id", "title_key", "abstract_hash")


def _options(key: str, abstract_hash: str | None) -> list[str]:
    """The ids a folded title gives, in order of preference: its hash, else (when another paper
    holds that) the hash of the title and of the abstract seen with it first."""
    return [stable_hash(key), stable_hash(f"{key}\n{abstract_hash or ''}")]


def claimed_ids(first: pl.DataFrame) -> list[str]:
    """Every id the rows of `first` (title_key, abstract_hash) may take (ask storage who holds them)."""
    return sorted({i for k, h in first.select("title_key", "abstract_hash").rows() for i in _options(k, h)})


def _allot(rows: list[tuple[set[str], str, str | None]], holders: Mapping[str, set[str]]) -> list[str]:
    """For each (the ids its paper holds already, folded title, abstract hash): the first id of
    _options that no other paper holds and no earlier row took. Rows whose paper holds the title's
    hash already go first; the others in the order given."""
    order = sorted(range(len(rows)), key=lambda n: stable_hash(rows[n][1]) not in rows[n][0])
    taken: set[str] = set()
    ids = [""] * len(rows)
    for n in order:
        own, key, abstract_hash = rows[n]
        free = [i for i in _options(key, abstract_hash) if i not in taken and not set(holders.get(i, ())) - own]
        if not free:  # two works with one title and one abstract: not two works
            raise ValueError(f"no free id for the title {key!r}: its ids are held by other papers")
        ids[n] = free[0]
        taken.add(free[0])
    return ids


def assign_ids(first: pl.DataFrame, holders: Mapping[str, set[str]], members: Mapping[str, set[str]]) -> dict[str, str]:
    """first: per paper (paper_id as it is now), the folded title and abstract hash of its earliest
    sighting, in sighting order; holders: id -> the known papers that hold it, as their paper_id or
    as the title_id of one of their titles (an id once published, alias included, names its paper
    for good); members: paper_id -> the known papers it is made of -> paper_id -> its id.

    A paper takes the hash of its earliest folded title, unless a paper that is not one of its
    members holds it, or a paper of `first` took it before (those that hold their hash already go
    first, then sighting order). Then it takes the hash of that title and the abstract's hash."""
    rows = first.select("paper_id", "title_key", "abstract_hash").rows()
    ids = _allot([(set(members.get(p, ())) | {p}, k, h) for p, k, h in rows], holders)
    return dict(zip([p for p, _, _ in rows], ids, strict=True))


def title_rows(
    ordered: pl.DataFrame,
    holders_of: Callable[[list[str]], Mapping[str, set[str]]] | None = None,
    members: Mapping[str, set[str]] | None = None,
) -> pl.DataFrame:
    """Appearances of some papers (all of each), in sighting order -> their paper_titles rows.

    A title's id is the id it gives its paper, as assign_ids gives ids: its hash, unless another
    paper holds that (the same title, another work), then the hash of title and abstract hash.
    holders_of: ids -> who holds them (as for assign_ids, by the papers' ids now); members: a
    paper's id -> the ids it held before (merged or renamed)."""
    keyed = map_distinct(ordered, "title", "title_key", title_key)
    titles = (
        keyed.group_by("paper_id", "title_key", maintain_order=True)
        .agg(
            pl.col("title").last(),
            pl.col("abstract_hash").first(),
            first_seen=pl.col("snapshot_date").min(),
            last_seen=pl.col("snapshot_date").max(),
            times_seen=pl.len().cast(pl.Int64),
        )
    )
    holders = holders_of(claimed_ids(titles)) if holders_of is not None and titles.height else {}
    members = members or {}
    rows = [(set(members.get(p, ())) | {p}, k, h) for p, k, h in titles.select("paper_id", "title_key", "abstract_hash").rows()]
    ids = _allot(rows, holders)
    return titles.with_columns(title_id=pl.Series(ids, dtype=pl.String)).drop("abstract_hash").sort("paper_id", "title_key")
