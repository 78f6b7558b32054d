"""The `paperfeed` command: ingest (run, backfill, serve on a schedule), query (sql, versions),
distribute (export), rebuild from the raw archive, and verify what is on disk.

Exit codes (also in the README): 0 done; 1 done, but some input was rejected, set aside or
refused; 2 bad usage, bad SQL or unknown version; 3 the warehouse is locked by another run; 4 the
publish gate failed and nothing was published; 5 the run failed otherwise; 6 a rebuild differs
from the warehouse it was rebuilt from, or verify found a problem.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from paperfeed import config
from paperfeed.cli.console import Format, counting, emit, emit_json, err, out, print_run, working

if TYPE_CHECKING:  # imported where used: the command line starts without loading the warehouse stack
    import polars as pl

    from paperfeed.storage.warehouse import Warehouse as Store

EXIT_OK, EXIT_INPUT_PROBLEMS, EXIT_USAGE, EXIT_LOCKED, EXIT_BLOCKED, EXIT_FAILED, EXIT_DIFFERS = 0, 1, 2, 3, 4, 5, 6

app = typer.Typer(
    name="paperfeed",
    help="A curated, versioned dataset of the Hugging Face trending-papers feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The same option means the same thing in every command.
Warehouse = Annotated[Path, typer.Option("--warehouse", "-w", help="Warehouse folder.", file_okay=False)]
Landing = Annotated[
    Path | None, typer.Option("--landing", "-l", help="Folder of snapshot files. Default: the bundled sample feed.")
]
Year = Annotated[int | None, typer.Option("--year", help="Year of snapshots whose header and path give none.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON, for machines.")]
Settle = Annotated[
    float,
    typer.Option("--settle", min=0, help="Leave files changed less than this many seconds ago for a later run."),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")]
Wait = Annotated[float, typer.Option("--wait", help="Seconds to wait for another run's lock on the warehouse.")]
OutputFormat = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    landing: Landing = None,
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    year: Year = None,
    wait: Wait = config.DEFAULT_LOCK_WAIT_SECONDS,
    settle: Settle = 0,
    retry_rejected: Annotated[
        bool, typer.Option("--retry-rejected", help="Process files rejected before again (after fixing, e.g., --year).")
    ] = False,
    as_json: Json = False,
    verbose: Verbose = False,
) -> None:
    """Ingest the new files of a landing folder as one new dataset version."""
    landing, year = _landing(landing, year)
    with working(f"ingesting {landing}"):
        summary = _ingest(verbose, landing=str(landing), warehouse=str(warehouse), year=year,
                          lock_wait_seconds=wait, retry_rejected=retry_rejected, settle_seconds=settle)
    emit_json(summary) if as_json else print_run(summary)
    raise typer.Exit(EXIT_INPUT_PROBLEMS if summary["had_input_problems"] else EXIT_OK)


@app.command()
def backfill(
    names: Annotated[list[str] | None, typer.Argument(help="Files to ingest, relative to the landing folder. Default: all.")] = None,
    landing: Landing = None,
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    year: Year = None,
    since: Annotated[dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="Only snapshots dated on or after this day.")] = None,
    until: Annotated[dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Only snapshots dated on or before this day.")] = None,
    wait: Wait = config.DEFAULT_LOCK_WAIT_SECONDS,
    as_json: Json = False,
    verbose: Verbose = False,
) -> None:
    """Ingest snapshot files one run each, in date order (files without a date last)."""
    from paperfeed.ops.backfill import plan_backfill
    from paperfeed.storage.landing import LandingError

    landing, year = _landing(landing, year)
    try:
        order, refused = plan_backfill(landing, names, year, since.date() if since else None, until.date() if until else None)
    except LandingError as error:
        fail(str(error), EXIT_USAGE)
    for link in refused:
        err.print(f"[red]refused[/] {escape(link.source_name)}: {escape(link.reason)}", highlight=False)
    if not order:
        fail("no snapshot file matches", EXIT_INPUT_PROBLEMS if refused else EXIT_USAGE)
    summaries = []
    with counting("backfilling", len(order)) as bar:
        for name in order:
            bar.update(bar.task_ids[0], description=f"backfilling {name}")
            summaries.append(_ingest(verbose, landing=str(landing), warehouse=str(warehouse), year=year,
                                     lock_wait_seconds=wait, only=[name]))
            bar.advance(bar.task_ids[0])
    if as_json:
        emit_json(summaries)
    else:
        table = Table("file", "status", "date", "dataset version", "message", title=f"backfill of {len(order)} files")
        for name, s in zip(order, summaries):
            o = s["outcomes"][0] if s["outcomes"] else {"status": "", "snapshot_date": ""}
            table.add_row(escape(name), o["status"], o["snapshot_date"] or "", str(s["dataset_version"] or ""), escape(s["message"]))
        out.print(table)
    raise typer.Exit(EXIT_INPUT_PROBLEMS if refused or any(s["had_input_problems"] for s in summaries) else EXIT_OK)


@app.command()
def serve(
    landing: Landing = None,
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    year: Year = None,
    cron: Annotated[str, typer.Option(help="When to run (cron, in --timezone).")] = config.DEFAULT_CRON,
    timezone: Annotated[str, typer.Option(help="Time zone of --cron.")] = "UTC",
    name: Annotated[str, typer.Option(help="Name of the Prefect deployment.")] = config.DEFAULT_DEPLOYMENT,
    settle: Settle = config.DEFAULT_SERVE_SETTLE_SECONDS,
) -> None:
    """Serve the ingest flow as a scheduled Prefect deployment (needs a Prefect server: PREFECT_API_URL)."""
    landing, year = _landing(landing, year)
    if not os.environ.get("PREFECT_API_URL"):
        fail("serve needs a Prefect server: start one with `prefect server start`, then "
             "export PREFECT_API_URL=http://127.0.0.1:4200/api", EXIT_USAGE)
    _prefect_defaults(verbose=True)
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType
    from pydantic import ValidationError

    try:
        zoneinfo.ZoneInfo(timezone)
        schedule = Cron(cron, timezone=timezone)
    except zoneinfo.ZoneInfoNotFoundError:
        fail(f"--timezone {timezone!r} is not a time zone (use an IANA name such as Europe/Berlin)", EXIT_USAGE)
    except (ValueError, ValidationError) as error:
        fail(f"--cron {cron!r} is not a schedule: {str(error).splitlines()[0]}", EXIT_USAGE)

    from paperfeed_flows.ingest import ingest

    parameters = {"landing": str(landing.resolve()), "warehouse": str(warehouse.resolve()), "year": year, "settle_seconds": settle}
    err.print(escape(f"serving deployment paperfeed-ingest/{name}: {cron} ({timezone}); Ctrl-C stops"), highlight=False)
    try:
        ingest.serve(
            name=name,
            schedule=schedule,
            parameters=parameters,
            limit=1,  # one run at a time (the warehouse lock would make a second one wait anyway)
            entrypoint_type=EntrypointType.MODULE_PATH,  # runs import paperfeed_flows, wherever serve started
            print_starting_message=False,
        )
    except Exception as error:  # noqa: BLE001 - one line for people (an unreachable server, say)
        fail(f"serving failed: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_FAILED)


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help="SQL over papers, appearances, snapshots, paper_versions, quarantine, runs, arrivals; "
            "'-' or nothing reads it from stdin (`paperfeed sql < query.sql`)."
        ),
    ] = None,
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    version: Annotated[int | None, typer.Option("--version", help="Dataset version (default: current).")] = None,
    format: OutputFormat = Format.table,
    as_json: Json = False,
) -> None:
    """Run SQL in DuckDB over one dataset version."""
    import sys

    import duckdb

    if query is None or query == "-":
        query = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    if not query.strip():
        fail("give a query: paperfeed sql \"SELECT ...\", or pipe one in: paperfeed sql < query.sql", EXIT_USAGE)

    from paperfeed.storage.duckdb import open_version
    from paperfeed.storage.warehouse import Warehouse as Store
    from paperfeed.storage.warehouse import WarehouseError

    try:
        con, _ = open_version(Store(warehouse), version)
        # One query, checked before anything runs: COPY, CREATE or a second statement never do.
        statements = con.extract_statements(query)
        if not statements:
            fail("the query holds no SQL statement (only comments?)", EXIT_USAGE)
        kinds = {s.type for s in statements}
        if len(statements) != 1 or kinds - {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}:
            fail("paperfeed sql runs one query (SELECT, WITH, DESCRIBE, EXPLAIN ...), not commands", EXIT_USAGE)
        result = con.sql(query).pl()
    except WarehouseError as error:
        fail(str(error), EXIT_USAGE)
    except duckdb.Error as error:
        fail(f"SQL failed: {error}", EXIT_USAGE)
    emit(result, Format.json if as_json else format)


@app.command()
def versions(
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    format: OutputFormat = Format.table,
    as_json: Json = False,
) -> None:
    """List the dataset versions, oldest first, with their run and counts."""
    from paperfeed.storage.warehouse import Warehouse as Store

    published = Store(warehouse).published().select(
        "dataset_version", "run_id", "finished_at", "n_accepted", "n_duplicate", "n_rejected",
        "n_quarantined", "n_new_papers", "n_updated_papers", "n_papers", "n_appearances",
    )
    if published.is_empty():
        fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", EXIT_USAGE)
    emit(published, Format.json if as_json else format)


@app.command()
def export(
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    version: Annotated[int | None, typer.Option("--version", help="Dataset version (default: current).")] = None,
    wait: Wait = config.DEFAULT_LOCK_WAIT_SECONDS,
    as_json: Json = False,
) -> None:
    """Write the Parquet release of a dataset version into <warehouse>/releases/ (if not there yet)."""
    import json

    from paperfeed.storage.releases import MANIFEST, write_release
    from paperfeed.storage.warehouse import Warehouse as Store
    from paperfeed.storage.warehouse import WarehouseError, WarehouseLocked, warehouse_lock

    store = Store(warehouse)
    try:
        current = store.current()
        number = version if version is not None else current.number if current else None
        if number is None:
            fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", EXIT_USAGE)
        store.version(number)  # an unknown version fails here, before the lock
        with warehouse_lock(store.root, f"export-v{number}", wait), working(f"writing release v{number:04d}"):
            folder = write_release(store, number)
    except WarehouseLocked as error:
        fail(str(error), EXIT_LOCKED)
    except WarehouseError as error:
        fail(str(error), EXIT_USAGE)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if as_json:
        emit_json({"release": str(folder), **manifest})
        return
    table = Table("file", "rows", "bytes", "sha256", title=escape(f"release {manifest['release']} in {folder}"))
    for f in manifest["files"]:
        table.add_row(f["path"], "" if f["rows"] is None else f"{f['rows']:,}", f"{f['bytes']:,}", f["sha256"][:16] + "…")
    out.print(table)
    out.print(f"index of all releases: {escape(str(folder.parent / 'index.html'))}", highlight=False)


@app.command()
def rebuild(
    into: Annotated[Path, typer.Option("--into", help="Empty folder for the rebuilt warehouse.", file_okay=False)],
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    as_json: Json = False,
    verbose: Verbose = False,
) -> None:
    """Recreate every dataset version from the raw archive alone, into a new folder, by replaying
    the published runs one by one; compare each version's table fingerprints with the warehouse's."""
    from paperfeed.storage.archive import arrivals
    from paperfeed.storage.warehouse import Warehouse as Store

    if into.exists() and any(into.iterdir()):
        fail(f"{into} is not empty; rebuild writes a new warehouse into an empty folder", EXIT_USAGE)
    if arrivals(warehouse.resolve()).is_empty():
        fail(f"{warehouse} has no raw archive to rebuild from", EXIT_USAGE)
    source = Store(warehouse)
    # No lock on the source: published runs, their archived files and arrivals only ever grow, so
    # the versions published now can be replayed while scheduled runs go on publishing newer ones.
    published = source.published()
    with counting(f"rebuilding {warehouse} into {into}, version by version", published.height) as bar:
        for number, run_id in published.select("dataset_version", "run_id").iter_rows():
            summary = _ingest(verbose, landing=str(warehouse), warehouse=str(into),
                              replay_from=str(warehouse.resolve()), replay_run=run_id)
            if summary["dataset_version"] != number:
                fail(f"replaying run {run_id} gave dataset version {summary['dataset_version']}, not {number}: "
                     f"{summary['message']}", EXIT_DIFFERS)
            bar.advance(bar.task_ids[0])
    comparison = _compare_versions(source, published, Store(into))
    same = bool(comparison) and all(v["equal"] for v in comparison)
    if as_json:
        emit_json({"equal": same, "versions": comparison, "tables": comparison[-1]["tables"] if comparison else []})
    else:
        table = Table("version", "run rebuilt", "tables", "", title=escape(f"rebuilt into {into}"))
        for v in comparison:
            differs = ", ".join(t["table"] for t in v["tables"] if t["source"] != t["rebuilt"]) or "no fingerprints"
            verdict = "same" if v["equal"] else f"[red]differs: {differs}[/]"
            table.add_row(str(v["version"]), str(v["run_id"]), str(len(v["tables"])), verdict)
        out.print(table)
    raise typer.Exit(EXIT_OK if same else EXIT_DIFFERS)


@app.command()
def verify(
    warehouse: Warehouse = config.DEFAULT_WAREHOUSE,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Check every dataset version, not only the current one.")] = False,
    wait: Wait = config.DEFAULT_LOCK_WAIT_SECONDS,
    as_json: Json = False,
) -> None:
    """Check the warehouse against its own records: tables against their fingerprints, the raw
    archive against its hashes, releases against their manifests, and the DuckDB file."""
    from paperfeed.ops.verify import verify as check
    from paperfeed.storage.warehouse import Warehouse as Store
    from paperfeed.storage.warehouse import WarehouseLocked, warehouse_lock

    store = Store(warehouse)
    if store.current() is None:
        fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", EXIT_USAGE)
    try:
        # Read while no run writes: a run half-way through would look like a finding.
        with warehouse_lock(store.root, "verify", wait), working(f"verifying {warehouse}"):
            result = check(store, all_versions)
    except WarehouseLocked as error:
        fail(str(error), EXIT_LOCKED)
    if as_json:
        emit_json({"ok": not result.findings, "checked": result.checked, "findings": result.findings})
    else:
        checked = ", ".join(f"{n} {area.replace('_', ' ')}" for area, n in result.checked.items())
        if result.findings:
            table = Table("area", "where", "problem", title=f"{len(result.findings)} problems in {escape(str(warehouse))}")
            for f in result.findings:
                table.add_row(f["area"], escape(f["subject"]), escape(f["problem"]))
            out.print(table)
            out.print(escape(f"checked {checked}; `paperfeed rebuild` recreates the tables from the raw archive"), highlight=False)
        else:
            out.print(escape(f"all good: checked {checked}"), highlight=False)
    raise typer.Exit(EXIT_DIFFERS if result.findings else EXIT_OK)


def _compare_versions(source: Store, published: pl.DataFrame, rebuilt: Store) -> list[dict[str, Any]]:
    """Per version `published` in `source`: each table's fingerprint there and in `rebuilt`'s version
    of the same number (None where the rebuild has no such version)."""
    from paperfeed.storage.warehouse import WarehouseError

    comparison = []
    for row in published.iter_rows(named=True):
        number = row["dataset_version"]
        try:
            theirs = rebuilt.version(number).fingerprints
        except WarehouseError:
            theirs = {}
        tables = [
            {"table": name, "source": digest, "rebuilt": theirs.get(name)}
            for name, digest in source.version(number).fingerprints.items()
        ]
        comparison.append({
            "version": number, "run_id": row["run_id"], "tables": tables,
            "equal": bool(tables) and all(t["source"] == t["rebuilt"] for t in tables),
        })
    return comparison


def _landing(landing: Path | None, year: int | None) -> tuple[Path, int | None]:
    """The landing folder (the bundled sample feed, with its year, by default); must exist."""
    if landing is None:
        landing, year = config.SAMPLE_FEED, config.SAMPLE_FEED_YEAR if year is None else year
    if not landing.is_dir():  # fail fast, before Prefect starts
        fail(f"landing folder {landing} does not exist or is not a folder", EXIT_USAGE)
    return landing, year


def _ingest(verbose: bool, **parameters: object) -> dict[str, Any]:
    """Run the ingest flow once, here and now; its expected failures become one line and an exit code."""
    _prefect_defaults(verbose)
    from paperfeed.storage.landing import LandingError
    from paperfeed.ops.run import PublishBlocked
    from paperfeed.storage.warehouse import WarehouseLocked
    from paperfeed_flows.ingest import ingest

    try:
        # No flow-level retries on the command line: the operator gets the answer at once.
        summary: dict[str, Any] = ingest.with_options(retries=0)(**parameters)
    except WarehouseLocked as error:
        fail(str(error), EXIT_LOCKED)
    except PublishBlocked as error:
        fail(str(error), EXIT_BLOCKED)
    except LandingError as error:
        fail(str(error), EXIT_USAGE)
    except Exception as error:  # noqa: BLE001 - one line for people; Prefect keeps the traceback
        fail(f"run failed: {type(error).__name__}: {error} (see the Prefect UI, or --verbose)", EXIT_FAILED)
    return summary


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
