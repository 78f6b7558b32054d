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
  resolvable through `paper_titles.title_id` (the view `paper_aliases`). Two different works with
  one folded title (kept apart by their abstracts) cannot share the hash: the paper that holds it
  keeps it, the other takes the hash of title and abstract.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from paperfeed.curate.blocking import build_index
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


def match(sightings: pl.DataFrame, known: pl.DataFrame, run_id: str) -> Matched:
    """sightings: title_key, abstract, abstract_hash, paper_id (+ any); known: KNOWN_TEXTS."""
    if sightings.is_empty():
        return Matched(sightings, {}, PAPER_MATCHES.empty())
    resolution = resolve(sightings.drop("paper_id"), build_index(known))
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
    merged = {"paper_id": pl.col("paper_id").replace(resolution.merges), "other_paper_id": pl.col("other_paper_id").replace(resolution.merges)}
    # A pair listed before a third record joined both sides into one paper is not kept apart.
    kept = kept.with_columns(**merged).filter(pl.col("paper_id") != pl.col("other_paper_id"))
    evidence = pl.concat([joined.with_columns(**merged), kept], how="vertical_relaxed").with_columns(run_id=pl.lit(run_id))
    return Matched(decided.drop(*(c for c in decided.columns if c not in sightings.columns)), resolution.merges, PAPER_MATCHES.conform(evidence))


def earliest_titles(ordered: pl.DataFrame) -> pl.DataFrame:
    """Sightings in sighting order (paper_id, title, abstract) -> per paper: the folded title and
    the abstract of its earliest sighting, in the order of those sightings."""
    first = ordered.group_by("paper_id", maintain_order=True).agg(pl.col("title").first(), pl.col("abstract").first())
    return map_distinct(first, "title", "title_key", title_key).select("paper_id", "title_key", "abstract")


def claimed_ids(first: pl.DataFrame) -> list[str]:
    """Every id the papers of `first` may take (ask storage which of them other papers hold)."""
    keys = first.select("title_key", "abstract").rows()
    return sorted({stable_hash(k) for k, _ in keys} | {stable_hash(f"{k}\n{a or ''}") for k, a in keys})


def assign_ids(first: pl.DataFrame, held: set[str]) -> dict[str, str]:
    """first: per paper (paper_id as it is now), the folded title and abstract of its earliest
    sighting, in sighting order; held: ids that papers not among these hold -> paper_id -> its id.

    A paper takes the hash of its earliest folded title, unless another paper holds it: a paper
    of `held`, or one of these that has it already as its id, or that comes earlier in sighting
    order. Then it takes the hash of that title and abstract."""
    rows = first.select("paper_id", "title_key", "abstract").rows()
    taken = set(held) | {p for p, k, _ in rows if p == stable_hash(k)}
    ids: dict[str, str] = {}
    for paper_id, key, abstract in rows:
        plain = stable_hash(key)
        if plain == paper_id or plain not in taken:
            ids[paper_id] = plain
        else:
            ids[paper_id] = stable_hash(f"{key}\n{abstract or ''}")
        taken.add(ids[paper_id])
    if len(set(ids.values())) != len(ids):
        raise ValueError("two papers were given one id")  # a sha256 collision, or a broken invariant
    return ids


def title_rows(appearances: pl.DataFrame) -> pl.DataFrame:
    """Appearances of some papers (all of each) -> their paper_titles rows."""
    keyed = map_distinct(appearances, "title", "title_key", title_key)
    return (
        keyed.sort("snapshot_date", "snapshot_id", "rank")
        .group_by("paper_id", "title_key")
        .agg(
            pl.col("title").last(),
            first_seen=pl.col("snapshot_date").min(),
            last_seen=pl.col("snapshot_date").max(),
            times_seen=pl.len().cast(pl.Int64),
        )
        .pipe(map_distinct, "title_key", "title_id", stable_hash)
        .sort("paper_id", "title_key")
    )
