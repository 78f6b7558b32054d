"""Entity resolution's scorer keeps shingles as packed integer arrays: its Jaccard is the Jaccard
of similarity.shingles' word tuples, exactly, for short and empty abstracts too, and after the
vocabulary outgrows the packing (records of three word numbers instead)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.curate.resolve import _Scorer
from paperfeed.curate.similarity import abstract_words, jaccard, shingles

WORDS = st.sampled_from("graph neural network diffusion model video agent the of a reward token 3d gpt".split())
ABSTRACTS = st.lists(WORDS, max_size=12).map(" ".join)


def expected(x: str, y: str) -> float:
    return jaccard(shingles(abstract_words(x)), shingles(abstract_words(y)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ABSTRACTS, ABSTRACTS), min_size=1, max_size=8))
def test_the_packed_jaccard_is_the_jaccard_of_word_shingles(pairs: list[tuple[str, str]]) -> None:
    scorer = _Scorer()
    for x, y in pairs:
        assert scorer.jaccard(x, y) == expected(x, y), (x, y)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(ABSTRACTS, ABSTRACTS), min_size=1, max_size=8))
def test_past_the_packing_s_vocabulary_it_stays_exact(pairs: list[tuple[str, str]]) -> None:
    scorer = _Scorer(id_bits=2)  # room for three words: the fourth switches to records
    for x, y in pairs:
        assert scorer.jaccard(x, y) == expected(x, y), (x, y)


def test_a_one_word_abstract_is_not_a_three_word_one() -> None:
    scorer = _Scorer()
    assert scorer.jaccard("graph", "graph") == 1.0
    assert scorer.jaccard("graph", "graph graph graph") == 0.0
    assert scorer.jaccard("", "") == 1.0 and scorer.jaccard("", "graph") == 0.0
