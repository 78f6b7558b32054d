"""Parse rules, on tiny inline snapshots."""

from __future__ import annotations

import polars as pl
import pytest
from helpers import abstract, feed_bytes, feed_text, prepared, raw_snapshot

from paperfeed.decode import DecodeError, decode_snapshot
from paperfeed.parse import parse_snapshot
from paperfeed.snapshot import prepare_snapshot

RECORDS = [("Paper One", abstract("one")), ("Paper Two", abstract("two")), ("Paper Three", abstract("three"))]


def titles(text: str) -> list[str]:
    return parse_snapshot(text).records["title_raw"].to_list()


def test_parses_header_date_and_records_in_rank_order() -> None:
    parsed = parse_snapshot(feed_text("Mar 14", RECORDS))
    assert parsed.date_text == "Mar 14"
    assert parsed.problems == ()
    assert parsed.records.select("rank", "title_raw", "abstract_raw").rows() == [
        (1, "Paper One", abstract("one")),
        (2, "Paper Two", abstract("two")),
        (3, "Paper Three", abstract("three")),
    ]


def test_records_say_which_line_they_came_from() -> None:
    records = parse_snapshot(feed_text("Mar 14", RECORDS)).records
    # 5 header lines, each followed by a blank line: the first title is on line 11.
    assert records.select("title_line", "abstract_line").rows() == [(11, 13), (15, 17), (19, 21)]


@pytest.mark.parametrize(
    "variant",
    [{}, {"crlf": True}, {"bom": True}, {"final_newline": True}, {"trailing_spaces": True},
     {"crlf": True, "bom": True, "final_newline": True, "trailing_spaces": True}],
)
def test_line_endings_bom_trailing_spaces_and_final_newline_do_not_change_records(variant: dict[str, bool]) -> None:
    text, _ = decode_snapshot(feed_bytes("Mar 14", RECORDS, **variant))
    parsed = parse_snapshot(text)
    assert parsed.date_text == "Mar 14"
    assert parsed.records.select("title_raw", "abstract_raw").rows() == RECORDS


def test_bom_is_removed_and_recorded_as_the_encoding() -> None:
    text, encoding = decode_snapshot(feed_bytes("Mar 14", RECORDS, bom=True))
    assert encoding == "utf-8-sig" and text.startswith("new")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"", "empty file"), (b" \n\n", "only white space"), (b"new\n\nMar 14\n\nT\xe9st", "not valid UTF-8: byte 0xe9 at offset 14")],
)
def test_undecodable_input_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_snapshot(raw)


def test_truncated_last_abstract_is_kept_and_flagged() -> None:
    cut = abstract("three")[:-40]
    records = parse_snapshot(feed_text("Mar 17", [*RECORDS[:2], ("Paper Three", cut)])).records
    assert records["is_truncated"].to_list() == [False, False, True]
    assert records["abstract_raw"][-1] == cut


@pytest.mark.parametrize("ending", ["see https://example.github.io/project", "results (Table 2)", "code at github.com/a/b"])
def test_complete_last_abstract_ending_in_url_or_bracket_is_not_flagged(ending: str) -> None:
    records = parse_snapshot(feed_text("Mar 17", [("Paper", abstract("x") + " " + ending)])).records
    assert records["is_truncated"].to_list() == [False]


def test_only_the_last_record_can_be_truncated() -> None:
    no_full_stop = abstract("one") + " and more without a full stop"
    records = parse_snapshot(feed_text("Mar 17", [("Paper One", no_full_stop), RECORDS[1]])).records
    assert records["is_truncated"].to_list() == [False, False]


def test_last_title_without_abstract_is_a_truncated_record_with_a_problem() -> None:
    records = parse_snapshot(feed_text("Mar 17", [*RECORDS[:2], ("Lonely Title", None)])).records
    last = records.row(-1, named=True)
    assert (last["title_raw"], last["abstract_raw"], last["is_truncated"]) == ("Lonely Title", None, True)
    assert last["problem"] == "title without an abstract"


def test_a_lost_abstract_mid_file_costs_only_its_own_record() -> None:
    damaged = [RECORDS[0], ("Title That Lost Its Abstract", None), RECORDS[1], RECORDS[2]]
    records = parse_snapshot(feed_text("Mar 14", damaged)).records
    good = records.filter(pl.col("problem").is_null())
    assert good.select("title_raw", "abstract_raw").rows() == RECORDS
    assert records.filter(pl.col("problem").is_not_null())["title_raw"].to_list() == ["Title That Lost Its Abstract"]


def test_a_lost_title_leaves_an_orphan_abstract_and_keeps_the_neighbours() -> None:
    text = feed_text("Mar 14", RECORDS).replace("Paper Two\n\n", "")
    parsed = parse_snapshot(text)
    assert parsed.records.select("title_raw", "abstract_raw").rows() == [RECORDS[0], RECORDS[2]]
    assert parsed.damaged.select("text", "problem").rows() == [(abstract("two"), "abstract without a title")]


def test_lines_of_one_block_are_joined_with_a_space() -> None:
    text = feed_text("Mar 14", [("Wrapped\nTitle", "first half of the abstract\nsecond half.")])
    assert parse_snapshot(text).records.select("title_raw", "abstract_raw").rows() == [
        ("Wrapped Title", "first half of the abstract second half.")
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!DOCTYPE html>\n<html><body>Not found</body></html>", "not a feed snapshot"),
        (feed_text(None, RECORDS), "the header has no date line"),
        (feed_text("Mar 14", []), "no records after the header"),
    ],
)
def test_snapshot_level_problems(text: str, problem: str) -> None:
    assert any(problem in p for p in parse_snapshot(text).problems)


def test_damaged_header_lines_do_not_matter_while_the_date_is_there() -> None:
    text = feed_text("Mar 14", RECORDS, header=["new", "Subscr1be"])
    parsed = parse_snapshot(text)
    assert parsed.problems == () and parsed.records.height == 3


def test_repeated_paper_in_one_snapshot_keeps_the_higher_rank() -> None:
    snap = prepared("Mar 14", [RECORDS[0], RECORDS[1], ("paper one.", abstract("other"))])
    assert snap.records["rank"].to_list() == [1, 2]
    assert snap.faults.select("rank", "problem").rows() == [(3, "repeats a paper already listed higher in the same snapshot")]


def test_prepare_rejects_with_the_reason_and_keeps_metadata() -> None:
    snap = prepare_snapshot(raw_snapshot(b"\x89PNG\r\n\x1a\n\x00\x00binary", "image.png"))
    assert snap.rejected and "not valid UTF-8" in snap.problems[0]
    assert snap.source_name == "image.png" and snap.n_bytes == 16
