"""Quality gates: each bad input gets its verdict, from the suites in expectations/ (Great Expectations)."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers import abstract, feed_bytes, feed_text, prepared, raw_snapshot
from paperfeed.curate.increment import curate
from paperfeed.model.contracts import RUNS
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.status import RunStatus
from paperfeed.model.tables import Tables
from paperfeed.ops.context import RunContext
from paperfeed.ops.finish import run_row
from paperfeed.prepare.snapshot import prepare_snapshot
from paperfeed.publish.summary import RunSummary
from paperfeed.quality import gx
from paperfeed.quality.findings import GateError, SuiteReport
from paperfeed.quality.frames import publish_frames
from paperfeed.quality.gate import check_snapshots
from paperfeed.quality.gx import SUITES_ENV, QualityGate, load_suite, suites_dir

GOOD = [("Paper One", abstract("one")), ("Paper Two", abstract("two"))]
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def gate() -> QualityGate:
    return QualityGate()


def check(gate: QualityGate, raw: bytes, name: str = "feed.txt", year: int | None = 2025) -> PreparedSnapshot:
    return check_snapshots(gate, [prepare_snapshot(raw_snapshot(raw, name), year)])[0]


def header(date: str | None) -> str:
    return feed_text(date, [])


@pytest.mark.parametrize(
    ("raw", "first_reason"),
    [
        (b"", "the file must not be empty"),
        (b"<!DOCTYPE html>\n<html><body><p>Too many requests</p></body></html>", "the file must not be an HTML or XML page"),
        (random.Random(1).randbytes(4096), "the file must be text in a known encoding"),
        (("new\n\nMar 14\n\n" + "\x00" * 100 + "text").encode(), "the text must not be binary"),
        (header("Mar 14").encode(), "the snapshot must hold at least one record"),
        (feed_text(None, GOOD).encode(), "the header must have a date line"),
        (feed_text("Feb 30", GOOD).encode(), "the date line must be a real calendar day"),
        (feed_text("Mar 14", GOOD, header=["Just a text file"]).encode(), "the feed's header must be there"),
    ],
    ids=["empty", "html", "random bytes", "nul bytes", "header only", "no date", "impossible date", "no header"],
)
def test_bad_snapshots_are_rejected_with_a_reason_naming_the_rule_and_what_was_seen(
    gate: QualityGate, raw: bytes, first_reason: str
) -> None:
    snap = check(gate, raw)
    assert snap.verdict is not None
    assert snap.verdict.reason.startswith(first_reason), snap.verdict.reason
    assert "observed" in snap.verdict.reason
    assert snap.verdict.failed_expectations and all("(" in e for e in snap.verdict.failed_expectations)
    assert len(snap.verdict.observed_values) == len(snap.verdict.failed_expectations)


def test_a_rejection_carries_the_decoders_explanation(gate: QualityGate) -> None:
    snap = check(gate, b"new\n\nMar 14\n\n\x81\x8d\x8f\x90")
    assert snap.verdict is not None
    assert "byte 0x81 at offset 13" in snap.verdict.reason


def test_a_latin1_snapshot_is_decoded_not_rejected(gate: QualityGate) -> None:
    snap = check(gate, feed_text("Mar 14", [("Café Models", abstract("cafés"))]).encode("latin-1"))
    assert snap.verdict is None and snap.encoding == "iso-8859-1"
    assert snap.records["title"].to_list() == ["Café Models"]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (("A Title Whose Abstract Never Came", None), "a record must have an abstract"),
        (("Huge", "word " * 200_000 + "end."), "an abstract must be at most 20,000 characters long (observed abstract has 1,000,004"),
        (("Bell\x07 Title", abstract("bells")), "a title must not contain control or invisible formatting characters"),
        (("Fine Title", abstract("nul") + "\x00"), "an abstract must not contain control or invisible formatting characters"),
        (("CafÃ© Mojibake", abstract("mojibake")), "a title must not contain mojibake (UTF-8 read as Windows-1252 or Latin-1, or replacement characters) (observed check_mojibake_title='Ã©')"),
        (("Quotes", abstract("quotes") + " they said â€œyesâ€."), "an abstract must not contain mojibake (UTF-8 read as Windows-1252 or Latin-1, or replacement characters) (observed check_mojibake_abstract='â€œ')"),
        (("ÐžÐ±ÑƒÑ‡ÐµÐ½Ð¸Ðµ Models", abstract("cyrillic")), "a title must not contain mojibake (UTF-8 read as Windows-1252 or Latin-1, or replacement characters) (observed check_mojibake_title='Ðž')"),
        (("Lost \ufffd Letter", abstract("replacement")), "a title must not contain mojibake"),
        (("Right\u202eto Left", abstract("bidi")), "a title must not contain control or invisible formatting characters"),
        (("Paper One.", abstract("again")), "a paper must not be listed twice in one snapshot"),
        (("X", abstract("x")), "a title must be 2 to 300 characters long"),
    ],
    ids=["no abstract", "1 MB abstract", "control in title", "nul in abstract", "mojibake", "cp1252 quotes",
         "cyrillic", "replacement", "bidi override", "repeat", "short title"],
)
def test_a_bad_record_is_set_aside_and_the_rest_of_its_snapshot_kept(
    gate: QualityGate, record: tuple[str, str | None], reason: str
) -> None:
    # The bad record sits in the middle: a title without an abstract there pairs unambiguously.
    snap = check(gate, feed_bytes("Mar 14", [GOOD[0], record, GOOD[1]]))
    assert snap.verdict is None
    assert snap.records["title_raw"].to_list() == ["Paper One", "Paper Two"]
    assert snap.quarantined is not None and snap.quarantined.height == 1
    assert snap.quarantined["reason"][0].startswith(reason), snap.quarantined["reason"][0]
    assert snap.quarantined["rank"][0] == 2


def test_an_abstract_whose_title_was_lost_is_set_aside(gate: QualityGate) -> None:
    raw = feed_text("Mar 14", [GOOD[0], ("Paper Two", abstract("two")), ("Paper Three", abstract("three"))])
    snap = check(gate, raw.replace("Paper Two\n\n", "").encode())
    assert snap.quarantined is not None
    assert snap.quarantined.select("rank", "reason").rows() == [
        (2, "a record must have a title (observed title=None)"),
    ]


def test_ambiguous_blocks_are_set_aside_with_the_reason(gate: QualityGate) -> None:
    damaged = [GOOD[0], ("Lost A", None), ("Lost B", None), GOOD[1]]
    snap = check(gate, feed_bytes("Mar 14", damaged))
    assert snap.records["title_raw"].to_list() == ["Paper One", "Paper Two"]
    assert snap.quarantined is not None
    assert snap.quarantined["title_raw"].to_list() == ["Lost A", "Lost B"]
    assert all(r.startswith("a record's title and abstract must be told apart") for r in snap.quarantined["reason"])


def test_a_truncated_last_abstract_is_kept_and_flagged(gate: QualityGate) -> None:
    snap = check(gate, feed_bytes("Mar 17", [GOOD[0], ("Paper Two", abstract("two")[:320])]))
    assert snap.quarantined is None or snap.quarantined.is_empty()
    assert snap.records.select("title_raw", "is_truncated").rows() == [("Paper One", False), ("Paper Two", True)]


def test_text_paperfeed_writes_itself_is_not_taken_for_mojibake(gate: QualityGate) -> None:
    # \hat{A}\cdot becomes 'Â·' when LaTeX is resolved: the check reads the raw text, which is clean.
    snap = check(gate, feed_bytes("Mar 14", [("Hats", abstract("hats") + r" We bound $\hat{A}\cdot x$ and Straße, Über, naïve.")]))
    assert snap.quarantined is None or snap.quarantined.is_empty()
    assert "Â·" in snap.records["abstract"][0]


@pytest.mark.parametrize("title", ["'); DROP TABLE papers;--", "<script>alert('x')</script> & \"Quotes\""])
def test_metacharacters_are_data_not_faults(gate: QualityGate, title: str) -> None:
    snap = check(gate, feed_bytes("Mar 14", [(title, abstract("metacharacters"))]))
    assert snap.verdict is None and snap.records["title"].to_list() == [title]


def test_a_snapshot_whose_every_record_is_set_aside_is_rejected(gate: QualityGate) -> None:
    snap = check(gate, feed_bytes("Mar 14", [("Bad\x07", abstract("a")), ("Worse\x07", abstract("b"))]))
    tables = curate(Tables.empty(), [snap], "run", dt.datetime.now(dt.UTC))
    row = tables.snapshots.row(0, named=True)
    assert (row["status"], row["n_quarantined"]) == ("rejected", 2)
    assert row["reason"] == "no usable records: all 2 were set aside (see quarantine)"


# --- the publish gate ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_tables() -> Tables:
    now = dt.datetime(2025, 3, 22, tzinfo=dt.UTC)
    linked = (GOOD[0][0], GOOD[0][1] + " Code: https://github.com/example/one.")
    snaps = [prepared("Mar 14", [linked, GOOD[1]], "a.txt"), prepared("Mar 15", [GOOD[1]], "b.txt")]
    return curate(Tables.empty(), snaps, "run", now)


def runs_row(tables: Tables, **change: object) -> pl.DataFrame:
    """The runs row that would publish `tables` as version 1 (what the publish gate validates)."""
    started = dt.datetime(2025, 3, 22, tzinfo=dt.UTC)
    ctx = RunContext("run-1", started, "warehouse", "landing", 2025)
    summary = RunSummary("run-1", RunStatus.PUBLISHED, None, "warehouse", "landing", n_papers=tables.papers.height)
    row = run_row(ctx, summary, "published dataset version 1", RunStatus.PUBLISHED, None) | {"dataset_version": 1} | change
    return RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))


def failures(gate: QualityGate, tables: Tables, runs: pl.DataFrame | None = None) -> dict[str, list[str]]:
    found = {}
    for suite, frame in publish_frames(tables, runs_row(tables) if runs is None else runs).items():
        report = gate.validate(suite, frame)
        if not report.success:
            found[suite] = [f.label for f in report.failures]
    return found


def test_consistent_tables_pass_the_publish_gate(gate: QualityGate, good_tables: Tables) -> None:
    assert good_tables.quarantine.is_empty()
    # A run that sets a record aside and sees Paper One with a revised abstract (evidence of a join).
    revised = (GOOD[0][0], GOOD[0][1] + " We add one more sentence at the end of the revised abstract.")
    with_quarantine = curate(
        good_tables, [check(gate, feed_bytes("Mar 16", [revised, ("Bell\x07", abstract("bells"))]), "c.txt")], "run-2", NOW
    )
    assert with_quarantine.quarantine.height == 1 and with_quarantine.papers.height == 2
    assert with_quarantine.paper_matches.select("decision", "rule").rows() == [("joined", "same_title")]
    frames = publish_frames(with_quarantine, runs_row(with_quarantine))
    assert all(frame.height for frame in frames.values()), "a suite with no rows to check would prove nothing"
    assert failures(gate, with_quarantine) == {}


def test_publish_gate_catches_a_broken_runs_log(gate: QualityGate, good_tables: Tables) -> None:
    twice = pl.concat([runs_row(good_tables), runs_row(good_tables)])
    assert failures(gate, good_tables, twice) == {"runs": ["expect_column_values_to_be_unique(run_id)"]}
    backwards = runs_row(good_tables, finished_at=dt.datetime(2025, 3, 21, tzinfo=dt.UTC))
    assert failures(gate, good_tables, backwards) == {"runs": ["expect_column_pair_values_a_to_be_greater_than_b(finished_at)"]}


def test_every_check_is_reported_passed_or_not_in_its_suite_file_order(gate: QualityGate, good_tables: Tables) -> None:
    broken = Tables(**{**good_tables.as_dict(), "papers": pl.concat([good_tables.papers, good_tables.papers.head(1)])})
    report = gate.validate("papers", publish_frames(broken, runs_row(broken))["papers"])
    written = json.loads((suites_dir() / "papers.json").read_text())["expectations"]
    assert [(c.expectation, c.description) for c in report.checks] == [(e["type"], e["description"]) for e in written]
    assert [c for c in report.checks if not c.success] == [f.check for f in report.failures]
    unique = next(c for c in report.checks if c.expectation == "expect_column_values_to_be_unique")
    assert (unique.column, unique.success, unique.unexpected) == ("paper_id", False, 2)


def test_publish_gate_catches_a_duplicate_paper_id(gate: QualityGate, good_tables: Tables) -> None:
    broken = Tables(**{**good_tables.as_dict(), "papers": pl.concat([good_tables.papers, good_tables.papers.head(1)])})
    assert "expect_column_values_to_be_unique(paper_id)" in failures(gate, broken)["papers"]


def test_publish_gate_catches_dangling_appearances_and_wrong_counts(gate: QualityGate, good_tables: Tables) -> None:
    papers = good_tables.papers.with_columns(times_seen=pl.col("times_seen") + 1).filter(pl.col("title") == "Paper Two")
    found = failures(gate, Tables(**{**good_tables.as_dict(), "papers": papers}))
    assert "expect_column_values_to_be_in_set(check_paper_exists)" in found["appearances"]
    assert "expect_column_pair_values_to_be_equal(times_seen)" in found["papers"]


def test_publish_gate_catches_malformed_links(gate: QualityGate, good_tables: Tables) -> None:
    papers = good_tables.papers.with_columns(
        title=pl.lit("CafÃ© Society"),
        links=pl.lit([{"url": "https://bad url.com/x.", "kind": "code"}], pl.List(pl.Struct({"url": pl.String, "kind": pl.String}))),
    )
    found = failures(gate, Tables(**{**good_tables.as_dict(), "papers": papers}))
    assert "papers" not in found  # mojibake is looked for in the raw title, which is clean here
    assert set(found["links"]) == {
        "expect_column_values_to_match_regex(url)", "expect_column_values_to_not_match_regex(url)",
    }


def broken_publish_frames(good_tables: Tables) -> dict[str, pl.DataFrame]:
    """The publish gate's frames with a malformed link, a paper twice and a runs row twice."""
    papers = good_tables.papers.with_columns(
        links=pl.lit([{"url": "https://bad url.com/x.", "kind": "code"}], pl.List(pl.Struct({"url": pl.String, "kind": pl.String})))
    )
    broken = Tables(**{**good_tables.as_dict(), "papers": pl.concat([papers, papers.head(1)])})
    return publish_frames(broken, pl.concat([runs_row(broken), runs_row(broken)]))


def every_publish_report(gate: QualityGate, good_tables: Tables) -> list[SuiteReport]:
    """Every publish suite, failing ones included (their rows listed, all or the first few)."""
    frames = broken_publish_frames(good_tables)
    reports = [gate.validate(suite, frame, all_rows) for suite, frame in frames.items() for all_rows in (True, False)]
    assert {r.suite for r in reports if not r.success} >= {"papers", "links", "runs"}
    return reports


def test_building_each_expectations_configuration_once_per_validation_changes_no_result(
    gate: QualityGate, good_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as plain:  # GX's own property first, then the memo
        plain.setattr(gx, "_configurations_built_once", contextlib.nullcontext)
        as_gx_builds_them = every_publish_report(gate, good_tables)
    assert every_publish_report(gate, good_tables) == as_gx_builds_them


def test_metric_ids_of_plain_kwargs_taken_as_they_are_change_no_result(
    gate: QualityGate, good_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    from great_expectations.core import id_dict

    gx.suites_loaded()  # the shortcut is in place once the suites are
    with monkeypatch.context() as plain:  # GX converting every id's kwargs first, then the shortcut
        plain.setattr(id_dict, "convert_to_json_serializable", gx_conversion())
        as_gx_converts_them = every_publish_report(gate, good_tables)
    assert every_publish_report(gate, good_tables) == as_gx_converts_them


def gx_conversion() -> object:
    from great_expectations.util import convert_to_json_serializable

    return convert_to_json_serializable


class Colour(enum.Enum):
    RED = "red"


# What GX puts in metric kwargs, and what a conversion changes: NaN, sets, numpy scalars, enums,
# dates, non-string keys, and str/int subclasses.
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    | st.sampled_from([np.int64(3), np.float64(0.5), np.bool_(True), Colour.RED, dt.date(2025, 3, 14), {1, 2}, ("x", 1)]),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(first=_VALUES, second=_VALUES)
@example(first=float("nan"), second=None)
@example(first={1: "a"}, second=[("x", float("nan"))])
@example(first=[np.int64(3), True], second={"key": Colour.RED})
def test_a_metric_id_is_the_one_gx_gives(first: object, second: object) -> None:
    from great_expectations.core import id_dict

    gx.suites_loaded()
    kwargs = id_dict.IDDict({"column": first, "value_set": second})  # two keys: an id of converted JSON
    shortcut = kwargs.to_id()
    with pytest.MonkeyPatch.context() as plain:
        plain.setattr(id_dict, "convert_to_json_serializable", gx_conversion())
        assert shortcut == kwargs.to_id()


# --- suites are files ------------------------------------------------------------------------
@pytest.fixture
def edited_suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "expectations"
    shutil.copytree(suites_dir(), folder)
    monkeypatch.setenv(SUITES_ENV, str(folder))
    yield folder


def test_a_threshold_is_an_edit_to_a_json_file(edited_suites: Path, tmp_path: Path) -> None:
    path = edited_suites / "records.json"
    suite = json.loads(path.read_text())
    for expectation in suite["expectations"]:
        if expectation["kwargs"].get("column") == "abstract" and "max_value" in expectation["kwargs"]:
            expectation["kwargs"]["max_value"] = 100
            expectation["description"] = "an abstract must be at most 100 characters long"
    path.write_text(json.dumps(suite))
    snap = check(QualityGate(), feed_bytes("Mar 14", GOOD))
    assert snap.quarantined is not None and snap.quarantined.height == 2
    assert snap.quarantined["reason"][0].startswith("an abstract must be at most 100 characters long (observed")


def test_a_misspelt_expectation_type_is_an_error_not_a_silent_drop(edited_suites: Path) -> None:
    path = edited_suites / "records.json"
    path.write_text(path.read_text().replace("expect_column_values_to_not_be_null", "expect_column_values_to_not_be_nul", 1))
    with pytest.raises(GateError, match="not known to Great Expectations"):
        load_suite(path)



def test_publish_gate_checks_the_raw_title_for_mojibake(gate: QualityGate, good_tables: Tables) -> None:
    papers = good_tables.papers.with_columns(title_raw=pl.lit("CafÃ© Society"))
    found = failures(gate, Tables(**{**good_tables.as_dict(), "papers": papers}))
    assert "expect_column_values_to_be_null(check_mojibake_title)" in found["papers"]


def test_publish_gate_accepts_a_link_that_closes_its_own_parenthesis(gate: QualityGate, good_tables: Tables) -> None:
    wiki = [{"url": "https://en.wikipedia.org/wiki/Transformer_(machine_learning)", "kind": "other"}]
    papers = good_tables.papers.with_columns(
        links=pl.lit(wiki, pl.List(pl.Struct({"url": pl.String, "kind": pl.String})))
    )
    assert "links" not in failures(gate, Tables(**{**good_tables.as_dict(), "papers": papers}))


def test_great_expectations_keeps_no_frame_it_validated(gate: QualityGate, good_tables: Tables) -> None:
    """GX caches each asset's last batch, its pandas copy of the frame with it, in the execution
    engine for the life of the process: in a backfill, between batches. The gate drops it."""
    from paperfeed.quality.gx import _suites

    frames = publish_frames(good_tables, runs_row(good_tables))
    for suite in ("papers", "appearances"):
        gate.validate(suite, frames[suite])
        engine = _suites().definitions[suite].batch.data_asset.datasource.get_execution_engine()
        assert engine.batch_manager.batch_data_cache == {} and engine.batch_manager.batch_cache == {}


def test_a_validation_imports_nothing_of_great_expectations_itself(
    gate: QualityGate, good_tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paperfeed run` imports GX in a thread (prewarm) while Prefect starts; with a running Prefect
    server its first validation can come while that import goes on. An import of a GX module in
    validate() then met the thread's and failed ("ImportError: deadlock detected": seen in a first
    `paperfeed run`, and in a process that validated 0.3 s and 0.6 s after starting prewarm).
    validate() waits for the suites, which hold what it needs of GX, and imports nothing itself."""
    import builtins

    papers = publish_frames(good_tables, runs_row(good_tables))["papers"]
    gate.validate("papers", papers)  # GX loaded: later imports are GX's own
    imported = []
    real_import = builtins.__import__

    def recording(name: str, globals: dict[str, object] | None = None, *args: object, **kwargs: object) -> object:
        if (globals or {}).get("__name__") == gx.__name__ and name.startswith("great_expectations"):
            imported.append(name)
        return real_import(name, globals, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", recording)
    report = gate.validate("papers", papers)
    assert report.checks and imported == []


def test_two_threads_validating_one_suite_get_each_their_own_verdict(gate: QualityGate, good_tables: Tables) -> None:
    """A Dask worker with --nthreads 2 runs two gates at once in one process. GX names a suite's
    batch by the suite, in an engine shared by every validation: unguarded, one thread read the
    other's frame (wrong verdicts, or "could not be evaluated")."""
    import threading

    good = publish_frames(good_tables, runs_row(good_tables))
    bad = broken_publish_frames(good_tables)
    suites = ("papers", "links")
    alone = {(kind, s): gate.validate(s, frames[s]) for kind, frames in (("good", good), ("bad", bad)) for s in suites}
    assert all(alone["good", s].success for s in suites) and not any(alone["bad", s].success for s in suites)
    seen: list[tuple[str, str, SuiteReport | str]] = []

    def validate_all(kind: str, frames: dict[str, pl.DataFrame]) -> None:
        for _ in range(10):
            for s in suites:
                try:
                    seen.append((kind, s, gate.validate(s, frames[s])))
                except GateError as error:
                    seen.append((kind, s, str(error)))

    threads = [threading.Thread(target=validate_all, args=args) for args in (("good", good), ("bad", bad))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 40 and all(report == alone[kind, s] for kind, s, report in seen)
