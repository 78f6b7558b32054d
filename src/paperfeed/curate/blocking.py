"""Blocking for entity resolution: which known papers a new record is compared with, near-linearly.

Each paper gets a handful of block keys; a record is compared only with the papers sharing a key
(dictionary look-ups: the cost per record does not grow with the number of known papers):
- its exact title key (the same-title rule);
- pairs among its title's `rare_tokens` rarest words (first five letters, so 'video'/'videos'
  agree), rarity being the document frequency among known titles: similar titles share their rare
  words, and a typo in one of four still leaves three words, three pairs, in common;
- each sentence of its abstract of at least `sentence_words` words (folded), and the abstract's
  first `sentence_words` words: near-identical and revised abstracts keep sentences verbatim, a
  cut-short abstract keeps its opening. Sentences are near-unique across papers, so blocks stay small.
Keys are text, not hashes: no randomness, the same blocks in every process.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from paperfeed.curate.similarity import RULES, MatchRules
from paperfeed.prepare.identify import title_key

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or our the their this to towards toward "
    "via we what when where which while who why with without".split()
)


def title_tokens(key: str) -> list[str]:
    """A title key's words for blocking: stop words dropped, each cut to its first five letters."""
    return sorted({token[:5] for token in key.split() if token not in _STOP})


def title_block_keys(key: str, frequency: Mapping[str, int], rules: MatchRules = RULES) -> list[str]:
    tokens = sorted(title_tokens(key), key=lambda t: (frequency.get(t, 0), t))[: rules.rare_tokens]
    pairs = [f"t:{a} {b}" for a, b in itertools.combinations(sorted(tokens), 2)] or [f"t:{t}" for t in tokens]
    return [f"=:{key}", *pairs]


def abstract_block_keys(abstract: str | None, rules: MatchRules = RULES) -> list[str]:
    if not abstract:
        return []
    words = title_key(abstract).split()
    keys = {f"o:{' '.join(words[: rules.sentence_words])}"}
    for sentence in _SENTENCE_END.split(abstract):
        folded = title_key(sentence)
        if folded.count(" ") + 1 >= rules.sentence_words:
            keys.add(f"s:{folded}")
    return sorted(keys)


def block_keys(key: str, abstract: str | None, frequency: Mapping[str, int], rules: MatchRules = RULES) -> list[str]:
    return title_block_keys(key, frequency, rules) + abstract_block_keys(abstract, rules)


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

    def candidates(self, key: str, abstract: str | None) -> list[int]:
        """Positions of the known papers sharing a block key with this record, ascending."""
        found: set[int] = set()
        for block in block_keys(key, abstract, self.frequency, self.rules):
            found.update(self.blocks.get(block, ()))
        return sorted(found)


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
    blocks: defaultdict[str, set[int]] = defaultdict(set)
    for position, (keys, texts) in enumerate(zip(titles, abstracts, strict=True)):
        for key in keys:
            for block in title_block_keys(key, frequency, rules):
                blocks[block].add(position)
        for text in texts:
            for block in abstract_block_keys(text, rules):
                blocks[block].add(position)
    kept = {block: sorted(members) for block, members in blocks.items() if len(members) <= rules.max_block or block.startswith("=:")}
    return KnownIndex(paper_ids, titles, abstracts, frequency, kept, rules)
