"""Releases and scratch files after a writer died: the next run puts things right."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from helpers import abstract, feed_bytes, ingest
from paperfeed.storage.files import scratch_name
from paperfeed.storage.releases import write_index
from paperfeed.storage.warehouse import Warehouse

ONE = ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))]))
TWO = ("b.txt", feed_bytes("Mar 15", [("Paper Two", abstract("two"))]))


def test_latest_and_the_index_are_repaired_when_a_writer_died_after_the_rename(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ONE)
    releases = warehouse / "releases"
    index_v1 = (releases / "index.html").read_text()
    ingest(warehouse, TWO)
    # As if the writer of version 2's release died right after renaming it into place:
    (releases / "latest.json").write_text(json.dumps({"version": 1, "release": "version=0001", "manifest": "version=0001/manifest.json"}))
    (releases / "index.html").write_text(index_v1)
    assert ingest(warehouse, TWO).status == "noop"
    assert json.loads((releases / "latest.json").read_text())["version"] == 2
    assert 'id="version=0002"' in (releases / "index.html").read_text()


def test_scratch_files_of_a_killed_writer_are_removed_by_the_next_run(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ONE)
    left = [
        warehouse / "raw" / "ab" / ".abcdef.123.tmp",
        warehouse / ".paperfeed.duckdb.123.tmp",
        warehouse / "releases" / ".index.html.123.tmp",
        warehouse / "reports" / ".x.html.123.tmp",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    half_release = scratch_name(warehouse / "releases" / "version=0002")  # a release folder, half built
    half_release.mkdir()
    (half_release / "papers.parquet").write_text("half")
    ingest(warehouse, ONE)
    assert [p for p in [*left, half_release] if p.exists()] == []


def test_a_public_release_carries_no_local_paths(tmp_path: Path) -> None:
    import polars as pl

    warehouse = tmp_path / "warehouse"
    summary = ingest(warehouse, ONE)
    runs = pl.read_parquet(warehouse / "releases" / "version=0001" / "runs" / "all.parquet")
    assert runs["quality_report"].to_list() == [None]
    assert runs["landing"].to_list() == [Path(summary.landing).name]
    assert str(tmp_path) not in (warehouse / "releases" / "version=0001" / "manifest.json").read_text()


def test_a_release_written_again_keeps_when_its_version_was_published_and_the_feeds_stay(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ONE)
    releases = warehouse / "releases"
    first = json.loads((releases / "version=0001" / "manifest.json").read_text())
    feed = (releases / "feed.json").read_text()
    shutil.rmtree(releases / "version=0001")
    time.sleep(1.1)  # the new files' `created` (to the second) differs from the first ones'
    assert ingest(warehouse, ONE).status == "noop"  # which writes the missing release again
    again = json.loads((releases / "version=0001" / "manifest.json").read_text())
    assert again["created"] > first["created"] and again["published"] == first["published"]
    # The same run log as the first time: up to the run that published version 1 (not the no-op after it).
    assert [f["rows"] for f in again["files"] if f["table"] == "runs"] == [f["rows"] for f in first["files"] if f["table"] == "runs"] == [1]
    assert (releases / "feed.json").read_text() == feed  # a feed reader sees no entry change


def test_the_index_reads_only_new_manifests_and_is_made_again_when_its_summaries_are_damaged(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ONE)
    ingest(warehouse, TWO)
    releases = warehouse / "releases"
    summaries = json.loads((releases / "index.json").read_text())
    assert [(s["release"], s["tables"]["papers"]["rows"]) for s in summaries] == [("version=0001", 1), ("version=0002", 2)]
    # A release's manifest is read once: an unchanged one (same modification time) is not read again.
    old = releases / "version=0001" / "manifest.json"
    stamp, text = old.stat(), old.read_text()
    old.write_text("not JSON: were it read again, the index would fail")
    os.utime(old, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    write_index(Warehouse.at(warehouse))
    assert 'id="version=0001"' in (releases / "index.html").read_text()
    old.write_text(text)
    os.utime(old, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    # Damaged summaries are made again from the manifests.
    (releases / "index.json").write_text("[{")
    write_index(Warehouse.at(warehouse))
    assert json.loads((releases / "index.json").read_text()) == summaries
