"""Properties of the parser and of snapshot preparation, on generated feeds."""

from __future__ import annotations

import json
import re
import unicodedata

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import HEADER, feed_bytes, feed_text, raw_snapshot
from paperfeed.prepare.decode import DecodeError, decode_snapshot
from paperfeed.prepare.identify import add_identity
from paperfeed.prepare.normalise import normalise_records
from paperfeed.prepare.parse import TITLE_MAX_CHARS, match_date, parse_snapshot
from paperfeed.prepare.snapshot import prepare_snapshot, prepare_snapshots
from paperfeed.quality.gx import suites_dir

# Printable text on one line: letters, marks, numbers, punctuation, symbols and spaces, no control
# characters; blocks carry no white space at their ends (the parser strips it).
LINE = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=600
).filter(lambda t: t == t.strip() and bool(t))
TITLE = LINE.filter(lambda t: len(t) <= TITLE_MAX_CHARS)
# A short abstract pairs for certain when it ends like a sentence (see parse.py).
SHORT_ABSTRACT = LINE.filter(lambda t: len(t) < TITLE_MAX_CHARS).map(lambda t: t + ".")
# Longer than any title, by construction: generated text around a filler sentence.
FILLER = "We propose a method and evaluate it on several benchmarks. " * (TITLE_MAX_CHARS // 50)
LONG_ABSTRACT = st.tuples(LINE, LINE).map(lambda parts: f"{parts[0]} {FILLER}{parts[1]}")
ABSTRACT = st.one_of(SHORT_ABSTRACT, LONG_ABSTRACT)
RECORDS = st.lists(st.tuples(TITLE, ABSTRACT), min_size=1, max_size=12)
DATE = st.sampled_from(["Mar 14", "Jan 1", "Dec 31", "Feb 29, 2024", "Sep 9"])
# The publish gate's rules for link URLs, read from its suite: extraction must never produce a
# link the gate would refuse (one such link would block a whole publish).
LINK_RULES = [
    (e["type"], re.compile(e["kwargs"]["regex"]))
    for e in json.loads((suites_dir() / "links.json").read_text(encoding="utf-8"))["expectations"]
    if "regex" in e["kwargs"]
]
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parsed_pairs(text: str) -> list[tuple[str, str | None]]:
    return parse_snapshot(text).records.select("title_raw", "abstract_raw").rows()


@QUICK
@given(DATE, RECORDS)
def test_every_well_formed_record_comes_back_exactly_in_order(date: str, records: list[tuple[str, str]]) -> None:
    parsed = parse_snapshot(feed_text(date, records))
    assert parsed.date_text == date
    assert parsed.records.select("title_raw", "abstract_raw").rows() == records
    assert parsed.records["rank"].to_list() == list(range(1, len(records) + 1))
    assert not parsed.records["ambiguous"].any()


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
    """Titles that lost their abstract and abstracts that lost their title may sit between records.
    Every well-formed record still comes back whole. Nothing of a good record is ever glued to
    damage; only a lone title followed by a lone abstract can pass for a record (and no parser
    could tell). Lone titles here never end like sentences, so they cannot pose as abstracts."""
    lone_titles = TITLE.filter(
        lambda t: not t.endswith((".", "!", "?", ")", "]", '"', "'", "…", "”", "’")) and "://" not in t
    )
    damage = st.one_of(lone_titles.map(lambda t: (t, None)), LONG_ABSTRACT.map(lambda a: (a, None)))
    damaged: list[tuple[str, str | None]] = []
    pieces: list[str] = []
    for record in records:
        drawn = data.draw(st.lists(damage, max_size=2))
        damaged += [*drawn, record]
        pieces += [text for text, _ in drawn]
    drawn = data.draw(st.lists(damage, max_size=2))
    damaged += drawn
    pieces += [text for text, _ in drawn]
    parsed = parse_snapshot(feed_text(date, damaged))
    complete = parsed.records.filter(
        pl.col("title_raw").is_not_null() & pl.col("abstract_raw").is_not_null() & ~pl.col("ambiguous")
    )
    found = set(complete.select("title_raw", "abstract_raw").rows())
    assert set(records) <= found
    assert all(title in pieces and abstract in pieces for title, abstract in found - set(records))


@QUICK
@given(st.text(max_size=3000))
def test_any_text_parses_without_an_unhandled_error(text: str) -> None:
    parsed = parse_snapshot(text)
    assert parsed.records["rank"].to_list() == list(range(1, parsed.records.height + 1))
    assert parsed.date_text is not None or parsed.records.is_empty()


@QUICK
@given(st.binary(max_size=3000), st.sampled_from([None, 2025]))
def test_any_bytes_prepare_without_an_unhandled_error(raw: bytes, year: int | None) -> None:
    snapshot = prepare_snapshot(raw_snapshot(raw), year)
    assert snapshot.encoding is not None or snapshot.detail  # undecodable bytes always say why
    assert snapshot.records.height == 0 or snapshot.date_text is not None


HEADER_DAMAGE = st.lists(
    st.one_of(st.sampled_from(HEADER), TITLE.filter(lambda t: match_date(t) is None)), max_size=5
)


@QUICK
@given(DATE, HEADER_DAMAGE, RECORDS)
def test_header_damage_never_costs_a_record_while_the_date_survives(
    date: str, header: list[str], records: list[tuple[str, str]]
) -> None:
    parsed = parse_snapshot(feed_text(date, records, header=header))
    assert parsed.date_text == date
    assert parsed.header_lines == sum(1 for line in header if line in HEADER)
    assert parsed.records.select("title_raw", "abstract_raw").rows() == records


# Records none of whose blocks could pass for a date line.
UNDATED_RECORDS = st.lists(
    st.tuples(TITLE, ABSTRACT).filter(lambda r: match_date(r[0]) is None and match_date(r[1]) is None),
    min_size=1,
    max_size=12,
)


@QUICK
@example(header=[], records=[("new", "0.")])  # found by hypothesis in CI: a title that is a header line
@given(HEADER_DAMAGE, UNDATED_RECORDS)
def test_a_lost_date_line_yields_no_records_and_no_error(header: list[str], records: list[tuple[str, str]]) -> None:
    parsed = parse_snapshot(feed_text(None, records, header=header))
    assert parsed.date_text is None
    assert parsed.records.is_empty()
    # With no date line nothing marks where the header ends: every block that is a header line
    # counts, a record's included (a title 'new' reads as the header's first line).
    blocks = [*header, *(block for record in records for block in record)]
    assert parsed.header_lines == sum(1 for line in blocks if line in HEADER)


# Text as the feed might carry it, and worse: any Unicode (but lone surrogates, which strict decoding
# never yields), LaTeX-ish backslashes and braces,
# URL-ish fragments glued to punctuation.
NOISY = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(list("\\{}[]$%&_^~#'\"().,;:!?/"))), max_size=400
) | st.builds(
    lambda a, b, c: f"{a} https://{b}.github.io/{c}. {a}", st.text(max_size=40), st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.text(max_size=20)
)


@QUICK
@given(st.lists(st.tuples(NOISY, NOISY), min_size=1, max_size=6))
def test_the_normaliser_takes_any_text_and_gives_clean_text_and_well_formed_links(pairs: list[tuple[str, str]]) -> None:
    records = pl.DataFrame(pairs, schema={"title_raw": pl.String, "abstract_raw": pl.String}, orient="row")
    out = add_identity(normalise_records(records))
    for title in out["title"].drop_nulls():
        assert unicodedata.is_normalized("NFC", title)
        # White space is collapsed and trimmed (control characters are the record gate's business).
        assert not re.search(r"^\s|\s$|\s\s", title.replace("\x1c", "x").replace("\x1d", "x").replace("\x1e", "x").replace("\x1f", "x"))
    for links in out["links"]:
        for link in links:
            for kind, rule in LINK_RULES:
                found = rule.search(link["url"]) is not None
                assert found == (kind == "expect_column_values_to_match_regex"), (kind, link)
    assert out["paper_id"].drop_nulls().str.len_chars().to_list() == [16] * out["paper_id"].drop_nulls().len()


# The bytes decoding has to judge: UTF-8 sequences, encoded surrogates, overlong forms, lone
# Windows-1252 and Latin-1 bytes, bytes undefined in Windows-1252, byte-order marks.
TRICKY_BYTES = st.sampled_from(
    [b"\xc3\xa9", b"\xe2\x80\x9c", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe9", b"\xa0\xbb",
     b"\x93", b"\x81", b"\xff\xfe", b"\xef\xbb\xbf", b"\x00"]
)


@QUICK
@given(st.lists(st.one_of(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20).map(str.encode), TRICKY_BYTES), max_size=40))
def test_any_mix_of_text_and_stray_bytes_decodes_or_is_refused_with_a_reason(parts: list[bytes]) -> None:
    raw = b"".join(parts)
    try:
        text, encoding = decode_snapshot(raw)
    except DecodeError as error:
        assert str(error)
        return
    assert isinstance(text, str) and encoding


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.binary(max_size=400), st.builds(feed_bytes, DATE, RECORDS)), st.sampled_from([None, 2025])), max_size=6))
def test_a_batch_is_prepared_exactly_as_its_files_one_by_one(files: list[tuple[bytes, int | None]]) -> None:
    """Preparing many files as one frame changes nothing about any of them."""
    batch = [(raw_snapshot(raw, f"{i}.txt"), year) for i, (raw, year) in enumerate(files)]
    together = prepare_snapshots(batch)
    for (raw, year), prepared in zip(batch, together, strict=True):
        alone = prepare_snapshot(raw, year)
        assert {k: v for k, v in prepared.__dict__.items() if k != "records"} == {k: v for k, v in alone.__dict__.items() if k != "records"}
        assert prepared.records.equals(alone.records)
