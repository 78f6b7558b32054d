"""Warehouse: dataset versions across tables, time travel, rollback of half-written runs, the lock."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from helpers import abstract, feed_bytes, ingest

from paperfeed.storage.duckdb import DUCKDB_FILE, connect, open_version, view_statements
from paperfeed.storage.warehouse import DatasetVersion, Warehouse, WarehouseError, WarehouseLocked, warehouse_lock

ONE = ("Paper One", abstract("one"))
TWO = ("Paper Two", abstract("two"))


def counts(warehouse: Path, version: int | None = None) -> tuple[int, int, int]:
    con, _ = open_version(Warehouse(warehouse), version)
    return con.sql(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM appearances), (SELECT count(*) FROM snapshots)"
    ).fetchone()  # type: ignore[return-value]


def test_each_run_publishes_one_version_and_old_versions_stay_readable(tmp_path: Path) -> None:
    first = ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    second = ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    assert (first.dataset_version, second.dataset_version) == (1, 2)
    assert counts(tmp_path, 1) == (1, 1, 1)
    assert counts(tmp_path, 2) == (2, 3, 2)
    assert counts(tmp_path) == (2, 3, 2)
    assert Warehouse(tmp_path).published()["dataset_version"].to_list() == [1, 2]


def test_same_input_again_publishes_nothing_and_records_a_noop(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    again = ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    assert again.status == "noop" and again.dataset_version == 1
    assert [o.status for o in again.outcomes] == ["already ingested"]
    runs = Warehouse(tmp_path).runs()
    assert runs.select("status", "dataset_version").rows() == [("published", 1), ("noop", 1)]


def test_unchanged_tables_keep_their_delta_version(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    # Same records, other line endings: a duplicate; only the snapshots table changes.
    ingest(tmp_path, ("b.txt", feed_bytes("Mar 14", [ONE], crlf=True)))
    store = Warehouse(tmp_path)
    v1, v2 = store.version(1), store.version(2)
    assert v2.delta_versions["papers"] == v1.delta_versions["papers"]
    assert v2.delta_versions["snapshots"] == v1.delta_versions["snapshots"] + 1


def test_a_run_killed_before_its_runs_commit_is_invisible_and_rolled_back(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse(tmp_path)
    # A run that wrote a table and died before committing its runs row:
    pl.DataFrame({"paper_id": ["junk"]}).write_delta(
        store.table_uri("papers"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"}
    )
    assert counts(tmp_path) == (1, 1, 1)  # readers go through the runs table: still version 1
    rolled_back = store.recover()
    assert rolled_back == ["papers"]
    assert pl.read_delta(store.table_uri("papers"))["title"].to_list() == ["Paper One"]
    assert ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [TWO]))).dataset_version == 2
    assert counts(tmp_path) == (2, 2, 2)


def test_commits_carry_the_run_id(tmp_path: Path) -> None:
    summary = ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    history = DeltaTable(Warehouse(tmp_path).table_uri("papers")).history(1)[0]
    assert history["paperfeed.run_id"] == summary.run_id
    assert history["paperfeed.dataset_version"] == "1"


def test_unknown_version_is_a_clear_error(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    with pytest.raises(WarehouseError, match="dataset version 9 does not exist.*versions are 1..1"):
        open_version(Warehouse(tmp_path), 9)
    with pytest.raises(WarehouseError, match="nothing is published"):
        open_version(Warehouse(tmp_path / "empty"))


def test_duckdb_file_holds_the_views_of_the_current_version(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [TWO])))
    con = connect(str(tmp_path / DUCKDB_FILE), read_only=True)
    assert con.sql("SELECT count(*) FROM papers").fetchone() == (2,)
    assert con.sql("SELECT max(dataset_version) FROM runs").fetchone() == (2,)


def _hold_lock(root: str, ready: multiprocessing.Event, release: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    with warehouse_lock(Path(root), "holder-run", 0):
        ready.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


def test_second_writer_fails_naming_the_holder_and_a_dead_holder_frees_the_lock(tmp_path: Path) -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(WarehouseLocked) as caught:
        with warehouse_lock(tmp_path, "second-run", 0.5):
            pass
    message = str(caught.value)
    assert "holder-run" in message and f'"pid": {holder.pid}' in message
    holder.kill()  # SIGKILL: the lock must not outlive its process
    holder.join()
    started = time.monotonic()
    with warehouse_lock(tmp_path, "third-run", 5):
        assert json.loads((tmp_path / ".lock").read_text())["run_id"] == "third-run"
    assert time.monotonic() - started < 2


def test_rollback_happens_once_not_on_every_later_run(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse(tmp_path)
    pl.DataFrame({"paper_id": ["junk"]}).write_delta(
        store.table_uri("papers"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"}
    )
    assert store.recover() == ["papers"]
    versions_after_rollback = DeltaTable(store.table_uri("papers")).version()
    assert store.recover() == []
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))  # a no-op run
    assert DeltaTable(store.table_uri("papers")).version() == versions_after_rollback


def test_a_stale_duckdb_file_is_rewritten_by_the_next_run(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    stale = (tmp_path / DUCKDB_FILE).read_bytes()
    ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [TWO])))
    (tmp_path / DUCKDB_FILE).write_bytes(stale)  # as if the run died right after publishing
    assert ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [TWO]))).status == "noop"
    con = connect(str(tmp_path / DUCKDB_FILE), read_only=True)
    assert con.sql("SELECT dataset_version FROM paperfeed_version").fetchone() == (2,)
    assert con.sql("SELECT count(*) FROM papers").fetchone() == (2,)


def test_a_warehouse_written_before_a_column_existed_stays_readable(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse(tmp_path)
    # Rewrite runs and papers as an older paperfeed would have: without some of today's columns.
    old_runs = pl.read_delta(store.table_uri("runs")).drop("n_quarantined", "quality_report")
    old_runs.write_delta(store.table_uri("runs"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    assert store.runs()["n_quarantined"].to_list() == [None]
    assert counts(tmp_path) == (1, 1, 1)
    summary = ingest(tmp_path, ("b.txt", feed_bytes("Mar 15", [TWO])))
    assert summary.dataset_version == 2 and counts(tmp_path) == (2, 2, 2)


def test_a_version_from_before_a_table_existed_shows_it_empty(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [ONE])))
    store = Warehouse(tmp_path)
    version = store.current()
    assert version is not None
    older = DatasetVersion(version.number, version.run_id, {k: v for k, v in version.delta_versions.items() if k != "quarantine"}, {})
    con = connect()
    for statement in view_statements(store, older):
        con.execute(statement)
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert [c[0] for c in con.sql("DESCRIBE quarantine").fetchall()][:3] == ["source_name", "snapshot_id", "line"]


def test_a_rejection_stands_until_retried_and_a_fixed_retry_replaces_it(tmp_path: Path) -> None:
    leap = ("leap.txt", feed_bytes("Feb 29", [ONE]))
    first = ingest(tmp_path, leap, year=2025)
    assert [o.status for o in first.outcomes] == ["rejected"]
    assert ingest(tmp_path, leap, year=2024).status == "noop"  # the rejection stands
    retried = ingest(tmp_path, leap, year=2024, retry_rejected=True)
    assert [o.status for o in retried.outcomes] == ["accepted"]
    con, _ = open_version(Warehouse(tmp_path))
    assert con.sql("SELECT status, snapshot_date FROM snapshots").fetchall() == [("accepted", dt.date(2024, 2, 29))]
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (0,)


def test_a_retry_that_is_rejected_again_changes_nothing(tmp_path: Path) -> None:
    bad = ("page.html", b"<html><body>Not found</body></html>")
    ingest(tmp_path, bad)
    again = ingest(tmp_path, bad, retry_rejected=True)
    assert again.status == "noop"
    assert [(o.status, o.reason[:14]) for o in again.outcomes] == [("rejected", "rejected again")]
    assert again.had_input_problems  # so `paperfeed run` exits 1
    assert Warehouse(tmp_path).published()["dataset_version"].to_list() == [1]


def test_a_retry_rejected_for_another_reason_records_the_new_reason(tmp_path: Path) -> None:
    leap = ("leap.txt", feed_bytes("Feb 29", [ONE]))
    ingest(tmp_path, leap, year=2023)
    again = ingest(tmp_path, leap, year=2025, retry_rejected=True)
    assert [o.status for o in again.outcomes] == ["rejected"] and again.dataset_version == 2
    con, _ = open_version(Warehouse(tmp_path))
    assert con.sql("SELECT reason FROM snapshots").fetchone()[0].endswith("is not a day of 2025")  # type: ignore[index]
    assert con.sql("SELECT count(*) FROM quarantine WHERE contains(reason, '2025')").fetchone() == (1,)
    assert con.sql("SELECT count(*) FROM quarantine").fetchone() == (1,)
