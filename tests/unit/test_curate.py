"""Curation rules: duplicates, versions (SCD2), truncation, arrival order, same-date snapshots."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest

from helpers import abstract, prepared
from paperfeed.curate.increment import curate
from paperfeed.model.contracts import BY_NAME
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.tables import Tables

NOW = dt.datetime(2025, 3, 22, tzinfo=dt.UTC)
ONE = ("Paper One", abstract("one"))
TWO = ("Paper Two", abstract("two"))
THREE = ("Paper Three", abstract("three"))


def run(*batches: list[PreparedSnapshot]) -> Tables:
    """Curate batch after batch, as consecutive runs do."""
    tables = Tables.empty()
    for i, batch in enumerate(batches):
        tables = curate(tables, batch, f"run-{i}", NOW)
    return tables


def paper(tables: Tables, title: str) -> dict[str, object]:
    return tables.papers.filter(pl.col("title") == title).row(0, named=True)


def test_papers_and_appearances_from_two_snapshots() -> None:
    tables = run([prepared("Mar 14", [TWO, ONE], "a.txt"), prepared("Mar 15", [ONE, THREE, TWO], "b.txt")])
    assert tables.papers.height == 3 and tables.appearances.height == 5
    two = paper(tables, "Paper Two")
    assert (two["first_seen"], two["last_seen"], two["times_seen"], two["best_rank"], two["latest_rank"]) == (
        dt.date(2025, 3, 14), dt.date(2025, 3, 15), 2, 1, 3,
    )


def test_redelivery_with_crlf_bom_and_new_name_is_a_duplicate_that_adds_nothing() -> None:
    first = run([prepared("Mar 14", [ONE, TWO], "a.txt")])
    again = curate(first, [prepared("Mar 14", [ONE, TWO], "copy of a.txt", crlf=True, bom=True)], "run-2", NOW)
    row = again.snapshots.filter(pl.col("source_name") == "copy of a.txt").row(0, named=True)
    assert row["status"] == "duplicate"
    assert row["duplicate_of"] == first.snapshots["snapshot_id"][0]
    assert row["reason"].startswith("same records as a.txt")
    assert again.papers.equals(first.papers) and again.appearances.equals(first.appearances)


def test_duplicate_within_one_batch_is_caught_too() -> None:
    tables = run([prepared("Mar 14", [ONE], "a.txt"), prepared("Mar 14", [ONE], "b.txt", crlf=True)])
    assert tables.snapshots["status"].to_list() == ["accepted", "duplicate"]
    assert tables.appearances.height == 1


def test_cosmetic_title_variants_are_one_paper_with_the_newest_title() -> None:
    tables = run(
        [prepared("Mar 14", [("Paper  one", abstract("one"))], "a.txt")],
        [prepared("Mar 15", [("PAPER ONE.", abstract("one"))], "b.txt")],
        [prepared("Mar 16", [("Paper\u00a0One", abstract("one"))], "c.txt")],
    )
    assert tables.papers.height == 1
    assert tables.papers.row(0, named=True)["title"] == "Paper One"
    assert tables.appearances["title_raw"].to_list() == ["Paper  one", "PAPER ONE.", "Paper\u00a0One"]


def test_revised_abstract_makes_a_new_version_and_papers_shows_the_newest() -> None:
    revised = ("Paper One", abstract("one, revised"))
    tables = run([prepared("Mar 14", [ONE], "a.txt")], [prepared("Mar 17", [revised], "b.txt")])
    assert paper(tables, "Paper One")["abstract"] == revised[1]
    assert paper(tables, "Paper One")["n_versions"] == 2
    versions = tables.paper_versions.select("version", "abstract", "valid_from", "valid_to", "is_current").rows()
    assert versions == [
        (1, ONE[1], dt.date(2025, 3, 14), dt.date(2025, 3, 17), False),
        (2, revised[1], dt.date(2025, 3, 17), None, True),
    ]


def test_an_older_revision_arriving_late_does_not_become_current() -> None:
    revised = ("Paper One", abstract("one, revised"))
    tables = run([prepared("Mar 17", [revised], "b.txt")], [prepared("Mar 14", [ONE], "a.txt")])
    assert paper(tables, "Paper One")["abstract"] == revised[1]
    assert tables.paper_versions["valid_from"].to_list() == [dt.date(2025, 3, 14), dt.date(2025, 3, 17)]


def test_a_reverted_abstract_is_a_third_version() -> None:
    revised = ("Paper One", abstract("one, revised"))
    tables = run([prepared("Mar 14", [ONE], "a.txt"), prepared("Mar 15", [revised], "b.txt"), prepared("Mar 16", [ONE], "c.txt")])
    assert tables.paper_versions["version"].to_list() == [1, 2, 3]
    assert tables.paper_versions["abstract_hash"][0] == tables.paper_versions["abstract_hash"][2]


def test_truncated_abstract_never_replaces_a_complete_one() -> None:
    cut = ("Paper One", ONE[1][:-30])
    tables = run([prepared("Mar 14", [TWO, ONE], "a.txt")], [prepared("Mar 17", [TWO, cut], "b.txt")])
    assert tables.appearances.filter(pl.col("snapshot_date") == dt.date(2025, 3, 17))["is_truncated"].to_list() == [False, True]
    one = paper(tables, "Paper One")
    assert (one["abstract"], one["abstract_is_truncated"], one["n_versions"], one["times_seen"]) == (ONE[1], False, 1, 2)


def test_truncated_only_abstract_is_kept_flagged_until_a_complete_one_arrives() -> None:
    cut = ("Paper One", ONE[1][:-30].rstrip())
    before = run([prepared("Mar 14", [TWO, cut], "a.txt")])
    assert paper(before, "Paper One")["abstract"] == cut[1]
    assert paper(before, "Paper One")["abstract_is_truncated"] is True
    after = curate(before, [prepared("Mar 11", [ONE, TWO], "b.txt")], "run-2", NOW)
    one = paper(after, "Paper One")
    assert (one["abstract"], one["abstract_is_truncated"], one["n_versions"]) == (ONE[1], False, 1)


def test_first_seen_is_the_earliest_date_whatever_the_arrival_order() -> None:
    snaps = [prepared("Mar 14", [ONE], "a.txt"), prepared("Mar 11", [ONE], "b.txt"), prepared("Mar 17", [ONE], "c.txt")]
    results = {
        tuple(s.source_name for s in order): paper(run(*([s] for s in order)), "Paper One")
        for order in itertools.permutations(snaps)
    }
    assert {(p["first_seen"], p["last_seen"]) for p in results.values()} == {(dt.date(2025, 3, 11), dt.date(2025, 3, 17))}


def test_arrival_order_and_batching_do_not_change_any_table() -> None:
    revised = ("Paper One", abstract("one, revised"))
    snaps = [
        prepared("Mar 14", [ONE, TWO], "a.txt"),
        prepared("Mar 11", [TWO, THREE], "b.txt"),
        prepared("Mar 17", [revised, THREE], "c.txt"),
    ]
    one_batch = run(snaps)
    for order in itertools.permutations(snaps):
        one_by_one = run(*([s] for s in order))
        for name, frame in one_batch.as_dict().items():
            other = one_by_one.as_dict()[name]
            if name == "paper_matches":
                # The evidence is recorded from the side that arrived: the same pairs of papers.
                assert pairs(frame) == pairs(other)
                continue
            # A table is a set of rows: compare them in key order, without who wrote them.
            key, volatile = list(BY_NAME[name].key), list(BY_NAME[name].volatile)
            assert frame.drop(volatile).sort(key).equals(other.drop(volatile).sort(key)), name


def pairs(matches: pl.DataFrame) -> set[tuple[str, str, str]]:
    """The pairs of papers a paper_matches frame holds evidence on, unordered, with the decision."""
    return {(min(a, b), max(a, b), d) for a, b, d in matches.select("paper_id", "other_paper_id", "decision").rows()}


def test_two_snapshots_with_one_date_both_count() -> None:
    tables = run([prepared("Mar 14", [ONE, TWO], "000.txt"), prepared("Mar 14", [THREE, ONE], "001.txt")])
    one = paper(tables, "Paper One")
    assert (one["times_seen"], one["dates_seen"], one["best_rank"]) == (2, 1, 1)
    # Same date: the later name is the newer sighting.
    assert one["latest_rank"] == 2
    assert tables.appearances.filter(pl.col("is_new")).height == 4


def test_is_new_marks_the_first_date_only() -> None:
    tables = run([prepared("Mar 14", [ONE], "a.txt"), prepared("Mar 15", [ONE, TWO], "b.txt")])
    flags = tables.appearances.select("snapshot_date", "rank", "is_new").rows()
    assert flags == [(dt.date(2025, 3, 14), 1, True), (dt.date(2025, 3, 15), 1, False), (dt.date(2025, 3, 15), 2, True)]


@pytest.mark.parametrize("column", ["snapshot_id", "paper_id"])
def test_appearance_keys_are_never_null(column: str) -> None:
    tables = run([prepared("Mar 14", [ONE, TWO], "a.txt")])
    assert tables.appearances[column].null_count() == 0


def test_an_abstract_cut_at_a_full_stop_never_replaces_the_complete_one() -> None:
    # Cut after a sentence: the parser cannot see it, but it is a prefix of a known abstract.
    cut = ("Paper One", ONE[1][: ONE[1].index(" experiment 3.") + len(" experiment 3.")])
    for order in ([[prepared("Mar 14", [TWO, ONE], "a.txt")], [prepared("Mar 17", [TWO, cut], "b.txt")]],
                  [[prepared("Mar 17", [TWO, cut], "b.txt")], [prepared("Mar 14", [TWO, ONE], "a.txt")]]):
        tables = run(*order)
        one = paper(tables, "Paper One")
        assert (one["abstract"], one["n_versions"], one["abstract_is_truncated"]) == (ONE[1], 1, False)
        assert tables.appearances.filter(pl.col("snapshot_date") == dt.date(2025, 3, 17))["is_truncated"].to_list() == [False, True]


def test_a_prefix_in_the_middle_of_a_file_is_a_revision_not_a_cut() -> None:
    extended = ("Paper One", ONE[1] + " We add one more sentence.")
    tables = run([prepared("Mar 14", [ONE, TWO], "a.txt")], [prepared("Mar 17", [extended, TWO], "b.txt")])
    assert paper(tables, "Paper One")["n_versions"] == 2


def test_one_text_seen_complete_somewhere_is_complete() -> None:
    # Ends without a full stop: flagged as cut when it is a file's last record, yet also seen mid-file.
    text = ("Paper One", abstract("one") + " code is accessible online to facilitate replication")
    for order in (["a", "b"], ["b", "a"]):
        snaps = {"a": prepared("Mar 14", [text, TWO], "a.txt"), "b": prepared("Mar 15", [TWO, text], "b.txt")}
        tables = run([snaps[order[0]]], [snaps[order[1]]])
        one = paper(tables, "Paper One")
        assert (one["abstract_is_truncated"], one["n_versions"]) == (False, 1)
        assert tables.paper_versions.filter(pl.col("paper_id") == one["paper_id"])["times_seen"].to_list() == [2]


def test_two_raw_spellings_of_one_text_publish_the_same_raw_text_whatever_the_order() -> None:
    latex = ("TÜLU 3", 'We introduce T\\"ULU 3, a family of models. ' + abstract("tulu"))
    unicode = ("TÜLU 3", "We introduce TÜLU 3, a family of models. " + abstract("tulu"))
    first = run([prepared("Mar 14", [latex], "a.txt")], [prepared("Mar 15", [unicode], "b.txt")])
    second = run([prepared("Mar 15", [unicode], "b.txt")], [prepared("Mar 14", [latex], "a.txt")])
    assert first.paper_versions.equals(second.paper_versions)
    assert first.papers.equals(second.papers)


def test_appearances_join_paper_versions_on_paper_id_and_version_without_fanning_out() -> None:
    revised = ("Paper One", abstract("one, revised"))
    tables = run([prepared("Mar 14", [ONE], "a.txt"), prepared("Mar 15", [revised], "b.txt"), prepared("Mar 16", [ONE], "c.txt")])
    joined = tables.appearances.join(tables.paper_versions, on=["paper_id", "version"])
    assert joined.height == tables.appearances.height == 3
    assert joined["valid_from"].to_list() == [dt.date(2025, 3, 14), dt.date(2025, 3, 15), dt.date(2025, 3, 16)]


def test_which_copy_of_a_redelivered_file_came_first_does_not_change_the_order_of_sightings() -> None:
    a, b = prepared("Mar 14", [ONE, TWO], "a.txt"), prepared("Mar 14", [TWO, ONE], "b.txt")
    c = prepared("Mar 14", [ONE, TWO], "c.txt", crlf=True)  # a re-delivery of a.txt
    results = [paper(run(order), "Paper One")["latest_rank"] for order in ([a, b, c], [c, b, a])]
    assert results == [2, 2]
