"""Entity resolution: which known paper each new record is, if any, deterministic and explained.

resolve(new, index) compares each new record with the known papers its block keys find
(paperfeed.curate.blocking) and with the other new records of the batch sharing a key, judges each
pair (paperfeed.curate.similarity: rules, guards, thresholds), then joins the pairs that are one
work with union-find, strongest evidence first: same_title, same_abstract,
similar_title_corroborated, similar_title; ties by scores, then by the records' text. A join is
skipped (and listed) when it would put two members that a hard guard keeps apart in one group (a
chain A~B~C must not join A and C that conflict), or two records seen in one snapshot (given a
`snapshot_id` column: the feed lists a work once per snapshot). A record that is one work with two known papers
joins them: the papers are merged (`merges`), as they would have been had everything arrived in
one batch, so the result does not depend on arrival order.

Records are identified by their text (title_key, abstract), never by row position, so any row
order gives the same result. A group of new records without a known paper is a new paper; its
representative is its smallest (title_key, abstract), and its id is stable_hash(title_key) as
today unless another group or a known paper has that id: then stable_hash(title_key + abstract).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from paperfeed.curate.blocking import KnownIndex, block_keys, build_index, is_abstract_key, require_title_keys
from paperfeed.curate.similarity import (
    GUARDS,
    JOIN_RULES,
    MatchRules,
    Verdict,
    abstract_words,
    cut_short,
    judge,
    title_score,
    titles_conflict,
)
from paperfeed.prepare.identify import stable_hash

DECISIONS = pl.Schema(
    {"resolved_id": pl.String, "is_new_paper": pl.Boolean, "rule": pl.String, "title_score": pl.Float64,
     "abstract_score": pl.Float64, "abstract_cut": pl.Boolean, "matched_title_key": pl.String}
)  # fmt: skip
CANDIDATES = pl.Schema(
    {"title_key": pl.String, "abstract_hash": pl.String, "other_paper_id": pl.String, "other_title_key": pl.String,
     "other_abstract_hash": pl.String, "title_score": pl.Float64, "abstract_score": pl.Float64, "abstract_cut": pl.Boolean,
     "reason": pl.String}
)  # fmt: skip


@dataclass(frozen=True)
class Resolution:
    # The new records, in their order, + DECISIONS: resolved_id is the known paper joined, or the new
    # paper's id (is_new_paper); rule and scores are those of the join that put the record in its
    # group (None for a record that joined nothing), matched_title_key the other side's title.
    decisions: pl.DataFrame
    candidates: pl.DataFrame  # CANDIDATES: pairs kept apart with evidence enough to review, sorted
    # Known papers a record joined to another known paper: paper_id -> the resolved_id of their group
    # (the smallest known id in it).
    merges: dict[str, str]


@dataclass(frozen=True)
class _Entity:
    """A known paper (paper_id set) or a distinct new record."""

    titles: tuple[str, ...]
    abstracts: tuple[str, ...]
    paper_id: str | None = None


class _Scorer:
    """Compares entities, folding and shingling each abstract once per call.

    An abstract's word 3-shingles (similarity.shingles) are kept as a sorted array of integers:
    each distinct word gets a number, and a shingle is its three numbers packed into one int64
    (0 where an abstract of one or two words has no third or second word). Jaccard over those
    arrays is the Jaccard of the word sets, exactly, at a tenth of the memory of sets of word
    tuples (a 38,000-record batch: 226 MiB) and a quarter of the time. Past 2**21 distinct words in
    one call the numbers no longer fit three to an int64: the shingles are kept as 12-byte records
    (three uint32) instead, exact as well, slower."""

    def __init__(self, id_bits: int = 21) -> None:
        if not 1 <= id_bits <= 21:
            raise ValueError("three word numbers of more than 21 bits do not fit one int64")
        self._bits = id_bits
        self._vocabulary: dict[str, tuple[str, int]] = {}  # word -> (one shared copy of it, its number)
        self._words: dict[str, tuple[str, ...]] = {}
        self._numbers: dict[str, npt.NDArray[np.uint32]] = {}
        self._shingles: dict[str, npt.NDArray[Any]] = {}
        self._wide = False

    def _fold(self, abstract: str) -> None:
        if abstract in self._words:
            return
        vocabulary, words, numbers = self._vocabulary, [], []
        for word in abstract_words(abstract):
            entry = vocabulary.get(word)
            if entry is None:
                entry = vocabulary[word] = (word, len(vocabulary) + 1)
            words.append(entry[0])
            numbers.append(entry[1])
        self._words[abstract] = tuple(words)
        self._numbers[abstract] = np.array(numbers, dtype=np.uint32)
        if not self._wide and len(vocabulary) >= 1 << self._bits:
            self._wide = True
            self._shingles.clear()  # made again from the numbers, as records

    def _shingles_of(self, abstract: str) -> npt.NDArray[Any]:
        found = self._shingles.get(abstract)
        if found is None:
            found = self._shingles[abstract] = self._pack(self._numbers[abstract])
        return found

    def _pack(self, numbers: npt.NDArray[np.uint32]) -> npt.NDArray[Any]:
        if numbers.size < 3:  # similarity.shingles: the words themselves, one shingle (none if no words)
            triples = np.zeros((min(numbers.size, 1), 3), dtype=np.uint32)
            triples[:, : numbers.size] = numbers
        else:
            triples = np.stack([numbers[:-2], numbers[1:-1], numbers[2:]], axis=1)
        if self._wide:
            return np.unique(np.ascontiguousarray(triples).view("V12").ravel())
        wide = triples.astype(np.int64)
        return np.unique((wide[:, 0] << (2 * self._bits)) | (wide[:, 1] << self._bits) | wide[:, 2])

    def jaccard(self, x: str, y: str) -> float:
        """similarity.jaccard of the two abstracts' shingles (both folded first)."""
        self._fold(x)
        self._fold(y)
        a, b = self._shingles_of(x), self._shingles_of(y)
        if not a.size and not b.size:
            return 1.0
        common = int(np.intersect1d(a, b, assume_unique=True).size)
        return common / (a.size + b.size - common)

    @staticmethod
    def close_titles(a: _Entity, b: _Entity, rules: MatchRules) -> bool:
        """The cheap filter before the abstracts are compared: could these titles join or be listed?"""
        return any(title_score(x, y) >= rules.candidate_title for x in a.titles for y in b.titles)

    def compare(self, a: _Entity, b: _Entity) -> tuple[Verdict, str]:
        """The verdict on two entities from their closest titles and abstracts, and b's closest title."""
        score, closest = max((title_score(x, y), y) for x in a.titles for y in b.titles)
        guard = next((g for x in a.titles for y in b.titles if (g := titles_conflict(x, y))), None)
        abstract, cut = None, False
        if a.abstracts and b.abstracts:
            abstract = max(self.jaccard(x, y) for x in a.abstracts for y in b.abstracts)
            cut = any(cut_short(self._words[x], self._words[y]) for x in a.abstracts for y in b.abstracts)
        same = not set(a.titles).isdisjoint(b.titles)
        return judge(score, same, abstract, cut, guard), closest


def compare(title_key_a: str, abstract_a: str | None, title_key_b: str, abstract_b: str | None) -> Verdict:
    """The verdict on two single records (for review and tests; resolve() compares whole papers)."""
    a, b = (_Entity((k,), (t,) if t else ()) for k, t in ((title_key_a, abstract_a), (title_key_b, abstract_b)))
    return _Scorer().compare(a, b)[0]


def resolve_against(new: pl.DataFrame, known: pl.DataFrame) -> Resolution:
    """resolve() with the index built here for `new`, as a run builds it: known is paper_id,
    title_key, abstract (one row per sighting)."""
    return resolve(new, build_index(known, new.select("title_key", "abstract").unique()))


def resolve(
    new: pl.DataFrame, index: KnownIndex, seen_in_lookup: Callable[[list[str]], Mapping[str, set[str]]] | None = None
) -> Resolution:
    """new: title_key, abstract (+ any columns, kept) -> each record's paper and the pairs kept apart.

    seen_in_lookup: known paper_ids -> the snapshots each was seen in; asked only before two known papers
    would merge (two papers of one snapshot are two works). Without it, known papers are not
    checked for that."""
    require_title_keys(new)
    if clash := set(new.columns) & set(DECISIONS):
        raise ValueError(f"new records already have decision columns: {sorted(clash)}")
    table = new.select("title_key", "abstract").unique().sort("title_key", "abstract", nulls_last=True)
    distinct = table.rows()
    records = [_Entity((key,), (abstract,) if abstract else ()) for key, abstract in distinct]
    nodes = _Nodes(records, index)
    scorer, joins, listed = _Scorer(), [], []
    # The feed lists a work once per snapshot: two records of one snapshot are two works.
    seen_in: dict[int, set[str]] = {}
    seen_in_known = seen_in_lookup
    if "snapshot_id" in new.columns:
        positions = {record: n for n, record in enumerate(distinct)}
        for key, abstract, snapshot in new.select("title_key", "abstract", "snapshot_id").unique().iter_rows():
            seen_in.setdefault(positions[(key, abstract)], set()).add(snapshot)
    for a, b, by_abstract in _pairs(table, index):
        if not by_abstract and not scorer.close_titles(nodes[a], nodes[b], index.rules):
            continue  # brought by title words only, and titles too far apart to join or to list
        verdict, closest = scorer.compare(nodes[a], nodes[b])
        if verdict.rule is not None:
            joins.append((JOIN_RULES.index(verdict.rule), -verdict.title_score - (verdict.abstract_score or 0), a, b, verdict, closest))
        elif verdict.listed(index.rules):
            listed.append((a, b, verdict, closest))
    groups = _UnionFind(nodes, scorer, seen_in, lookup=seen_in_known)
    attached: dict[int, tuple[Verdict, str]] = {}
    for *_, a, b, verdict, closest in sorted(joins, key=lambda j: j[:4]):
        refused = groups.union(a, b)
        if refused is None:
            attached.setdefault(a, (verdict, closest))
            attached.setdefault(b, (verdict, nodes[a].titles[0]))
        elif refused != "same_group":
            listed.append((a, b, Verdict(None, refused, *_scores(verdict)), closest))
    ids, merges = _paper_ids(records, groups, index.known_ids)
    rows: list[tuple[object, ...]] = []
    for n, (key, abstract) in enumerate(distinct):
        if n in attached:
            verdict, closest = attached[n]
            rows.append((key, abstract, *ids[n], verdict.rule, *_scores(verdict), closest))
        else:
            rows.append((key, abstract, *ids[n], None, None, None, None, None))
    table = pl.DataFrame(rows, schema={"title_key": pl.String, "abstract": pl.String, **DECISIONS}, orient="row")
    decisions = new.join(table, on=["title_key", "abstract"], how="left", nulls_equal=True, maintain_order="left")
    return Resolution(decisions, _candidates(listed, nodes), merges)


def _pairs(records: pl.DataFrame, index: KnownIndex) -> Iterator[tuple[int, int, bool]]:
    """Record-known pairs (b offset by len(records)) and record-record pairs (a < b) sharing a
    block, each with whether they share an abstract key."""
    batch: dict[str, list[int]] = {}
    for n, keys in enumerate(block_keys(records, index.frequency, index.rules)):
        for position, by_abstract in index.candidates(keys):
            yield n, records.height + position, by_abstract
        for block in keys:
            batch.setdefault(block, []).append(n)
    seen: dict[tuple[int, int], bool] = {}
    for block, members in sorted(batch.items()):
        if len(members) <= index.rules.max_block or block.startswith("=:"):
            for pair in combinations(members, 2):
                seen[pair] = seen.get(pair, False) or is_abstract_key(block)
    for (a, b), by_abstract in sorted(seen.items()):
        yield a, b, by_abstract


def _scores(verdict: Verdict) -> tuple[float, float | None, bool]:
    return verdict.title_score, verdict.abstract_score, verdict.abstract_cut


class _Nodes:
    """Node n: record n when n < len(records), else known paper n - len(records), made when first used
    (a call touches the records' candidates only, never the whole history)."""

    def __init__(self, records: list[_Entity], index: KnownIndex) -> None:
        self.records, self.index = records, index
        self.known: dict[int, _Entity] = {}

    def __getitem__(self, n: int) -> _Entity:
        if n < len(self.records):
            return self.records[n]
        if n not in self.known:
            p, i = n - len(self.records), self.index
            self.known[n] = _Entity(i.titles[p], i.abstracts[p], i.paper_ids[p])
        return self.known[n]


class _UnionFind:
    """Groups of nodes; a union is refused when it would hold two members a hard guard keeps apart
    (titles, or clearly different abstracts: A and C may each be close to a B in between, never to
    each other), or two records seen in one snapshot."""

    def __init__(
        self, nodes: _Nodes, scorer: _Scorer, seen_in: dict[int, set[str]], lookup: Callable[[list[str]], Mapping[str, set[str]]] | None
    ) -> None:
        self.nodes, self.scorer, self.parent, self.members = nodes, scorer, dict[int, int](), dict[int, list[int]]()
        self.seen_in = seen_in  # group root -> the snapshots its records were seen in (known papers: once looked up)
        self.lookup, self.looked_up = lookup, set[int]()

    def find(self, n: int) -> int:
        while self.parent.get(n, n) != n:
            self.parent[n] = n = self.parent.get(self.parent[n], self.parent[n])
        return n

    def union(self, a: int, b: int) -> str | None:
        """Join the groups of a and b: None, or why not (same_group, same_snapshot, conflicts_with_group)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return "same_group"
        left, right = ([self.nodes[m] for m in self.members.get(r, [r])] for r in (ra, rb))
        if any(x.paper_id for x in left) and any(y.paper_id for y in right):
            self._look_up(ra, rb)  # two known papers would merge: were they ever in one snapshot?
        if self.seen_in.get(ra, set()) & self.seen_in.get(rb, set()):
            return "same_snapshot"
        if any(self.scorer.compare(x, y)[0].reason in GUARDS for x in left for y in right):
            return "conflicts_with_group"
        low, high = sorted((ra, rb))
        self.parent[high] = low
        self.members[low] = self.members.get(low, [low]) + self.members.pop(high, [high])
        self.seen_in[low] = self.seen_in.get(low, set()) | self.seen_in.pop(high, set())
        return None

    def _look_up(self, *roots: int) -> None:
        """Add the snapshots of the groups' known papers not looked up yet to their groups' sets."""
        wanted = [m for r in roots for m in self.members.get(r, [r]) if self.nodes[m].paper_id and m not in self.looked_up]
        if self.lookup is None or not wanted:
            return
        found = self.lookup(sorted({str(self.nodes[m].paper_id) for m in wanted}))
        for m in wanted:
            self.looked_up.add(m)
            root = self.find(m)
            self.seen_in[root] = self.seen_in.get(root, set()) | set(found.get(str(self.nodes[m].paper_id), ()))


def _paper_ids(records: Sequence[_Entity], groups: _UnionFind, known_ids: frozenset[str]) -> tuple[list[tuple[str, bool]], dict[str, str]]:
    """Each record's paper_id and whether it is a new paper, and the known papers merged into
    another. Records come sorted, so a group's root (its smallest node) is its smallest record: the
    representative. A group holding known papers keeps the smallest of their ids."""
    roots = [groups.find(n) for n in range(len(records))]
    known_in: dict[int, list[str]] = {}
    for r in set(roots):
        for m in groups.members.get(r, [r]):
            if (p := groups.nodes[m].paper_id) is not None:
                known_in.setdefault(r, []).append(p)
    known_of = {r: min(ids) for r, ids in known_in.items()}
    merges = {p: known_of[r] for r, ids in known_in.items() for p in ids if p != known_of[r]}
    reps = sorted({r for r in roots if r not in known_of})
    plain = [stable_hash(records[r].titles[0]) for r in reps]
    taken = {h for h, n in Counter(plain).items() if n > 1} | known_ids
    new_id = {
        r: h if h not in taken else stable_hash(records[r].titles[0] + "\n" + "".join(records[r].abstracts))
        for r, h in zip(reps, plain, strict=True)
    }
    return [(known_of[r], False) if r in known_of else (new_id[r], True) for r in roots], merges


def _candidates(listed: list[tuple[int, int, Verdict, str]], nodes: _Nodes) -> pl.DataFrame:
    def text_hash(entity: _Entity) -> str | None:
        return stable_hash(entity.abstracts[0]) if entity.abstracts and entity.paper_id is None else None

    rows = {
        (a.titles[0], text_hash(a), b.paper_id, closest if b.paper_id else b.titles[0], text_hash(b), *_scores(v), v.reason)
        for a, b, v, closest in ((nodes[i], nodes[j], v, c) for i, j, v, c in listed)
    }
    return pl.DataFrame(sorted(rows, key=str), schema=CANDIDATES, orient="row")
