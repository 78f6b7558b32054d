"""Properties of the parser and of snapshot preparation, on generated feeds."""

from __future__ import annotations

import polars as pl
from helpers import feed_bytes, feed_text, raw_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.decode import decode_snapshot
from paperfeed.parse import TITLE_MAX_CHARS, parse_snapshot
from paperfeed.snapshot import prepare_snapshot

# Printable text on one line: letters, marks, numbers, punctuation, symbols and spaces, no control
# characters; blocks carry no white space at their ends (the parser strips it).
LINE = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=600
).filter(lambda t: t == t.strip() and bool(t))
TITLE = LINE.filter(lambda t: len(t) <= TITLE_MAX_CHARS)
# Longer than any title, by construction: generated text around a filler sentence.
FILLER = "We propose a method and evaluate it on several benchmarks. " * (TITLE_MAX_CHARS // 50)
LONG_ABSTRACT = st.tuples(LINE, LINE).map(lambda parts: f"{parts[0]} {FILLER}{parts[1]}")
ABSTRACT = st.one_of(LINE, LONG_ABSTRACT)
RECORDS = st.lists(st.tuples(TITLE, ABSTRACT), min_size=1, max_size=12)
DATE = st.sampled_from(["Mar 14", "Jan 1", "Dec 31", "Feb 29, 2024", "Sep 9"])
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parsed_pairs(text: str) -> list[tuple[str, str | None]]:
    return parse_snapshot(text).records.select("title_raw", "abstract_raw").rows()


@QUICK
@given(DATE, RECORDS)
def test_every_well_formed_record_comes_back_exactly_in_order(date: str, records: list[tuple[str, str]]) -> None:
    parsed = parse_snapshot(feed_text(date, records))
    assert parsed.problems == ()
    assert parsed.date_text == date
    assert parsed.records.select("title_raw", "abstract_raw").rows() == records
    assert parsed.records["rank"].to_list() == list(range(1, len(records) + 1))
    assert parsed.damaged.is_empty()


@QUICK
@given(DATE, RECORDS, st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_encoding_cosmetics_never_change_the_records(
    date: str, records: list[tuple[str, str]], crlf: bool, bom: bool, final_newline: bool, spaces: bool
) -> None:
    raw = feed_bytes(date, records, crlf=crlf, bom=bom, final_newline=final_newline, trailing_spaces=spaces)
    text, _ = decode_snapshot(raw)
    assert parsed_pairs(text) == records


@QUICK
@given(DATE, st.lists(st.tuples(TITLE, LONG_ABSTRACT), min_size=1, max_size=10), st.data())
def test_damage_between_records_never_loses_a_well_formed_record(
    date: str, records: list[tuple[str, str]], data: st.DataObject
) -> None:
    """Lone titles, stray short lines and orphan abstracts may sit between records."""
    damage = st.one_of(
        TITLE.map(lambda t: (t, None)),  # a title whose abstract was lost
        LONG_ABSTRACT.map(lambda a: (a, None)),  # an abstract whose title was lost
    )
    damaged: list[tuple[str, str | None]] = []
    for record in records:
        damaged += data.draw(st.lists(damage, max_size=2))
        damaged.append(record)
    damaged += data.draw(st.lists(damage, max_size=2))
    parsed = parse_snapshot(feed_text(date, damaged))
    pairs = set(parsed.records.select("title_raw", "abstract_raw").rows())
    assert set(records) <= pairs


@QUICK
@given(st.text(max_size=3000))
def test_any_text_parses_without_an_unhandled_error(text: str) -> None:
    parsed = parse_snapshot(text)
    assert parsed.records.schema["rank"] == pl.Int64
    assert all(isinstance(problem, str) and problem for problem in parsed.problems)


@QUICK
@given(st.binary(max_size=3000), st.sampled_from([None, 2025]))
def test_any_bytes_prepare_into_records_or_a_reasoned_rejection(raw: bytes, year: int | None) -> None:
    snapshot = prepare_snapshot(raw_snapshot(raw), year)
    assert snapshot.rejected or snapshot.records.height + snapshot.faults.height > 0
    if snapshot.rejected:
        assert all(problem.strip() for problem in snapshot.problems)
