"""Parse rules, on tiny inline snapshots. The parser reports facts; the gate decides (test_gate)."""

from __future__ import annotations

import polars as pl
import pytest

from helpers import abstract, feed_bytes, feed_text, prepared, raw_snapshot
from paperfeed.prepare.decode import decode_snapshot
from paperfeed.prepare.parse import parse_snapshot
from paperfeed.prepare.snapshot import prepare_snapshot

RECORDS = [("Paper One", abstract("one")), ("Paper Two", abstract("two")), ("Paper Three", abstract("three"))]
SHORT = "We release a short technical report on the method and its data."


def rows(text: str, *columns: str) -> list[tuple[object, ...]]:
    return parse_snapshot(text).records.select(columns or ("title_raw", "abstract_raw")).rows()


def test_parses_header_date_and_records_in_rank_order() -> None:
    parsed = parse_snapshot(feed_text("Mar 14", RECORDS))
    assert (parsed.date_text, parsed.header_lines, parsed.first_line) == ("Mar 14", 4, "new")
    assert parsed.records.select("rank", "title_raw", "abstract_raw", "ambiguous").rows() == [
        (1, "Paper One", abstract("one"), False),
        (2, "Paper Two", abstract("two"), False),
        (3, "Paper Three", abstract("three"), False),
    ]


def test_records_say_which_line_they_came_from() -> None:
    # 5 header lines, each followed by a blank line: the first title is on line 11.
    assert rows(feed_text("Mar 14", RECORDS), "line", "title_line", "abstract_line") == [
        (11, 11, 13), (15, 15, 17), (19, 19, 21),
    ]


@pytest.mark.parametrize(
    "variant",
    [{}, {"crlf": True}, {"bom": True}, {"final_newline": True}, {"trailing_spaces": True},
     {"crlf": True, "bom": True, "final_newline": True, "trailing_spaces": True}],
)
def test_line_endings_bom_trailing_spaces_and_final_newline_do_not_change_records(variant: dict[str, bool]) -> None:
    text, _ = decode_snapshot(feed_bytes("Mar 14", RECORDS, **variant))
    assert rows(text) == RECORDS


def test_a_line_of_only_invisible_characters_is_blank() -> None:
    text = feed_text("Mar 14", RECORDS).replace("Paper Two\n\n", "Paper Two\n\u200b\n", 1)
    assert rows(text) == RECORDS


@pytest.mark.parametrize("date", ["Mar 14", "March 14", "Mar 14th", "14 Mar", "Mar 14, 2025", "14 March 2025"])
def test_date_lines_in_several_forms(date: str) -> None:
    assert parse_snapshot(feed_text(date, RECORDS)).date_text == date


def test_a_date_line_that_lost_its_blank_line_is_split_from_the_first_title() -> None:
    text = feed_text("Mar 14", RECORDS).replace("Mar 14\n\nPaper One", "Mar 14\nPaper One")
    parsed = parse_snapshot(text)
    assert parsed.date_text == "Mar 14"
    assert parsed.records.select("title_raw", "abstract_raw").rows() == RECORDS
    assert parsed.records["title_line"][0] == 10


def test_truncated_last_abstract_is_kept_and_flagged() -> None:
    cut = abstract("three")[:-40]
    records = parse_snapshot(feed_text("Mar 17", [*RECORDS[:2], ("Paper Three", cut)])).records
    assert records["is_truncated"].to_list() == [False, False, True]
    assert records["abstract_raw"][-1] == cut


def test_a_cut_leaving_less_abstract_than_a_title_cannot_be_told_from_a_lost_line() -> None:
    # "Paper Three" + a 12-character remnant, or two titles whose abstracts were lost? Not a guess.
    records = parse_snapshot(feed_text("Mar 17", [*RECORDS[:2], ("Paper Three", "We study thr")])).records
    assert records.select("title_raw", "abstract_raw", "ambiguous").rows()[-2:] == [
        ("Paper Three", None, True), ("We study thr", None, True),
    ]


@pytest.mark.parametrize("ending", ["see https://example.github.io/project", "results (Table 2)", "code at github.com/a/b"])
def test_complete_last_abstract_ending_in_url_or_bracket_is_not_flagged(ending: str) -> None:
    records = parse_snapshot(feed_text("Mar 17", [("Paper", abstract("x") + " " + ending)])).records
    assert records["is_truncated"].to_list() == [False]


def test_only_the_last_record_can_be_truncated() -> None:
    no_full_stop = abstract("one") + " and more without a full stop"
    assert rows(feed_text("Mar 17", [("Paper One", no_full_stop), RECORDS[1]]), "is_truncated") == [(False,), (False,)]


def test_last_title_without_abstract_is_a_record_without_abstract() -> None:
    records = parse_snapshot(feed_text("Mar 17", [*RECORDS[:2], ("Lonely Title", None)])).records
    assert records.row(-1, named=True)["title_raw"] == "Lonely Title"
    assert records.row(-1, named=True)["abstract_raw"] is None


def test_a_lost_abstract_mid_file_costs_only_its_own_record() -> None:
    damaged = [RECORDS[0], ("Title That Lost Its Abstract", None), RECORDS[1], RECORDS[2]]
    assert rows(feed_text("Mar 14", damaged), "rank", "title_raw", "abstract_raw") == [
        (1, "Paper One", abstract("one")),
        (2, "Title That Lost Its Abstract", None),
        (3, "Paper Two", abstract("two")),
        (4, "Paper Three", abstract("three")),
    ]


def test_a_lost_title_leaves_an_abstract_without_title_and_keeps_later_ranks() -> None:
    text = feed_text("Mar 14", RECORDS).replace("Paper Two\n\n", "")
    assert rows(text, "rank", "title_raw", "abstract_raw") == [
        (1, "Paper One", abstract("one")), (2, None, abstract("two")), (3, "Paper Three", abstract("three")),
    ]


def test_short_abstracts_pair_when_the_pairing_is_certain() -> None:
    short_records = [("T1", SHORT), ("T2", SHORT), ("Paper X", abstract("x")), ("T3", SHORT)]
    assert rows(feed_text("Mar 14", short_records), "title_raw", "abstract_raw", "ambiguous") == [
        ("T1", SHORT, False), ("T2", SHORT, False), ("Paper X", abstract("x"), False), ("T3", SHORT, False),
    ]


@pytest.mark.parametrize(
    "damaged",
    [
        # A short abstract next to a title that lost its abstract: which short block is which?
        [RECORDS[0], ("Paper Two", SHORT), ("Paper Three (abstract lost)", None), ("Paper Four", abstract("four"))],
        # Two titles in a row that both lost their abstracts: the second is no abstract.
        [RECORDS[0], ("Lost A", None), ("Lost B", None), ("Paper Four", abstract("four"))],
        # At the end: a lost abstract, then a record whose abstract was cut short.
        [RECORDS[0], ("Paper Two (abstract lost)", None), ("Paper Three", "We study three from angle 0 and rep")],
    ],
)
def test_blocks_that_cannot_be_told_apart_are_flagged_not_guessed(damaged: list[tuple[str, str | None]]) -> None:
    records = parse_snapshot(feed_text("Mar 14", damaged)).records
    clean = records.filter(~pl.col("ambiguous"))
    assert set(clean.select("title_raw", "abstract_raw").rows()) <= {r for r in damaged if r[1] is not None}
    flagged = records.filter(pl.col("ambiguous"))
    assert flagged.height >= 2 and flagged["abstract_raw"].null_count() == flagged.height


def test_lines_of_one_block_are_joined_with_a_space() -> None:
    text = feed_text("Mar 14", [("Wrapped\nTitle", abstract("first half") + "\n" + "second half.")])
    assert rows(text) == [("Wrapped Title", abstract("first half") + " second half.")]


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("<!DOCTYPE html>\n<html><body>Not found</body></html>", (None, 0, "<!DOCTYPE html> <html><body>Not found</body></html>", 0)),
        (feed_text(None, RECORDS), (None, 4, "new", 0)),
        (feed_text("Mar 14", []), ("Mar 14", 4, "new", 0)),
        (feed_text("Mar 14", RECORDS, header=["new", "Subscr1be"]), ("Mar 14", 1, "new", 3)),
    ],
)
def test_facts_the_gate_judges(text: str, facts: tuple[object, ...]) -> None:
    parsed = parse_snapshot(text)
    assert (parsed.date_text, parsed.header_lines, parsed.first_line, parsed.records.height) == facts


def test_repeated_paper_in_one_snapshot_points_at_its_first_complete_listing() -> None:
    snap = prepared("Mar 14", [("Paper One", None), RECORDS[1], ("paper one.", abstract("one")), ("PAPER ONE", abstract("x"))])
    assert snap.records.select("rank", "repeat_of_rank").rows() == [(1, None), (2, None), (3, None), (4, 3)]


def test_prepare_records_facts_about_undecodable_bytes() -> None:
    snap = prepare_snapshot(raw_snapshot(b"\x89PNG\r\n\x1a\n\x00\x00binary", "image.png"))
    assert (snap.encoding, snap.source_name, snap.n_bytes, snap.records.height) == (None, "image.png", 16, 0)
    assert snap.detail is not None and "not valid UTF-8" in snap.detail
    assert not snap.rejected  # the gate decides

