"""DuckDB I/O: SQL over a dataset version, and the warehouse's DuckDB file for direct use.

The delta extension is loaded by path from the signed `duckdb-extension-delta` wheel; autoinstall
is off, so nothing here ever reaches for the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import duckdb_extension_delta

from paperfeed.contracts import DATA_TABLES, RUNS
from paperfeed.warehouse_io import DatasetVersion, Warehouse, WarehouseError

DUCKDB_FILE = "paperfeed.duckdb"


def extension_path() -> Path:
    path = Path(duckdb_extension_delta.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "delta.duckdb_extension"
    if not path.is_file():
        raise WarehouseError(
            f"DuckDB's delta extension for duckdb {duckdb.__version__} is not installed (looked for {path}); "
            f"install duckdb-extension-delta=={duckdb.__version__}"
        )
    return path


def connect(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        database,
        read_only=read_only,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    con.execute(f"LOAD '{_quote(str(extension_path()))}'")
    return con


def view_statements(warehouse: Warehouse, version: DatasetVersion) -> list[str]:
    """CREATE VIEW statements showing every table exactly as it was in `version`."""
    statements = [
        f"CREATE OR REPLACE VIEW {table.name} AS SELECT * FROM delta_scan('{_quote(warehouse.table_uri(table.name))}', "
        f"version => {version.delta_versions[table.name]})"
        for table in DATA_TABLES
    ]
    statements.append(
        f"CREATE OR REPLACE VIEW {RUNS.name} AS SELECT * FROM delta_scan('{_quote(warehouse.table_uri(RUNS.name))}') "
        f"WHERE dataset_version <= {version.number}"
    )
    return statements


def open_version(warehouse: Warehouse, number: int | None = None) -> tuple[duckdb.DuckDBPyConnection, DatasetVersion]:
    """An in-memory connection whose views show dataset version `number` (default: current)."""
    version = warehouse.version(number) if number is not None else warehouse.current()
    if version is None:
        raise WarehouseError(f"nothing is published in {warehouse.root} yet; run `paperfeed run` first")
    con = connect()
    for statement in view_statements(warehouse, version):
        con.execute(statement)
    return con, version


def write_duckdb_file(warehouse: Warehouse, version: DatasetVersion) -> Path:
    """Rewrite the warehouse's DuckDB file for `version`; readers see the old file or the new one."""
    target = warehouse.root / DUCKDB_FILE
    scratch = target.with_name(f".{DUCKDB_FILE}.{os.getpid()}.tmp")
    scratch.unlink(missing_ok=True)
    con = connect(str(scratch))
    try:
        for statement in view_statements(warehouse, version):
            con.execute(statement)
    finally:
        con.close()
    os.replace(scratch, target)
    return target


def _quote(text: str) -> str:
    return text.replace("'", "''")
