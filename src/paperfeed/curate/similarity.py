"""Entity resolution's evidence: the thresholds, the two scores, the hard guards, and the verdict on a pair.

Pure functions of text. Titles are compared as title keys (paperfeed.prepare.identify.title_key:
case, compatibility forms, punctuation and spacing folded); abstracts are folded the same way and
compared as sets of word 3-shingles.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from paperfeed.prepare.identify import title_key


@dataclass(frozen=True)
class MatchRules:
    """Every threshold of entity resolution, and only here. Scores are in [0, 1].

    Measured on the five real snapshots (281 papers, all 39,340 pairs): the most similar title
    keys of two different papers score 0.836 (D4RL / D5RL), and the most similar abstracts of two
    different papers share 4.7% of their word 3-shingles (OMNI / OMNI-EPIC, same authors).
    """

    # Title score (normalised Indel similarity of title keys) at or above which the titles alone say
    # "same paper": one letter in a 18-letter key ("interactive video(s)") scores 0.97. Above the
    # real maximum for different papers (0.836) with a margin.
    similar_title: float = 0.95
    # A lower title score that joins only when the abstracts corroborate (similar_abstract, or one
    # cut short from the other): a few words changed in a title, its abstract mostly kept.
    corroborated_title: float = 0.90
    # Abstract score (Jaccard of word 3-shingles) at or above which two abstracts are near-identical
    # and the records are one paper whatever their titles: 0.8 allows about 8 changed words in a
    # typical 250-word abstract (each changed word breaks 3 shingles); different real papers: <= 0.047.
    # 3-shingles rather than rapidfuzz's token_set_ratio: unrelated abstracts of this field score
    # 0.56 median with token_set_ratio (shared vocabulary), 0.65 at most, too close to 0.9 to tell
    # apart; shingles keep word order and score unrelated texts near 0.
    same_abstract: float = 0.80
    # An abstract score at or above which the abstracts are similar: a revision (same title) or
    # corroboration (title >= corroborated_title). A third of the sentences rewritten still scores ~0.5.
    similar_abstract: float = 0.25
    # Below this abstract score the abstracts are clearly different work (hard guard): twice the
    # real maximum for different papers (0.047). Between this and similar_abstract: in between.
    different_abstract: float = 0.10
    # A cut-short abstract counts as similar only when it keeps at least this many words: a short
    # stock opening ("In this paper, we propose a") is no evidence.
    min_prefix_words: int = 20
    # Kept-apart pairs are listed for review only with some evidence they might be one work: a
    # title score at least this, or an abstract score at least different_abstract, or a cut abstract.
    candidate_title: float = 0.80
    # Blocking: a new record is compared with the known papers sharing a block key. Title keys: the
    # triples among a title's `rare_tokens` rarest words (by document frequency among known titles),
    # so two changed words among them still leave a shared triple, while two unrelated titles rarely
    # share three rare words (pairs made blocks grow with the history: 9 candidates per record at
    # 10,000 synthetic papers against 1.7 at 1,000). Abstract keys: each sentence of at least
    # `sentence_words` words, and the opening `sentence_words` words (a cut-short abstract keeps them).
    rare_tokens: int = 5
    sentence_words: int = 8
    # A block key shared by more known papers than this is boilerplate ("code is available at
    # github") and finds no candidates: it would make the cost grow with the history. An exact title
    # key is never dropped (the same-title rule must see every paper with that title).
    max_block: int = 50


RULES = MatchRules()

# Rules that join, strongest first (ties between candidates are settled in this order).
JOIN_RULES = ("same_title", "same_abstract", "similar_title_corroborated", "similar_title")
# Reasons that always keep two records apart (the others, "in_between", only fail to join them).
GUARDS = frozenset({"part_differs", "part_added", "sequel_number", "numbers_differ", "different_abstracts"})
_ROMAN = re.compile(r"^x{0,3}(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_PART = re.compile(r"\b(part|chapter|volume|vol)\s+(\w+)\b")
_DIGITS = re.compile(r"\d+")


def _roman(token: str) -> int | None:
    if not token or not _ROMAN.match(token):
        return None
    values = [_ROMAN_VALUES[c] for c in token]
    return sum(-v if i + 1 < len(values) and values[i + 1] > v else v for i, v in enumerate(values))


def _numeral(token: str) -> int | None:
    """'2' / 'ii' / 'two' -> 2; anything else None."""
    return int(token) if token.isdigit() else _roman(token) or _NUMBER_WORDS.get(token)


@functools.lru_cache(maxsize=1 << 16)
def title_numbers(key: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A title key's Part labels and its other numbers: digit runs anywhere (gpt 4o, d4rl) and
    standalone roman numerals of two letters or more (ii, iii, iv; a lone i, v or x only after 'part')."""
    parts = [n for _, value in _PART.findall(key) if (n := _numeral(value)) is not None]
    rest = _PART.sub(lambda m: " " if _numeral(m.group(2)) is not None else m.group(0), key)
    numbers = [int(d) for d in _DIGITS.findall(rest)]
    numbers += [n for token in rest.split() if len(token) > 1 and not token.isdigit() and (n := _roman(token)) is not None]
    return tuple(sorted(parts)), tuple(sorted(numbers))


def titles_conflict(a: str, b: str) -> str | None:
    """The hard guard on two titles (raw or keys), as its reason, or None when they may be one work."""
    (parts_a, numbers_a), (parts_b, numbers_b) = title_numbers(title_key(a)), title_numbers(title_key(b))
    if parts_a != parts_b:
        return "part_differs" if parts_a and parts_b else "part_added"
    if numbers_a != numbers_b:
        small, large = sorted((Counter(numbers_a), Counter(numbers_b)), key=lambda c: c.total())
        return "sequel_number" if small < large else "numbers_differ"
    return None


def title_score(a: str, b: str) -> float:
    """Normalised Indel similarity (rapidfuzz) of two title keys: 1 - edits / total length."""
    return float(Indel.normalized_similarity(a, b))


def abstract_words(abstract: str) -> tuple[str, ...]:
    return tuple(title_key(abstract).split())


def shingles(words: Sequence[str], width: int = 3) -> set[tuple[str, ...]]:
    if len(words) < width:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + width]) for i in range(len(words) - width + 1)}


def jaccard(a: Set[tuple[str, ...]], b: Set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def abstract_score(a: Sequence[str], b: Sequence[str]) -> float:
    """Jaccard similarity of the word 3-shingles of two folded abstracts (abstract_words)."""
    return jaccard(shingles(a), shingles(b))


def cut_short(a: Sequence[str], b: Sequence[str], rules: MatchRules = RULES) -> bool:
    """One folded abstract is the other's beginning, cut at a sentence end or in a word, keeping
    at least min_prefix_words words (the feed cuts a file's last abstract: 003_… snapshot)."""
    cut, full = (a, b) if len(a) <= len(b) else (b, a)
    n = len(cut)
    if n < rules.min_prefix_words or n == len(full) or tuple(cut[:-1]) != tuple(full[: n - 1]):
        return False
    return full[n - 1].startswith(cut[-1])


@dataclass(frozen=True)
class Verdict:
    """Two records' evidence and what it decides: `rule` when they are one paper, else `reason`."""

    rule: str | None
    reason: str | None
    title_score: float
    abstract_score: float | None  # None: an abstract is missing
    abstract_cut: bool

    def listed(self, rules: MatchRules = RULES) -> bool:
        """Whether a kept-apart pair has evidence enough to be reviewed."""
        return self.rule is None and (
            self.title_score >= rules.candidate_title
            or self.abstract_cut
            or (self.abstract_score is not None and self.abstract_score >= rules.different_abstract)
        )


def judge(title: float, same_key: bool, abstract: float | None, cut: bool, guard: str | None, rules: MatchRules = RULES) -> Verdict:
    """The decision on two records from their best scores and their title guard (if any)."""

    def verdict(rule: str | None, reason: str | None = None) -> Verdict:
        return Verdict(rule, reason, title, abstract, cut)

    if guard is not None:
        return verdict(None, guard)
    different = abstract is not None and abstract < rules.different_abstract and not cut
    similar = cut or (abstract is not None and abstract >= rules.similar_abstract)
    if same_key:
        return verdict("same_title") if similar or abstract is None else verdict(None, "different_abstracts" if different else "in_between")
    if abstract is not None and abstract >= rules.same_abstract:
        return verdict("same_abstract")
    if different:
        return verdict(None, "different_abstracts")
    if title >= rules.similar_title:
        return verdict("similar_title")
    if title >= rules.corroborated_title and similar:
        return verdict("similar_title_corroborated")
    return verdict(None, "in_between")
