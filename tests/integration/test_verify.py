"""`paperfeed verify`: the data on disk checked against the warehouse's own records."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
from deltalake import DeltaTable
from typer.testing import CliRunner

from helpers import abstract, copied
from paperfeed.cli.app import app
from paperfeed.model.contracts import PAPERS
from paperfeed.model.fingerprint import legacy_fingerprint
from paperfeed.ops.verify import verify
from paperfeed.storage.archive import arrivals
from paperfeed.storage.warehouse import Warehouse

ONE = ("Paper One", abstract("one"))



def damage_papers(store: Warehouse) -> None:
    """The current papers table's file with Paper Two: its title changed in place, same size (as a
    flipped bit or a hand edit would)."""
    current = store.current()
    assert current is not None
    papers = DeltaTable(store.table_uri("papers"), version=current.delta_versions["papers"])
    victim = Path(next(uri for uri in papers.file_uris() if b"Paper Two" in Path(uri).read_bytes()))
    victim.write_bytes(victim.read_bytes().replace(b"Paper Two", b"Paper Tw0"))

def test_a_healthy_warehouse_has_no_findings(tiny_warehouse: Path) -> None:
    result = verify(Warehouse.at(tiny_warehouse), all_versions=True)
    assert result.findings == []
    # two versions of seven data tables (unchanged tables are checked again: each version is), the
    # three files that arrived (the rejected one too), two releases, the DuckDB file
    assert result.checked == {"tables": 14, "archived_files": 3, "releases": 2, "duckdb_file": 1}
    assert verify(Warehouse.at(tiny_warehouse)).checked["tables"] == 7  # the current version only


def test_damage_is_found_where_it_is(tiny_warehouse: Path, tmp_path: Path) -> None:
    warehouse = copied(tiny_warehouse, tmp_path)
    store = Warehouse.at(warehouse)
    damage_papers(store)
    # the archive: the HTML page's copy cut short
    page = arrivals(store.layout).filter(pl.col("source_name") == "page.html")["snapshot_id"][0]
    store.layout.raw_file(page).write_bytes(b"<html>")
    # a release: a file gone
    next((warehouse / "releases" / "version=0001" / "appearances").glob("*.parquet")).unlink()
    # the DuckDB file: cut short (a copy of a warehouse is no damage: its file reads the copy)
    (warehouse / "paperfeed.duckdb").write_bytes((warehouse / "paperfeed.duckdb").read_bytes()[:100])

    findings = verify(store, all_versions=True).findings
    assert [(f.area, f.subject) for f in findings] == [
        ("tables", "papers in dataset version 2"),
        ("archive", "page.html"),
        ("releases", "version=0001"),
        ("duckdb", "paperfeed.duckdb"),
    ]
    assert "no longer matches the fingerprint" in findings[0].problem
    assert findings[2].problem.startswith("version=0001/appearances/") and findings[2].problem.endswith(".parquet is missing")
    assert findings[3].problem == "shows nothing (missing, unreadable or from an older paperfeed), not version 2; the next run rewrites it"

    result = CliRunner().invoke(app, ["verify", "-w", str(warehouse), "--all-versions"], env={"COLUMNS": "200"})
    assert result.exit_code == 6 and "4 problems" in result.output and "Traceback" not in result.output


def test_a_lost_table_file_is_found_not_raised(tiny_warehouse: Path, tmp_path: Path) -> None:
    warehouse = copied(tiny_warehouse, tmp_path)
    store = Warehouse.at(warehouse)
    current = store.current()
    assert current is not None
    for uri in DeltaTable(store.table_uri("appearances"), version=current.delta_versions["appearances"]).file_uris():
        Path(uri).unlink()
    findings = [f for f in verify(store).findings if f.area == "tables"]
    assert [f.subject for f in findings] == ["appearances in dataset version 2"]
    assert "cannot be read" in findings[0].problem


def test_a_version_written_before_a_column_existed_verifies(tiny_warehouse: Path, tmp_path: Path) -> None:
    """An older paperfeed wrote papers without `latest_rank` and fingerprinted what it wrote, the
    way it fingerprinted then (the sha256 of the sorted rows): verify must not call that damage."""
    warehouse = copied(tiny_warehouse, tmp_path)
    store = Warehouse.at(warehouse)
    old = store.read(store.current()).papers.drop("latest_rank")
    old.write_delta(store.table_uri("papers"), mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    written = replace(PAPERS, columns=tuple(c for c in PAPERS.columns if c.name != "latest_rank"))
    entry = {"table": "papers", "delta_version": DeltaTable(store.table_uri("papers")).version(), "fingerprint": legacy_fingerprint(old, written)}
    runs = pl.read_delta(store.table_uri("runs")).with_columns(
        pl.col("table_versions").list.eval(
            pl.when(pl.element().struct.field("table") == "papers")
            .then(pl.element().struct.with_fields(**{k: pl.lit(v) for k, v in entry.items() if k != "table"}))
            .otherwise(pl.element())
        )
    )
    runs.write_delta(store.table_uri("runs"), mode="overwrite")
    assert store.read(store.current()).papers["latest_rank"].to_list() == [None, None]  # read in today's shape
    assert [f for f in verify(store).findings if f.area == "tables"] == []


def test_export_writes_no_release_from_a_damaged_table(tiny_warehouse: Path, tmp_path: Path) -> None:
    """A release is the version's data as published: from a table that no longer matches its
    fingerprint, `paperfeed export` writes nothing and exits 6 with one line saying why."""
    warehouse = copied(tiny_warehouse, tmp_path)
    damage_papers(Warehouse.at(warehouse))
    release = warehouse / "releases" / "version=0002"
    shutil.rmtree(release)

    result = CliRunner().invoke(app, ["export", "-w", str(warehouse), "--version", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 6 and "Traceback" not in result.output
    assert "papers in dataset version 2 no longer matches the fingerprint it was published with" in result.output
    assert not release.exists() and [p.name for p in (warehouse / "releases").iterdir() if p.name.startswith("version=")] == ["version=0001"]
