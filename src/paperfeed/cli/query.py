"""Commands for the analyst: SQL over a dataset version, and the list of versions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperfeed.cli import startup
from paperfeed.cli.common import DEFAULT_WAREHOUSE, Exit, FormatOption, JsonOption, WarehouseOption, fail
from paperfeed.cli.console import Format, emit


def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help="SQL over papers, appearances, snapshots, paper_versions, quarantine, runs, arrivals; "
            "'-' or nothing reads it from stdin (`paperfeed sql < query.sql`)."
        ),
    ] = None,
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    version: Annotated[int | None, typer.Option("--version", help="Dataset version (default: current).")] = None,
    format: FormatOption = Format.table,
    as_json: JsonOption = False,
) -> None:
    """Run SQL in DuckDB over one dataset version."""
    import duckdb

    if query is None or query == "-":
        query = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    if not query.strip():
        fail("give a query: paperfeed sql \"SELECT ...\", or pipe one in: paperfeed sql < query.sql", Exit.USAGE)

    from paperfeed.storage.duckdb import open_version
    from paperfeed.storage.warehouse import Warehouse, WarehouseError

    startup.done()
    try:
        con, _ = open_version(Warehouse.at(warehouse), version)
        # One query, checked before anything runs: COPY, CREATE or a second statement never do.
        statements = con.extract_statements(query)
        if not statements:
            fail("the query holds no SQL statement (only comments?)", Exit.USAGE)
        kinds = {s.type for s in statements}
        if len(statements) != 1 or kinds - {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}:
            fail("paperfeed sql runs one query (SELECT, WITH, DESCRIBE, EXPLAIN ...), not commands", Exit.USAGE)
        result = con.sql(query).pl()
    except WarehouseError as error:
        fail(str(error), Exit.USAGE)
    except duckdb.Error as error:
        fail(f"SQL failed: {error}", Exit.USAGE)
    emit(result, Format.json if as_json else format)


def versions(
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    format: FormatOption = Format.table,
    as_json: JsonOption = False,
) -> None:
    """List the dataset versions, oldest first, with their run and counts."""
    from paperfeed.storage.warehouse import Warehouse

    startup.done()
    published = Warehouse.at(warehouse).published().select(
        "dataset_version", "run_id", "finished_at", "n_accepted", "n_duplicate", "n_rejected",
        "n_quarantined", "n_new_papers", "n_updated_papers", "n_papers", "n_appearances",
    )
    if published.is_empty():
        fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", Exit.USAGE)
    emit(published, Format.json if as_json else format)
