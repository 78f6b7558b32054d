"""DuckDB I/O: SQL over a dataset version, and the warehouse's DuckDB file for direct use.

The delta extension is loaded by path from the signed `duckdb-extension-delta` wheel; autoinstall
is off, so nothing here ever reaches for the network. A warehouse on object storage adds the
httpfs extension, from its signed wheel the same way, and a secret made from the AWS_* variables
(storage/objects.py): the store is the one place DuckDB then reaches.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb
import duckdb_extension_delta
import duckdb_extension_httpfs
import polars as pl
from deltalake import DeltaTable

from paperfeed.model.contracts import ARRIVALS, DATA_TABLES, RUNS, TableContract
from paperfeed.model.views import VIEWS
from paperfeed.storage.files import replacing
from paperfeed.storage.objects import duckdb_secret_sql
from paperfeed.storage.site import put_file
from paperfeed.storage.warehouse import DatasetVersion, Warehouse, WarehouseError

# A view in the DuckDB file saying which dataset version it shows and how to read it: it needs no
# extension, so it answers where every other view fails for want of the delta extension.
VERSION_VIEW = "paperfeed_version"


def extension_path(name: str = "delta") -> Path:
    """The signed extension `name` (delta, httpfs) from its wheel, for this DuckDB."""
    package = {"delta": duckdb_extension_delta, "httpfs": duckdb_extension_httpfs}[name]
    path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise WarehouseError(
            f"DuckDB's {name} extension for duckdb {duckdb.__version__} is not installed (looked for {path}); "
            f"install duckdb-extension-{name}=={duckdb.__version__}"
        )
    return path


def connect(database: str = ":memory:", read_only: bool = False, remote: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the delta extension loaded; with `remote`, httpfs and the store's secret too."""
    con = duckdb.connect(
        database,
        read_only=read_only,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    con.execute(f"LOAD '{_quote(str(extension_path()))}'")
    if remote:
        con.execute(f"LOAD '{_quote(str(extension_path('httpfs')))}'")
        con.execute(duckdb_secret_sql())
    return con


def view_statements(warehouse: Warehouse, version: DatasetVersion, relative: bool = False) -> list[str]:
    """CREATE VIEW statements showing every table exactly as it was in `version`, then the
    analysts' views over them (model/views.py). A table the
    version predates (added by a later paperfeed) is an empty view of the right shape. With
    `relative`, the views name the tables from the warehouse folder (`tables/papers`), so that
    they read whatever warehouse the folder DuckDB runs in holds: one moved or copied included."""

    def place(path: Path | str) -> str:
        return _quote(str(Path(path).relative_to(warehouse.root)) if relative else str(path))

    statements = [
        f"CREATE OR REPLACE VIEW {table.name} AS SELECT * FROM delta_scan('{place(warehouse.table_uri(table.name))}', "
        f"version => {version.delta_versions[table.name]})"
        if table.name in version.delta_versions
        else f"CREATE OR REPLACE VIEW {table.name} AS {_empty_select(table)}"
        for table in DATA_TABLES
    ]
    statements.append(
        f"CREATE OR REPLACE VIEW {RUNS.name} AS SELECT * FROM delta_scan('{place(warehouse.table_uri(RUNS.name))}') "
        f"WHERE dataset_version <= {version.number}"
    )
    # The raw archive's log, for the runs of this version (a run that died never shows).
    log = warehouse.layout.arrivals
    statements.append(
        f"CREATE OR REPLACE VIEW {ARRIVALS.name} AS SELECT * FROM delta_scan('{place(log)}') "
        f"WHERE run_id IN (SELECT run_id FROM {RUNS.name})"
        if DeltaTable.is_deltatable(log)
        else f"CREATE OR REPLACE VIEW {ARRIVALS.name} AS {_empty_select(ARRIVALS)}"
    )
    statements += [f"CREATE OR REPLACE VIEW {view.name} AS {view.sql}" for view in VIEWS]  # over the views above
    return statements


def open_version(warehouse: Warehouse, number: int | None = None) -> tuple[duckdb.DuckDBPyConnection, DatasetVersion]:
    """An in-memory connection whose views show dataset version `number` (default: current)."""
    version = warehouse.version(number) if number is not None else warehouse.current()
    if version is None:
        raise WarehouseError(f"nothing is published in {warehouse.location} yet; run `paperfeed run` first")
    con = connect(remote=warehouse.layout.remote is not None)
    for statement in view_statements(warehouse, version):
        con.execute(statement)
    return con, version


def how_to_read(remote: bool = False) -> str:
    """What the DuckDB file's version view tells a reader who opened it without the extension."""
    if remote:
        return (
            "The views name the warehouse's tables by their s3:// addresses. Load the delta and httpfs "
            f"extensions from their wheels, no download needed: LOAD '{extension_path()}'; LOAD "
            f"'{extension_path('httpfs')}'; then create an S3 secret for the store (CREATE SECRET (TYPE s3, "
            "KEY_ID ..., SECRET ..., REGION ..., ENDPOINT 'host:port', URL_STYLE 'path')): `paperfeed sql` does all of this"
        )
    return (
        "Open this file from the warehouse folder (the views name its tables by relative path: "
        "cd <warehouse> && duckdb -readonly paperfeed.duckdb), then load the delta extension "
        f"from the duckdb-extension-delta wheel, no download needed: LOAD '{extension_path()}';"
    )


def write_duckdb_file(warehouse: Warehouse, version: DatasetVersion) -> Path:
    """Rewrite the warehouse's DuckDB file for `version`; readers see the old file or the new one.
    Its views name the tables relative to the warehouse folder: a moved or copied warehouse reads
    its own tables with the same file. (On object storage: by their s3:// addresses.)"""
    target = warehouse.layout.duckdb_file
    remote = warehouse.layout.remote is not None
    # DuckDB binds a view as it is created, resolving a relative path from the working directory
    # (the delta extension ignores `file_search_path`): so the views are made in the warehouse
    # folder. A process-wide change for a few milliseconds: a run resolves its warehouse and
    # landing folders first (WarehouseLayout.at, FromLanding), and the suites folder comes from the
    # installed package, so the one relative path another thread could open meanwhile is a
    # relative PAPERFEED_EXPECTATIONS (the README asks for an absolute one).
    with replacing(target, crash_at="during_duckdb_file") as scratch, contextlib.chdir(warehouse.root):
        con = connect(str(scratch), remote=remote)
        told = _quote(how_to_read(remote))
        try:
            for statement in view_statements(warehouse, version, relative=not remote):
                con.execute(statement)
            con.execute(f"CREATE VIEW {VERSION_VIEW} AS SELECT {version.number} AS dataset_version, '{told}' AS how_to_read")
            for name in (*(t.name for t in (*DATA_TABLES, RUNS, ARRIVALS)), *(v.name for v in VIEWS)):
                con.execute(f"COMMENT ON VIEW {name} IS '{told}'")
        finally:
            con.close()
    put_file(warehouse.layout, target)
    return target


def duckdb_file_shows(warehouse: Warehouse) -> tuple[int, str] | None:
    """The dataset version the DuckDB file's views show, and what it tells readers; None if the
    file is missing, unreadable, or written by an older paperfeed (whose views named the warehouse
    by absolute path)."""
    try:
        con = duckdb.connect(str(warehouse.layout.duckdb_file), read_only=True)
        try:
            shown = con.sql(f"SELECT dataset_version, how_to_read FROM {VERSION_VIEW}").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return None
    return (int(shown[0]), str(shown[1])) if shown else None


def refresh_duckdb_file(warehouse: Warehouse, version: DatasetVersion) -> bool:
    """Rewrite the DuckDB file unless it shows `version` and names this installation's extension
    (a run that died after publishing leaves it one version behind; a new DuckDB or another
    machine moves the extension). True if rewritten."""
    if duckdb_file_shows(warehouse) == (version.number, how_to_read(warehouse.layout.remote is not None)):
        return False
    write_duckdb_file(warehouse, version)
    return True


def _empty_select(table: TableContract) -> str:
    columns = ", ".join(f"CAST(NULL AS {sql_type(c.dtype)}) AS {c.name}" for c in table.columns)
    return f"SELECT {columns} WHERE false"


def sql_type(dtype: object) -> str:
    """The DuckDB type of a contract column's Polars type."""
    if isinstance(dtype, pl.List):
        return f"{sql_type(dtype.inner)}[]"
    if isinstance(dtype, pl.Struct):
        return "STRUCT(" + ", ".join(f'"{f.name}" {sql_type(f.dtype)}' for f in dtype.fields) + ")"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    simple = {pl.String: "VARCHAR", pl.Int64: "BIGINT", pl.Int32: "INTEGER", pl.Boolean: "BOOLEAN",
              pl.Date: "DATE", pl.Float64: "DOUBLE"}
    for polars_type, name in simple.items():
        if dtype == polars_type:
            return name
    raise TypeError(f"no DuckDB type for {dtype}")


def _quote(text: str) -> str:
    return text.replace("'", "''")
