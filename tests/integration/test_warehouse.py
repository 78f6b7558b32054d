"""Warehouse: dataset versions across tables, time travel, rollback of half-written runs, the lock."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import shutil
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import CommitProperties, DeltaTable

from helpers import abstract, duckdb_file_sql, feed_bytes, ingest
from paperfeed.model.contracts import DATA_TABLES, PAPER_TITLES, PAPERS
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.ops.verify import verify
from paperfeed.storage import warehouse as warehouse_module
from paperfeed.storage.delta import PROPERTIES, in_partitions_holding
from paperfeed.storage.duckdb import connect, open_version, view_statements
from paperfeed.storage.layout import DUCKDB_FILE
from paperfeed.storage.lock import LeaseLost, WarehouseLocked
from paperfeed.storage.releases import release_folders
from paperfeed.storage.warehouse import DatasetVersion, Warehouse, WarehouseError

ONE = ("Paper One", abstract("one"))
TWO = ("Paper Two", abstract("two"))


def counts(warehouse: Path, version: int | None = None) -> tuple[int, int, int]:
    con, _ = open_version(Warehouse.at(warehouse), version)
    return con.sql(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM appearances), (SELECT count(*) FROM snapshots)"
    ).fetchone()  # type: ignore[return-value]


def test_each_run_publishes_one_version_and_old_versions_stay_readable(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    first = ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    second = ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    assert (first.dataset_version, second.dataset_version) == (1, 2)
    assert counts(w, 1) == (1, 1, 1)
    assert counts(w, 2) == (2, 3, 2)
    assert counts(w) == (2, 3, 2)
    assert Warehouse.at(w).published()["dataset_version"].to_list() == [1, 2]


def test_same_input_again_publishes_nothing_and_records_a_noop(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    again = ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    assert again.status == "noop" and again.dataset_version == 1
    assert [o.status for o in again.outcomes] == ["already ingested"]
    runs = Warehouse.at(w).runs()
    assert runs.select("status", "dataset_version").rows() == [("published", 1), ("noop", 1)]
    assert again.message == "nothing new: dataset version 1 stays current"


def test_an_empty_landing_folder_on_a_new_warehouse_says_so(tmp_path: Path) -> None:
    """Not 'dataset version None stays current': what the operator needs to know."""
    landing = tmp_path / "landing"
    landing.mkdir()
    nothing = run_ingest(Warehouse.at(tmp_path / "warehouse"), IngestRequest(FromLanding(landing)))
    assert nothing.status == "noop" and nothing.dataset_version is None and nothing.outcomes == []
    assert nothing.message == f"nothing new: {landing.resolve()} holds no files; nothing is published yet"


def test_unchanged_tables_keep_their_delta_version(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    # The same paper on the next day, nothing set aside: the quarantine does not change.
    ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE])))
    store = Warehouse.at(w)
    v1, v2 = store.version(1), store.version(2)
    assert v2.delta_versions["quarantine"] == v1.delta_versions["quarantine"]
    for changed in ("snapshots", "appearances", "papers", "paper_versions"):
        assert v2.delta_versions[changed] > v1.delta_versions[changed], changed


def test_a_run_killed_before_its_runs_commit_is_invisible_and_rolled_back(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    # A run that wrote a table and died before committing its runs row:
    pl.DataFrame({"paper_id": ["junk"], "first_seen_month": ["2099-01"]}).write_delta(
        store.table_uri("papers"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"}
    )
    assert counts(w) == (1, 1, 1)  # readers go through the runs table: still version 1
    rolled_back = store.recover()
    assert rolled_back == ["papers"]
    assert pl.read_delta(store.table_uri("papers"))["title"].to_list() == ["Paper One"]
    assert ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO]))).dataset_version == 2
    assert counts(w) == (2, 2, 2)


@pytest.mark.parametrize("foreign", ["a stalled paperfeed run", "a writer without commit info"])
def test_another_writers_commit_during_a_run_stops_its_publish_and_the_next_run_converges(
    foreign: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence behind the lock: a writer that lost its lock mid-run (a lease that ran out while
    it stalled) and then commits to a table must not end up inside the version the lock's holder
    publishes. Here such a commit lands between this run's table writes: another paperfeed run's
    append, or a commit of another program that writes no commit info (Delta allows that)."""
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    uri = Warehouse.at(w).table_uri("appearances")

    def stalled_writer_commits(point: str) -> None:
        if point != "after_write:snapshots":  # before this run writes appearances
            return
        if foreign == "a stalled paperfeed run":
            meta = CommitProperties(custom_metadata={"paperfeed.run_id": "the-stalled-run"})
            pl.read_delta(uri).head(1).write_delta(uri, mode="append", delta_write_options={"commit_properties": meta})
        else:
            log = Path(uri) / "_delta_log" / f"{DeltaTable(uri).version() + 1:020d}.json"
            log.write_text(json.dumps({"txn": {"appId": "another-program", "version": 1}}) + "\n")

    with monkeypatch.context() as patched:
        patched.setattr(warehouse_module, "crash_point", stalled_writer_commits)
        expected = "by run the-stalled-run" if foreign == "a stalled paperfeed run" else "that no paperfeed wrote"
        with pytest.raises(LeaseLost, match=rf"table appearances .* has a commit .*{expected}"):
            ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    assert counts(w) == (1, 1, 1)  # nothing published
    again = ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))  # rolls both back, then publishes
    assert again.dataset_version == 2 and counts(w) == (2, 3, 2)
    clean = tmp_path / "clean"
    ingest(clean, ("a.txt", feed_bytes("Mar 14", [ONE])))
    ingest(clean, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    assert Warehouse.at(w).version(2).fingerprints == Warehouse.at(clean).version(2).fingerprints


def test_commits_carry_the_run_id(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    summary = ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    history = DeltaTable(Warehouse.at(w).table_uri("papers")).history(1)[0]
    assert history["paperfeed.run_id"] == summary.run_id
    assert history["paperfeed.dataset_version"] == "1"


def test_unknown_version_is_a_clear_error(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    with pytest.raises(WarehouseError, match=r"dataset version 9 does not exist.*versions are 1\.\.1"):
        open_version(Warehouse.at(w), 9)
    with pytest.raises(WarehouseError, match="nothing is published"):
        open_version(Warehouse.at(tmp_path / "empty"))


def test_duckdb_file_holds_the_views_of_the_current_version(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO])))
    assert duckdb_file_sql(w, "SELECT count(*), (SELECT max(dataset_version) FROM runs) FROM papers") == [(2, 2)]


def _hold_lock(root: str, ready: multiprocessing.Event, release: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    with Warehouse.at(root).lock("holder-run", 0):
        ready.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


def test_second_writer_fails_naming_the_holder_and_a_dead_holder_frees_the_lock(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(w), ready, release))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(WarehouseLocked) as caught:
        with Warehouse.at(w).lock("second-run", 0.5):
            pass
    message = str(caught.value)
    assert f"is locked by run holder-run (pid {holder.pid} on " in message and "after waiting 0.5 s" in message
    holder.kill()  # SIGKILL: the lock must not outlive its process
    holder.join()
    started = time.monotonic()
    with Warehouse.at(w).lock("third-run", 5):
        assert json.loads((w / ".lock").read_text())["run_id"] == "third-run"
    assert time.monotonic() - started < 2


def test_rollback_happens_once_not_on_every_later_run(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    pl.DataFrame({"paper_id": ["junk"], "first_seen_month": ["2099-01"]}).write_delta(
        store.table_uri("papers"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"}
    )
    assert store.recover() == ["papers"]
    versions_after_rollback = DeltaTable(store.table_uri("papers")).version()
    assert store.recover() == []
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))  # a no-op run
    assert DeltaTable(store.table_uri("papers")).version() == versions_after_rollback


def test_a_stale_duckdb_file_is_rewritten_by_the_next_run(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    stale = (w / DUCKDB_FILE).read_bytes()
    ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO])))
    (w / DUCKDB_FILE).write_bytes(stale)  # as if the run died right after publishing
    assert ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO]))).status == "noop"
    assert duckdb_file_sql(w, "SELECT dataset_version, (SELECT count(*) FROM papers) FROM paperfeed_version") == [(2, 2)]


def test_a_duckdb_file_of_an_older_paperfeed_is_rewritten_by_the_next_run(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    (w / DUCKDB_FILE).unlink()
    old = connect(str(w / DUCKDB_FILE))  # its views named the warehouse by absolute path
    old.execute(f"CREATE VIEW papers AS SELECT * FROM delta_scan('{w}/tables/papers')")
    old.execute(f"CREATE VIEW paperfeed_version AS SELECT 1 AS dataset_version, '{w}' AS warehouse")
    old.close()
    assert ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE]))).status == "noop"
    assert duckdb_file_sql(w, "SELECT dataset_version, (SELECT count(*) FROM runs) FROM paperfeed_version") == [(1, 2)]


def test_a_moved_warehouse_reads_its_own_tables_and_keeps_its_duckdb_file(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO])))
    moved = tmp_path / "elsewhere" / "warehouse"
    shutil.copytree(w, moved, symlinks=True)
    # The original changes after the copy: a copy whose views read the original would see this.
    ingest(w, ("c.txt", feed_bytes("Mar 16", [("Paper Three", abstract("three"))])))
    assert duckdb_file_sql(w, "SELECT count(*) FROM papers") == [(3,)]
    assert duckdb_file_sql(moved, "SELECT count(*), (SELECT max(dataset_version) FROM runs) FROM papers") == [(2, 2)]
    shutil.rmtree(w)
    assert duckdb_file_sql(moved, "SELECT dataset_version, count(*) FROM paperfeed_version, appearances GROUP BY 1") == [(2, 2)]
    before = (moved / DUCKDB_FILE).read_bytes()
    assert ingest(moved, ("b.txt", feed_bytes("Mar 15", [TWO]))).status == "noop"
    assert (moved / DUCKDB_FILE).read_bytes() == before  # nothing in it names where the warehouse was
    assert verify(Warehouse.at(moved)).findings == []


def test_a_warehouse_written_before_a_column_existed_stays_readable(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    # Rewrite runs and papers as an older paperfeed would have: without some of today's columns.
    old_runs = pl.read_delta(store.table_uri("runs")).drop("n_quarantined", "quality_report")
    old_runs.write_delta(store.table_uri("runs"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    assert store.runs()["n_quarantined"].to_list() == [None]
    assert counts(w) == (1, 1, 1)
    summary = ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO])))
    assert summary.dataset_version == 2 and counts(w) == (2, 2, 2)


def test_a_version_from_before_a_table_existed_shows_it_empty(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    version = store.current()
    assert version is not None
    older = DatasetVersion(version.number, version.run_id, {k: v for k, v in version.delta_versions.items() if k != "quarantine"}, {}, {})
    con = connect()
    for statement in view_statements(store, older):
        con.execute(statement)
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert [c[0] for c in con.sql("DESCRIBE quarantine").fetchall()][:3] == ["source_name", "snapshot_id", "line"]


def test_a_rejection_stands_until_retried_and_a_fixed_retry_replaces_it(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    leap = ("leap.txt", feed_bytes("Feb 29", [ONE]))
    first = ingest(w, leap, year=2025)
    assert [o.status for o in first.outcomes] == ["rejected"]
    again = ingest(w, leap, year=2024)
    assert again.status == "noop"  # the rejection stands, and the run says so
    assert [(o.status, o.reason) for o in again.outcomes] == [
        ("already ingested", f"same bytes as leap.txt, which was rejected: {first.outcomes[0].reason} "
         "(run with --retry-rejected once that is fixed)")
    ]
    retried = ingest(w, leap, year=2024, retry_rejected=True)
    assert [o.status for o in retried.outcomes] == ["accepted"]
    con, _ = open_version(Warehouse.at(w))
    assert con.sql("SELECT status, snapshot_date FROM snapshots").fetchall() == [("accepted", dt.date(2024, 2, 29))]
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)


def test_a_retry_that_is_rejected_again_changes_nothing(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    bad = ("page.html", b"<html><body>Not found</body></html>")
    ingest(w, bad)
    again = ingest(w, bad, retry_rejected=True)
    assert again.status == "noop"
    assert [(o.status, o.reason[:14]) for o in again.outcomes] == [("rejected", "rejected again")]
    assert again.had_input_problems  # so `paperfeed run` exits 1
    assert Warehouse.at(w).runs()["status"].to_list() == ["recorded", "noop"]


def test_a_retry_rejected_for_another_reason_records_the_new_reason(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    leap = ("leap.txt", feed_bytes("Feb 29", [ONE]))
    ingest(w, leap, year=2023)
    again = ingest(w, leap, year=2025, retry_rejected=True)
    assert [o.status for o in again.outcomes] == ["rejected"] and again.status == "recorded"
    assert ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO]))).dataset_version == 1  # it carries the recorded rows
    con, _ = open_version(Warehouse.at(w))
    assert con.sql("SELECT reason FROM snapshots WHERE status = 'rejected'").fetchone()[0].endswith("is not a day of 2025")  # type: ignore[index]
    assert con.sql("SELECT count(*) FROM quarantine WHERE contains(reason, '2025')").fetchone() == (1,)
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (1,)


def test_a_run_that_only_rejects_files_publishes_no_version_and_the_next_version_carries_its_rows(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    published = store.current()
    junk = ingest(w, ("page.html", b"<html><body>Too many requests</body></html>"), ("empty.txt", b""))
    assert junk.status == "recorded" and junk.dataset_version == 1 and junk.had_input_problems
    assert junk.message == (
        "no new data (2 rejected), nothing published: dataset version 1 stays current; "
        "these files' rows are recorded and go out with the next version"
    )
    assert store.current() == published and counts(w) == (1, 1, 1)  # version 1, its DuckDB file and release stand
    assert duckdb_file_sql(w, "SELECT dataset_version FROM paperfeed_version") == [(1,)]
    assert [p.name for p in release_folders(store)] == ["version=0001"]
    assert store.runs().select("status", "dataset_version", "n_rejected").rows() == [("published", 1, 0), ("recorded", 1, 2)]
    # The rejections are recorded all the same: the same junk again is known, and said to be rejected.
    again = ingest(w, ("page.html", b"<html><body>Too many requests</body></html>"))
    assert again.status == "noop" and "which was rejected: the file must not be an HTML" in again.outcomes[0].reason
    # A copy of a.txt with other bytes (CRLF line ends) only adds a duplicate: no new data either.
    copy = ingest(w, ("a-copy.txt", feed_bytes("Mar 14", [ONE]).replace(b"\n", b"\r\n")))
    assert [o.status for o in copy.outcomes] == ["duplicate"] and copy.status == "recorded" and not copy.had_input_problems
    # The next version carries every recorded row, in its tables and in its release (written whole).
    second = ingest(w, ("b.txt", feed_bytes("Mar 15", [TWO])))
    assert second.dataset_version == 2 and counts(w) == (2, 2, 5)
    con, _ = open_version(store)
    assert con.sql("SELECT status, count(*) FROM snapshots GROUP BY 1 ORDER BY 1").fetchall() == [
        ("accepted", 2), ("duplicate", 1), ("rejected", 2)
    ]
    assert second.release is not None
    assert pl.read_parquet(Path(second.release) / "snapshots" / "*.parquet").height == 5
    assert pl.read_parquet(Path(second.release) / "quarantine" / "*.parquet")["source_name"].sort().to_list() == ["empty.txt", "page.html"]
    assert counts(w, 1) == (1, 1, 1)
    assert verify(store, all_versions=True).findings == []


def test_a_version_fingerprinted_the_old_way_is_built_on_and_still_verifies(tmp_path: Path) -> None:
    """Fingerprints an older paperfeed wrote (sha256 of the sorted rows) are summed anew once, from
    the table, by the next run that changes the table; old and new versions verify."""
    from paperfeed.model.contracts import DATA_TABLES
    from paperfeed.model.fingerprint import fingerprint, is_current_scheme, legacy_fingerprint
    from paperfeed.ops.verify import verify

    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    first = store.current()
    assert first is not None
    legacy = {t.name: legacy_fingerprint(store.read_table(t, first), t) for t in DATA_TABLES}
    runs = pl.read_delta(store.table_uri("runs")).with_columns(
        pl.col("table_versions").list.eval(
            pl.element().struct.with_fields(
                fingerprint=pl.element().struct.field("table").replace_strict(legacy, return_dtype=pl.String)
            )
        )
    )
    runs.write_delta(store.table_uri("runs"), mode="overwrite")
    assert store.current().fingerprints == legacy  # type: ignore[union-attr]
    ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    second = store.current()
    assert second is not None
    changed = [t.name for t in DATA_TABLES if second.delta_versions[t.name] != first.delta_versions[t.name]]
    assert changed == ["snapshots", "appearances", "papers", "paper_versions", "paper_titles"]  # the others stayed empty
    for table in DATA_TABLES:
        digest = second.fingerprints[table.name]
        assert is_current_scheme(digest) == (table.name in changed)
        assert digest == (fingerprint if table.name in changed else legacy_fingerprint)(store.read_table(table, second), table)
    assert [f for f in verify(store, all_versions=True).findings if f.area == "tables"] == []


class Killed(BaseException):
    """What a SIGKILL would do to the run at a crash point: nothing after it runs."""


def test_tables_written_before_partitions_are_partitioned_by_the_next_run_and_old_versions_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse.at(w)
    first = store.current()
    assert first is not None
    partitioned = [t for t in DATA_TABLES if t.partition_by is not None]
    assert [t.name for t in partitioned] == ["appearances", "papers", "paper_versions", "paper_titles"]
    for table in partitioned:  # as paperfeed wrote them before partitions: one table version, no month column
        uri = store.table_uri(table.name)
        assert first.delta_versions[table.name] == 0
        old = pl.read_delta(uri).drop(str(table.partition_by))
        shutil.rmtree(uri)
        old.write_delta(uri, delta_write_options={"configuration": PROPERTIES})
        assert DeltaTable(uri).metadata().partition_columns == []
    assert not verify(Warehouse.at(w)).findings

    def kill(point: str) -> None:
        if point == "after_write:papers":
            raise Killed(point)

    monkeypatch.setattr("paperfeed.storage.warehouse.crash_point", kill)
    with pytest.raises(Killed):  # dies after rewriting appearances and papers, before its runs commit
        ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    assert DeltaTable(Warehouse.at(w).table_uri("papers")).metadata().partition_columns == ["first_seen_month"]
    monkeypatch.undo()
    store = Warehouse.at(w)
    assert sorted(store.recover()) == ["appearances", "papers", "snapshots"]  # back to the published layout
    assert DeltaTable(store.table_uri("papers")).metadata().partition_columns == []

    assert ingest(w, ("b.txt", feed_bytes("Mar 15", [ONE, TWO]))).dataset_version == 2
    store = Warehouse.at(w)
    for table in partitioned:
        assert DeltaTable(store.table_uri(table.name)).metadata().partition_columns == [table.partition_by]
    assert store.version(1).fingerprints == first.fingerprints
    assert not verify(store, all_versions=True).findings  # version 1 still reads, in its old layout, and matches
    assert counts(w, 1) == (1, 1, 1) and counts(w) == (2, 3, 2)
    papers = store.read_table(PAPERS, store.current())
    assert papers["first_seen_month"].to_list() == ["2025-03", "2025-03"]


def test_a_warehouse_written_before_paper_titles_gets_every_papers_titles_from_its_next_run(tmp_path: Path) -> None:
    """A warehouse of an older paperfeed has no paper_titles or paper_matches: its next run matches
    against the titles its appearances hold, lists the titles of every paper (not only those it
    sees), and old and new versions verify."""
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 14", [ONE, TWO])))
    store = Warehouse.at(w)
    older = {"paper_titles", "paper_matches"}
    for name in older:
        shutil.rmtree(store.table_uri(name))
    runs = pl.read_delta(store.table_uri("runs")).with_columns(
        pl.col("table_versions").list.filter(~pl.element().struct.field("table").is_in(list(older)))
    )
    runs.write_delta(store.table_uri("runs"), mode="overwrite")
    first = Warehouse.at(w).current()
    assert first is not None and older.isdisjoint(first.delta_versions)
    three = ("Paper Three", abstract("three"))
    retitled = ("Paper One, Revised Title", ONE[1])  # the same abstract under a new title: Paper One
    ingest(w, ("b.txt", feed_bytes("Mar 15", [retitled, three])))
    second = Warehouse.at(w).current()
    assert second is not None
    titles = Warehouse.at(w).read_table(PAPER_TITLES, second)
    assert sorted(titles["title"].to_list()) == ["Paper One", "Paper One, Revised Title", "Paper Three", "Paper Two"]
    assert titles["paper_id"].n_unique() == 3  # Paper Two, not seen by the run, is listed all the same
    assert verify(Warehouse.at(w), all_versions=True).findings == []


def test_a_late_sighting_from_an_earlier_month_moves_the_paper_to_that_month_once(tmp_path: Path) -> None:
    """The merge reads only the months of the rows it replaces (papers first seen in March here),
    and the paper, now first seen in February, is written to that month, with no copy left in March."""
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Mar 2", [ONE])), ("b.txt", feed_bytes("Apr 1", [TWO])))
    ingest(w, ("c.txt", feed_bytes("Feb 27", [ONE, ("Paper Three", abstract("three"))])))
    store = Warehouse.at(w)
    version = store.current()
    assert version is not None
    papers = store.read_table(PAPERS, version).sort("first_seen", "title")
    assert papers.select("title", "first_seen_month").rows() == [("Paper One", "2025-02"), ("Paper Three", "2025-02"), ("Paper Two", "2025-04")]
    assert not verify(store).findings  # every table's rows and fingerprint as its runs row says


def test_rows_of_many_values_filtered_in_the_reader_are_the_rows_a_join_finds(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """rows_of reads a backfill batch's thousands of ids through the Parquet reader's filter and a
    run's few through a semi join: the same rows, in the same order, either way."""
    store = Warehouse.at(sample_warehouse)
    ids = store.read_table(PAPERS, store.current())["paper_id"].to_list()[::3]
    by_join = {t.name: store.rows_of(t, "paper_id", ids) for t in (PAPERS, PAPER_TITLES)}
    monkeypatch.setattr(warehouse_module, "FILTER_IN_READER_FROM", 0)
    for table in (PAPERS, PAPER_TITLES):
        filtered = store.rows_of(table, "paper_id", ids)
        assert filtered.height > 50 and filtered.equals(by_join[table.name])
        assert store.rows_of(table, "paper_id", ids, columns=["paper_id"]).equals(by_join[table.name].select("paper_id"))


def test_rows_of_whole_rows_reads_only_the_months_holding_the_values(tmp_path: Path) -> None:
    w = tmp_path / "warehouse"
    ingest(w, ("a.txt", feed_bytes("Feb 27", [ONE])))
    ingest(w, ("b.txt", feed_bytes("Apr 2", [TWO])))
    store = Warehouse.at(w)
    papers = store.read_table(PAPERS, store.current())
    assert papers["first_seen_month"].n_unique() == 2
    two = papers.filter(pl.col("title") == "Paper Two")
    assert store.rows_of(PAPERS, "paper_id", two["paper_id"].to_list()).equals(two)
    scan = pl.scan_delta(store.table_uri(PAPERS.name))
    pruned = in_partitions_holding(scan, PAPERS.partition_by, "paper_id", two["paper_id"].to_list())
    assert in_partitions_holding(scan, PAPERS.partition_by, "paper_id", ["no such paper"]).collect().is_empty()
    for file in (tmp_path / "warehouse" / "tables" / "papers" / "first_seen_month=2025-02").glob("*.parquet"):
        file.unlink()  # February's rows can no longer be read: the pruned scan must not open them
    with pytest.raises(Exception):  # noqa: B017 - whichever error a missing file gives
        scan.collect()
    assert pruned.collect().equals(two)


def test_a_partition_of_null_dates_is_read_when_it_holds_a_value(tmp_path: Path) -> None:
    rows = pl.DataFrame({"id": ["a", "b", "c"], "month": ["2025-01", None, "2025-02"]})
    rows.write_delta(tmp_path / "t", delta_write_options={"partition_by": ["month"]})
    scan = pl.scan_delta(str(tmp_path / "t"))
    for wanted, months in ((["b"], [None]), (["a", "b"], ["2025-01", None]), (["c"], ["2025-02"])):
        read = in_partitions_holding(scan, "month", "id", wanted).collect().sort("id")
        assert read["month"].to_list() == months, wanted
    assert in_partitions_holding(scan, None, "id", ["a"]) is scan  # unpartitioned: as given
