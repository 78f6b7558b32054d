"""The `paperfeed` command: run the ingest flow, query dataset versions, list them.

Exit codes (also in the README): 0 done; 1 done, but some input was rejected or set aside;
2 bad usage, bad SQL or unknown version; 3 the warehouse is locked by another run; 4 the publish
gate failed and nothing was published; 5 the run failed otherwise; 6 a rebuild differs from the
warehouse it was rebuilt from.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from paperfeed import config

EXIT_OK, EXIT_INPUT_PROBLEMS, EXIT_USAGE, EXIT_LOCKED, EXIT_BLOCKED, EXIT_FAILED, EXIT_DIFFERS = 0, 1, 2, 3, 4, 5, 6

app = typer.Typer(
    name="paperfeed",
    help="Curated, versioned dataset of the Hugging Face trending-papers feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"


WarehouseOption = Annotated[
    Path, typer.Option("--warehouse", "-w", help="Warehouse folder.", file_okay=False)
]


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    landing: Annotated[
        Path | None,
        typer.Option("--landing", "-l", help="Folder of snapshot files. Default: the bundled sample feed."),
    ] = None,
    warehouse: WarehouseOption = config.DEFAULT_WAREHOUSE,
    year: Annotated[
        int | None, typer.Option(help="Year of snapshots whose header and path give none.")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for another run's lock on the warehouse.")
    ] = config.DEFAULT_LOCK_WAIT_SECONDS,
    retry_rejected: Annotated[
        bool, typer.Option("--retry-rejected", help="Process files rejected before again (after fixing, e.g., --year).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Ingest a landing folder into the warehouse as one new dataset version."""
    if landing is None:
        landing = config.SAMPLE_FEED
        year = config.SAMPLE_FEED_YEAR if year is None else year
    if not landing.is_dir():  # fail fast, before Prefect starts
        fail(f"landing folder {landing} does not exist or is not a folder", EXIT_USAGE)
    summary = _ingest(verbose, landing=str(landing), warehouse=str(warehouse), year=year,
                      lock_wait_seconds=wait, retry_rejected=retry_rejected)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        _print_summary(summary)
    raise typer.Exit(EXIT_INPUT_PROBLEMS if summary["had_input_problems"] else EXIT_OK)


@app.command()
def rebuild(
    into: Annotated[Path, typer.Option("--into", help="Empty folder for the rebuilt warehouse.", file_okay=False)],
    warehouse: WarehouseOption = config.DEFAULT_WAREHOUSE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Recreate every table from the warehouse's raw archive alone, into a new folder, and
    compare each table's content fingerprint with the warehouse's current version."""
    from paperfeed.archive_io import arrivals
    from paperfeed.warehouse_io import Warehouse

    if into.exists() and any(into.iterdir()):
        fail(f"{into} is not empty; rebuild writes a new warehouse into an empty folder", EXIT_USAGE)
    if arrivals(warehouse.resolve()).is_empty():
        fail(f"{warehouse} has no raw archive to rebuild from", EXIT_USAGE)
    _ingest(verbose, landing=str(warehouse), warehouse=str(into), replay_from=str(warehouse.resolve()))
    source, rebuilt = Warehouse(warehouse).current(), Warehouse(into).current()
    rows = [
        {"table": name, "source": digest, "rebuilt": rebuilt.fingerprints.get(name) if rebuilt else None}
        for name, digest in (source.fingerprints if source else {}).items()
    ]
    same = bool(rows) and all(r["source"] == r["rebuilt"] for r in rows)
    if as_json:
        out.print_json(json.dumps({"equal": same, "tables": rows}))
    else:
        table = Table("table", "fingerprint in the warehouse", "rebuilt", "", title=f"rebuilt into {into}")
        for r in rows:
            table.add_row(
                str(r["table"]), str(r["source"])[:16], str(r["rebuilt"] or "")[:16],
                "same" if r["source"] == r["rebuilt"] else "[red]differs[/]",
            )
        out.print(table)
    raise typer.Exit(EXIT_OK if same else EXIT_DIFFERS)


def _ingest(verbose: bool, **parameters: object) -> dict[str, Any]:
    """Run the ingest flow; its expected failures become one line and an exit code."""
    _prefect_defaults(verbose)
    from paperfeed.landing_io import LandingError
    from paperfeed.pipeline import PublishBlocked
    from paperfeed.warehouse_io import WarehouseLocked
    from paperfeed_flows.ingest import ingest

    try:
        summary: dict[str, Any] = ingest(**parameters)
    except WarehouseLocked as error:
        fail(str(error), EXIT_LOCKED)
    except PublishBlocked as error:
        fail(str(error), EXIT_BLOCKED)
    except LandingError as error:
        fail(str(error), EXIT_USAGE)
    except Exception as error:  # noqa: BLE001 - one line for people; Prefect keeps the traceback
        fail(f"run failed: {type(error).__name__}: {error} (see the Prefect UI, or --verbose)", EXIT_FAILED)
    return summary


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL over papers, appearances, snapshots, paper_versions, quarantine, runs.")],
    warehouse: WarehouseOption = config.DEFAULT_WAREHOUSE,
    version: Annotated[int | None, typer.Option("--version", help="Dataset version (default: current).")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Run SQL in DuckDB over one dataset version."""
    import duckdb

    from paperfeed.duckdb_io import open_version
    from paperfeed.warehouse_io import Warehouse, WarehouseError

    try:
        con, _ = open_version(Warehouse(warehouse), version)
        relation = con.sql(query)
    except WarehouseError as error:
        fail(str(error), EXIT_USAGE)
    except duckdb.Error as error:
        fail(f"SQL failed: {error}", EXIT_USAGE)
    if relation is None:
        fail("the statement returned no rows; paperfeed sql runs queries, not commands", EXIT_USAGE)
    emit(relation.pl(), format)


@app.command()
def versions(
    warehouse: WarehouseOption = config.DEFAULT_WAREHOUSE,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """List the dataset versions, oldest first, with their run and counts."""
    from paperfeed.warehouse_io import Warehouse

    published = Warehouse(warehouse).published().select(
        "dataset_version", "run_id", "finished_at", "n_accepted", "n_duplicate", "n_rejected",
        "n_new_papers", "n_updated_papers", "n_papers", "n_appearances",
    )
    if published.is_empty():
        fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", EXIT_USAGE)
    emit(published, format)


def emit(frame: pl.DataFrame, format: Format) -> None:
    """Write a result to stdout: a table for people, CSV or JSON (one object per row) for machines."""
    if format is Format.json:
        sys.stdout.write(frame.write_json() + "\n")
        return
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    flat = frame.with_columns(pl.col(name).map_elements(_to_json, return_dtype=pl.String) for name in nested)
    if format is Format.csv:
        sys.stdout.write(flat.write_csv())
        return
    table = Table(*flat.columns, show_lines=False)
    for row in flat.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    out.print(f"{frame.height} row{'s' if frame.height != 1 else ''}", style="dim")


def _to_json(value: object) -> str:
    return json.dumps(value.to_list() if isinstance(value, pl.Series) else value, ensure_ascii=False, default=str)


def _print_summary(summary: dict[str, object]) -> None:
    outcomes = summary["outcomes"]
    assert isinstance(outcomes, list)
    table = Table(title=f"run {summary['run_id']}")
    table.add_column("file", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("records", justify="right")
    table.add_column("set aside", justify="right")
    table.add_column("reason", ratio=1)
    style = {"accepted": "green", "duplicate": "yellow", "rejected": "red", "already ingested": "dim"}
    for o in outcomes:
        table.add_row(
            o["source_name"], f"[{style.get(o['status'], '')}]{o['status']}[/]", o["snapshot_date"] or "",
            str(o["n_records"]), str(o["n_quarantined"] or ""), o["reason"] or "",
        )
    if outcomes:
        out.print(table)
    out.print(f"[bold]{summary['message']}[/]")
    out.print(
        f"papers: {summary['n_papers']} ({summary['n_new_papers']} new, {summary['n_updated_papers']} updated); "
        f"appearances: {summary['n_appearances']}; warehouse: {summary['warehouse']}",
        highlight=False,
    )
    if summary["n_quarantined"]:
        out.print(
            f"{summary['n_quarantined']} records set aside: paperfeed sql \"SELECT * FROM quarantine\"", highlight=False
        )
    if summary.get("quality_report"):
        out.print(f"data-quality report: {summary['quality_report']}", highlight=False)


def _prefect_defaults(verbose: bool) -> None:
    """Prefect settings for a command-line run, unless the operator set them already."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A temporary server on a fresh PREFECT_HOME needs 12-15 s to migrate; the default limit is 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if not verbose:
        # Only the terminal is quietened: Prefect's API (and UI) still receives every log line.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


if __name__ == "__main__":
    app()
