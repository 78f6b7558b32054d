"""Blocking for entity resolution: which known papers a new record is compared with, near-linearly.

Each paper gets a handful of block keys; a record is compared only with the papers sharing a key
(dictionary look-ups: the cost per record does not grow with the number of known papers):
- its exact title key (the same-title rule);
- triples among its title's `rare_tokens` rarest words (first five letters, so 'video'/'videos'
  agree), rarity being the document frequency among known titles: similar titles share their rare
  words, and with one or two of five changed, three words, one triple, are still in common;
- each sentence of its abstract of at least `sentence_words` words (folded), and the abstract's
  first `sentence_words` words: near-identical and revised abstracts keep sentences verbatim, a
  cut-short abstract keeps its opening. Sentences are near-unique across papers, so blocks stay small.
Keys are text, not hashes: no randomness, the same blocks in every process. Abstract keys are made
for a whole frame at once (Polars), by the same function for known papers and new records.

A run does not index the whole history: `build_index(known, records)` keeps only the blocks its
records' keys name, each whole, and the known papers in them. Which known titles can hold such a
key is decided vectorised first (a triple's words), and only those are keyed one by one; the
abstract blocks come whole from hash joins of every known abstract's opening and folded sentences
with the wanted keys. The other papers cannot share a block with the records, so resolve()
decides exactly as over the full index.

Those joins need not see every known abstract: given `holding` (a warehouse's abstract key index,
storage/key_index.py), they see only the abstracts that may hold a wanted key, found by the
keys' hashes. The abstract keys are a function of the abstract alone, so they are computed once per
abstract (`abstract_key_hashes`), when it is published, not again in every run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from paperfeed.curate.similarity import RULES, MatchRules
from paperfeed.prepare.identify import stable_hash

# Known abstracts that may hold one of the given abstract block keys (KNOWN_TEXTS' paper_id and
# abstract, every abstract that does among them), lazily: a warehouse's key index, read by hash.
Holding = Callable[[list[str]], pl.LazyFrame]
# Which abstract keys a key index holds: bump it whenever abstract_block_keys (or what it folds
# with) changes, and a warehouse's index is built anew rather than read with stale keys.
ABSTRACT_KEYING = f"v1-w{RULES.sentence_words}"
TITLES_AT_A_TIME = 50_000  # known titles keyed (or their words counted) at once

_STOP = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or our the their this to towards toward "
    "via we what when where which while who why with without".split()
)


def _folded(text: pl.Expr) -> pl.Expr:
    """Polars' fold of text for block keys (close to title_key; the same on both sides is what counts)."""
    return _lowered_words(text.str.normalize("NFKC"))


def _lowered_words(text: pl.Expr) -> pl.Expr:
    """_folded after NFKC: lower case, words apart by single spaces (all of _folded, for ASCII text)."""
    return text.str.to_lowercase().str.replace_all(r"[\W_]+", " ").str.strip_chars()


def _opening(abstract: pl.Expr, rules: MatchRules, fold: Callable[[pl.Expr], pl.Expr] = _folded) -> pl.Expr:
    """An abstract's opening words, folded (its "o:" key without the prefix). `fold` may be
    _lowered_words where the abstract is known to be ASCII (the same result, without NFKC)."""
    return fold(abstract.str.slice(0, 400)).str.split(" ").list.head(rules.sentence_words).list.join(" ")


def _sentences(abstract: pl.Expr) -> pl.Expr:
    """An abstract's sentences, as a list (split after . ! ? and white space)."""
    return abstract.str.replace_all(r"([.!?])\s+", "$1\n").str.split("\n")


def abstract_block_keys(frame: pl.DataFrame, rules: MatchRules = RULES) -> pl.DataFrame:
    """frame: row, abstract -> row, key: the abstract's opening words and its long sentences."""
    texts = frame.select("row", "abstract").filter(pl.col("abstract").str.len_chars() > 0)
    opening = texts.select("row", key=pl.lit("o:") + _opening(pl.col("abstract"), rules))
    sentences = (
        texts.select("row", sentence=_sentences(pl.col("abstract")))
        .explode("sentence")
        .select("row", folded=_folded(pl.col("sentence")))
        .filter(pl.col("folded").str.count_matches(" ") + 1 >= rules.sentence_words)
        .select("row", key=pl.lit("s:") + pl.col("folded"))
    )
    return pl.concat([opening, sentences]).unique()


def key_hash(key: str) -> int:
    """A block key's stable 64-bit hash (sha256's first 64 bits), as a signed integer: what the
    key index stores (8 bytes, not the key's text)."""
    return int(stable_hash(key), 16) - (1 << 63)


def abstract_key_hashes(abstracts: pl.DataFrame, rules: MatchRules = RULES) -> pl.DataFrame:
    """abstracts: abstract_hash, abstract (distinct) -> abstract_hash, key_hash: key_hash of each
    of the abstract's block keys, and a row with a null key_hash for an abstract that has none (so
    that every abstract given is listed: the index knows it has seen it)."""
    rows = abstracts.select("abstract_hash", "abstract").with_row_index("row", 0).cast({"row": pl.Int64})
    keyed = abstract_block_keys(rows, rules)
    distinct = keyed["key"].unique().to_list()
    hashes = pl.DataFrame({"key": distinct, "key_hash": [key_hash(k) for k in distinct]}, schema={"key": pl.String, "key_hash": pl.Int64})
    listed = rows.select("row", "abstract_hash").join(keyed.join(hashes, on="key").select("row", "key_hash"), on="row", how="left")
    return listed.select("abstract_hash", "key_hash").unique().sort("abstract_hash", "key_hash", nulls_last=True)


def is_abstract_key(block: str) -> bool:
    return block[:2] in ("o:", "s:")


def block_keys(records: pl.DataFrame, frequency: Mapping[str, int], rules: MatchRules = RULES) -> list[list[str]]:
    """records: title_key, abstract -> each record's block keys, sorted. Titles are keyed by the
    same title_block_frame as known titles: one rule, one implementation."""
    rows = records.select("title_key", "abstract").with_row_index("row", 0).cast({"row": pl.Int64})
    titled = title_block_frame(rows.select("title_key").drop_nulls().unique(), frequency, rules)
    by_title: dict[str, list[str]] = dict(titled.group_by("title_key").agg("key").iter_rows())
    keys = [list(by_title.get(title, [])) for title in rows["title_key"].to_list()]
    for row, key in abstract_block_keys(rows, rules).iter_rows():
        keys[row].append(key)
    return [sorted(set(k)) for k in keys]


def _tokens(keys: pl.Expr) -> pl.Expr:
    """A column of title keys' blocking words: stop words dropped, each cut to its first five
    letters, distinct (unsorted). Keys hold single spaces (title_key)."""
    word = pl.element()
    return keys.str.split(" ").list.eval(word.filter((word != "") & ~word.is_in(sorted(_STOP))).str.slice(0, 5)).list.unique()


def token_frequency(title_keys: pl.Series) -> dict[str, int]:
    """Document frequency of blocking words among distinct title keys (counted a slice of titles
    at a time: the words of every known title are never all held at once)."""
    counts: dict[str, int] = {}
    for titles in title_keys.drop_nulls().unique().to_frame("title_key").iter_slices(TITLES_AT_A_TIME):
        tokens = titles.select(token=_tokens(pl.col("title_key"))).explode("token").drop_nulls()
        for token, n in tokens["token"].value_counts().iter_rows():
            counts[token] = counts.get(token, 0) + n
    return counts


@dataclass(frozen=True)
class KnownIndex:
    """Known papers ready for matching: built once per run, queried per record."""

    paper_ids: list[str]  # position -> paper_id, sorted (the papers in `blocks`, or every known paper)
    titles: list[tuple[str, ...]]  # position -> every known title key of the paper, sorted
    abstracts: list[tuple[str, ...]]  # position -> every known abstract of the paper, sorted
    frequency: dict[str, int]  # blocking word -> number of known title keys holding it
    blocks: dict[str, list[int]]  # block key -> positions (keys over max_block are dropped)
    rules: MatchRules
    known_ids: frozenset[str]  # every known paper's id (a new paper must not take one)

    def candidates(self, keys: list[str]) -> list[tuple[int, bool]]:
        """Positions of the known papers sharing one of these block keys, ascending, each with
        whether an abstract key is among those shared (else the titles alone brought it)."""
        found: dict[int, bool] = {}
        for block in keys:
            for position in self.blocks.get(block, ()):
                found[position] = found.get(position, False) or is_abstract_key(block)
        return sorted(found.items())


def build_index(
    known: pl.DataFrame | pl.LazyFrame, records: pl.DataFrame | None = None, rules: MatchRules = RULES, holding: Holding | None = None
) -> KnownIndex:
    """known: paper_id, title_key, abstract (one row per known title/abstract, repeats welcome),
    as frames or as a lazy scan of the warehouse; holding: the known abstracts that may hold given
    abstract keys (a superset of those that do), else every known abstract is searched.

    Given records (title_key, abstract), the index holds only the blocks the records' keys name,
    each with every known paper in it, and those papers: what resolve(records, ...) can reach.
    Known abstracts are then streamed through a filter, never held all at once: memory follows the
    run's records, not the history. Without records, every known paper and every block (linear in
    the history; for tests and benchmarks)."""
    if records is None:
        return _index(known.lazy().collect(), rules)
    require_title_keys(records)
    known = known.lazy()
    titles = known.select("paper_id", "title_key").drop_nulls().unique().collect()
    frequency = token_frequency(titles["title_key"])
    wanted = {key for keys in block_keys(records, frequency, rules) for key in keys}
    if holding is None:
        abstracts = known.select("paper_id", "abstract")
    else:  # what the index finds is few abstracts: read once (streaming through the index), not by each join below
        abstracts = holding(sorted(k for k in wanted if is_abstract_key(k))).collect(engine="streaming").lazy()
    abstract_members = _abstract_members(abstracts.drop_nulls(), wanted, rules)
    keyed = pl.concat([_title_keys(titles, frequency, wanted, rules), abstract_members]).unique()
    kept = _blocks(keyed, rules)
    members = kept.select(pl.col("paper_id").explode()).unique()
    # The papers in the blocks, with every title and abstract of theirs (read again, streamed).
    # A filter the Parquet reader applies (`is_in`), not a semi join, which would decode every
    # known abstract first (at 250,000 papers: 126 MiB, not 450).
    texts = known.filter(pl.col("paper_id").is_in(members["paper_id"].implode())).collect(engine="streaming")
    ids = known.select("paper_id").unique().collect(engine="streaming")["paper_id"]
    return _assemble(texts, kept, frequency, rules, ids)


def _index(known: pl.DataFrame, rules: MatchRules) -> KnownIndex:
    """Every known paper and every block."""
    frequency = token_frequency(known["title_key"])
    keyed = pl.concat([
        _title_keys(known.select("paper_id", "title_key").drop_nulls().unique(), frequency, None, rules),
        _abstract_keys(known.select("paper_id", "abstract").drop_nulls().unique(), rules),
    ]).unique()  # fmt: skip
    return _assemble(known, _blocks(keyed, rules), frequency, rules, known["paper_id"].unique())


def _blocks(keyed: Frame, rules: MatchRules) -> Frame:
    """paper_id, key -> key, paper_id (list): the blocks, without those over max_block (an exact
    title's stay). Eager or lazy, as given."""
    return (
        keyed.group_by("key")
        .agg(pl.col("paper_id"))
        .filter((pl.col("paper_id").list.len() <= rules.max_block) | pl.col("key").str.starts_with("=:"))
    )


def _assemble(texts: pl.DataFrame, kept: pl.DataFrame, frequency: dict[str, int], rules: MatchRules, ids: pl.Series) -> KnownIndex:
    """The index of the papers in `texts` (KNOWN_TEXTS rows of at least the papers in `kept`'s blocks)."""
    grouped = (
        texts.group_by("paper_id")
        .agg(pl.col("title_key").drop_nulls().unique().sort(), pl.col("abstract").drop_nulls().unique().sort())
        .sort("paper_id")
    )
    paper_ids = grouped["paper_id"].to_list()
    position = {paper_id: n for n, paper_id in enumerate(paper_ids)}
    blocks = {key: sorted(position[p] for p in members) for key, members in kept.iter_rows()}
    return KnownIndex(
        paper_ids,
        [tuple(t) for t in grouped["title_key"].to_list()],
        [tuple(a) for a in grouped["abstract"].to_list()],
        frequency,
        blocks,
        rules,
        frozenset(ids.to_list()),
    )


def require_title_keys(records: pl.DataFrame) -> None:
    """ValueError unless every record has a title key (what matching keys and compares)."""
    if records["title_key"].null_count():
        raise ValueError("every new record needs a title_key")


_PAIRS = {"paper_id": pl.String, "key": pl.String}
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def title_block_frame(titles: pl.DataFrame, frequency: Mapping[str, int], rules: MatchRules = RULES) -> pl.DataFrame:
    """titles: title_key (distinct) -> title_key, key: each title's block keys, all titles at once.
    A title's keys: `=:` and the title key (the same-title rule), and the triples among its
    `rare_tokens` rarest words (_tokens; rarest by `frequency`, ties by the word), or pairs for
    three words, the words themselves for one or two: one or two changed words still leave a triple.
    The rarest words by one sort; then each title meets the ways to pick from as many words as it
    has (_picks) in one join, and each way is one gather: one plan, whatever the number of ways."""
    counts = pl.DataFrame({"token": list(frequency), "n": list(frequency.values())}, schema={"token": pl.String, "n": pl.Int64})
    triples = (
        titles.lazy()
        .select("title_key", token=_tokens(pl.col("title_key")))
        .explode("token")
        .drop_nulls("token")
        .join(counts.lazy(), on="token", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort("n", "token")
        .group_by("title_key")  # keeps the order within each title: rarest first
        .agg(pl.col("token").head(rules.rare_tokens).sort())
        .with_columns(length=pl.col("token").list.len().cast(pl.Int64))
        .join(_picks(rules).lazy(), on="length")
        .select("title_key", key=pl.lit("t:") + pl.col("token").list.gather(pl.col("picked")).list.join(" "))
    )
    return pl.concat([titles.lazy().select("title_key", key=pl.lit("=:") + pl.col("title_key")), triples]).collect()


def _picks(rules: MatchRules) -> pl.DataFrame:
    """length, picked: for a title with `length` rarest words, each way to pick its key's words
    (positions): triples among them, pairs among three, each word alone among one or two."""
    ways = [
        (length, list(picked))
        for length in range(1, rules.rare_tokens + 1)
        for picked in itertools.combinations(range(length), min(3, max(1, length - 1)))
    ]
    return pl.DataFrame(ways, schema={"length": pl.Int64, "picked": pl.List(pl.Int64)}, orient="row")


def _title_keys(titles: pl.DataFrame, frequency: Mapping[str, int], wanted: set[str] | None, rules: MatchRules) -> pl.DataFrame:
    """titles: paper_id, title_key -> paper_id, key: the title block keys (of `wanted` only, if given).
    A title holding a wanted triple (pair, word) holds its rarest word: only those are keyed."""
    distinct = titles.select("title_key").unique()
    if wanted is not None:
        exact = sorted(k[2:] for k in wanted if k.startswith("=:"))
        rarest = sorted({min(k[2:].split(" "), key=lambda t: (frequency.get(t, 0), t)) for k in wanted if k.startswith("t:")})
        # A slice of titles at a time, each title's words as a list (not one row per word): the
        # words of every known title at once took 100 MB or more at 245,000 papers.
        holds = pl.col("title_key").is_in(exact) | _tokens(pl.col("title_key")).list.eval(pl.element().is_in(rarest)).list.any()
        distinct = pl.concat([chunk.filter(holds) for chunk in distinct.iter_slices(TITLES_AT_A_TIME)] or [distinct])
    # Keyed a slice of titles at a time, keeping the wanted keys only: a big batch wants words of
    # nearly every known title, and all of their keys at once would grow with the history.
    kept = pl.DataFrame({"key": sorted(wanted)}, schema={"key": pl.String}) if wanted is not None else None
    keys = pl.concat([
        keyed if kept is None else keyed.join(kept, on="key", how="semi")
        for keyed in (title_block_frame(chunk, frequency, rules) for chunk in distinct.iter_slices(TITLES_AT_A_TIME))
    ] or [pl.DataFrame(schema={"title_key": pl.String, "key": pl.String})])  # fmt: skip
    return titles.join(keys, on="title_key").select(list(_PAIRS))


def _abstract_members(abstracts: pl.LazyFrame, wanted: set[str], rules: MatchRules) -> pl.DataFrame:
    """abstracts: paper_id, abstract -> paper_id, key: the members of each wanted abstract key's
    block (what _abstract_keys gives for those keys, then _blocks keeps), streamed. A paper holds
    a wanted opening if an abstract's opening is one, and a wanted sentence if one of its
    sentences, folded, is one: both are hash joins with the wanted keys, built once (a pattern
    search over a batch's hundreds of thousands of sentences would be rebuilt for every chunk).
    The joins see every paper, so a block over max_block (a boilerplate sentence: 'code is
    available at ...') is dropped whole here, as in the index of the whole history, and its papers'
    abstracts are never read. NFKC, most of the cost of folding, only where the abstract is not
    ASCII (on ASCII it changes nothing)."""
    openings = pl.LazyFrame({"key": sorted(k[2:] for k in wanted if k.startswith("o:"))}, schema={"key": pl.String})
    sentences = pl.LazyFrame({"key": sorted(k[2:] for k in wanted if k.startswith("s:"))}, schema={"key": pl.String})
    ascii_only = pl.col("abstract").str.contains(r"^[\x00-\x7F]*$")

    def reach(rows: pl.Expr, fold: Callable[[pl.Expr], pl.Expr]) -> list[pl.LazyFrame]:
        # Folded after the filter, in a step of its own: only the rows of this side are folded.
        side = abstracts.filter(rows)
        by_opening = side.select("paper_id", key=_opening(pl.col("abstract"), rules, fold))
        by_sentence = (
            side.select("paper_id", sentence=_sentences(pl.col("abstract")))
            .explode("sentence")
            .select("paper_id", key=fold(pl.col("sentence")))
        )
        return [
            by_opening.join(openings, on="key").select("paper_id", key=pl.lit("o:") + pl.col("key")),
            by_sentence.join(sentences, on="key").select("paper_id", key=pl.lit("s:") + pl.col("key")),
        ]

    members = pl.concat([*reach(ascii_only, _lowered_words), *reach(~ascii_only, _folded)]).unique()
    return _blocks(members, rules).explode("paper_id").select(list(_PAIRS)).collect(engine="streaming")


def _abstract_keys(abstracts: pl.DataFrame, rules: MatchRules) -> pl.DataFrame:
    """abstracts: paper_id, abstract -> paper_id, key: every abstract block key. Keyed row by row
    and joined back by row number, not by the abstracts' text."""
    rows = abstracts.select("paper_id", "abstract").with_row_index("row", 0).cast({"row": pl.Int64})
    return abstract_block_keys(rows, rules).join(rows.select("row", "paper_id"), on="row").select(list(_PAIRS))
