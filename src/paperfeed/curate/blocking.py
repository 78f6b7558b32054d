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
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from paperfeed.curate.similarity import RULES, MatchRules

_STOP = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or our the their this to towards toward "
    "via we what when where which while who why with without".split()
)


def title_tokens(key: str) -> list[str]:
    """A title key's words for blocking: stop words dropped, each cut to its first five letters."""
    return sorted({token[:5] for token in key.split() if token not in _STOP})


def title_block_keys(key: str, frequency: Mapping[str, int], rules: MatchRules = RULES) -> list[str]:
    """The exact key, and the triples among the title's rare_tokens rarest words (pairs for three
    words, the words themselves for one or two): one or two changed words still leave a triple."""
    tokens = sorted(title_tokens(key), key=lambda t: (frequency.get(t, 0), t))[: rules.rare_tokens]
    size = min(3, max(1, len(tokens) - 1))
    return [f"=:{key}", *(f"t:{' '.join(c)}" for c in itertools.combinations(sorted(tokens), size))]


def _folded(text: pl.Expr) -> pl.Expr:
    """Polars' fold of text for block keys (close to title_key; the same on both sides is what counts)."""
    return text.str.normalize("NFKC").str.to_lowercase().str.replace_all(r"[\W_]+", " ").str.strip_chars()


def abstract_block_keys(frame: pl.DataFrame, rules: MatchRules = RULES) -> pl.DataFrame:
    """frame: row, abstract -> row, key: the abstract's opening words and its long sentences."""
    texts = frame.select("row", "abstract").filter(pl.col("abstract").str.len_chars() > 0)
    opening = texts.select("row", key=pl.lit("o:") + _folded(pl.col("abstract").str.slice(0, 400)).str.split(" ").list.head(rules.sentence_words).list.join(" "))
    sentences = (
        texts.select("row", sentence=pl.col("abstract").str.replace_all(r"([.!?])\s+", "$1\n").str.split("\n"))
        .explode("sentence")
        .select("row", folded=_folded(pl.col("sentence")))
        .filter(pl.col("folded").str.count_matches(" ") + 1 >= rules.sentence_words)
        .select("row", key=pl.lit("s:") + pl.col("folded"))
    )
    return pl.concat([opening, sentences]).unique()


def is_abstract_key(block: str) -> bool:
    return block[:2] in ("o:", "s:")


def block_keys(records: pl.DataFrame, frequency: Mapping[str, int], rules: MatchRules = RULES) -> list[list[str]]:
    """records: title_key, abstract -> each record's block keys, sorted."""
    rows = records.select("title_key", "abstract").with_row_index("row", 0).cast({"row": pl.Int64})
    keys: list[list[str]] = [title_block_keys(k, frequency, rules) for k in rows["title_key"].to_list()]
    for row, key in abstract_block_keys(rows, rules).iter_rows():
        keys[row].append(key)
    return [sorted(set(k)) for k in keys]


def token_frequency(title_keys: pl.Series) -> dict[str, int]:
    """Document frequency of blocking words among distinct title keys."""
    tokens = pl.Series([title_tokens(k) for k in title_keys.drop_nulls().unique().to_list()], dtype=pl.List(pl.String))
    return dict(tokens.explode().drop_nulls().value_counts().iter_rows())


@dataclass(frozen=True)
class KnownIndex:
    """Known papers ready for matching: build once per run (linear in the history), query per record."""

    paper_ids: list[str]  # position -> paper_id, sorted
    titles: list[tuple[str, ...]]  # position -> every known title key of the paper, sorted
    abstracts: list[tuple[str, ...]]  # position -> every known abstract of the paper, sorted
    frequency: dict[str, int]  # blocking word -> number of known title keys holding it
    blocks: dict[str, list[int]]  # block key -> positions (keys over max_block are dropped)
    rules: MatchRules

    def candidates(self, keys: list[str]) -> list[tuple[int, bool]]:
        """Positions of the known papers sharing one of these block keys, ascending, each with
        whether an abstract key is among those shared (else the titles alone brought it)."""
        found: dict[int, bool] = {}
        for block in keys:
            for position in self.blocks.get(block, ()):
                found[position] = found.get(position, False) or is_abstract_key(block)
        return sorted(found.items())


def build_index(known: pl.DataFrame, rules: MatchRules = RULES) -> KnownIndex:
    """known: paper_id, title_key, abstract (one row per known title/abstract, repeats welcome)."""
    grouped = (
        known.select("paper_id", "title_key", "abstract")
        .group_by("paper_id")
        .agg(pl.col("title_key").drop_nulls().unique().sort(), pl.col("abstract").drop_nulls().unique().sort())
        .sort("paper_id")
    )
    paper_ids = grouped["paper_id"].to_list()
    titles = [tuple(t) for t in grouped["title_key"].to_list()]
    abstracts = [tuple(a) for a in grouped["abstract"].to_list()]
    frequency = token_frequency(known["title_key"])
    rows = grouped.with_row_index("row", 0).cast({"row": pl.Int64})
    title_rows = rows.select("row", "title_key").explode("title_key").drop_nulls().rows()
    keyed = pl.concat([
        pl.DataFrame([(r, b) for r, k in title_rows for b in title_block_keys(k, frequency, rules)], schema={"row": pl.Int64, "key": pl.String}, orient="row"),
        abstract_block_keys(rows.select("row", "abstract").explode("abstract").drop_nulls(), rules),
    ])  # fmt: skip
    blocks = (
        keyed.unique()
        .group_by("key")
        .agg(pl.col("row").sort())
        .filter((pl.col("row").list.len() <= rules.max_block) | pl.col("key").str.starts_with("=:"))
    )
    return KnownIndex(paper_ids, titles, abstracts, frequency, dict(zip(blocks["key"].to_list(), blocks["row"].to_list(), strict=True)), rules)
