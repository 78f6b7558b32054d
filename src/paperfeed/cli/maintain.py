"""Commands for the operator who looks after a warehouse: export a release, rebuild from the raw
archive, verify what is on disk."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from paperfeed.cli import startup
from paperfeed.cli.common import (
    DEFAULT_WAIT,
    DEFAULT_WAREHOUSE,
    Exit,
    JsonOption,
    VerboseOption,
    WaitOption,
    WarehouseOption,
    fail,
    prefect_defaults,
)
from paperfeed.cli.console import emit_json, out, working
from paperfeed.cli.ingest import locked, orchestrated
from paperfeed.storage.layout import absolute


def export(
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    version: Annotated[int | None, typer.Option("--version", help="Dataset version (default: current).")] = None,
    wait: WaitOption = DEFAULT_WAIT,
    as_json: JsonOption = False,
) -> None:
    """Write the Parquet release of a dataset version into <warehouse>/releases/ (if not there yet)."""
    from paperfeed.storage.layout import MANIFEST
    from paperfeed.storage.releases import ReleaseError, write_release
    from paperfeed.storage.warehouse import Warehouse, WarehouseError

    store = Warehouse.at(warehouse)
    try:
        current = store.current()
        number = version if version is not None else current.number if current else None
        if number is None:
            fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", Exit.USAGE)
        store.version(number)  # an unknown version fails here, before the lock
        startup.done()
        with locked(warehouse, f"export-v{number}", wait), working(f"writing release v{number:04d}"):
            folder = write_release(store, number)
    except WarehouseError as error:
        fail(str(error), Exit.USAGE)
    except ReleaseError as error:
        fail(str(error), Exit.DIFFERS)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if as_json:
        emit_json({"release": str(folder), **manifest})
        return
    table = Table("file", "rows", "bytes", "sha256", title=escape(f"release {manifest['release']} in {folder}"))
    for f in manifest["files"]:
        table.add_row(f["path"], "" if f["rows"] is None else f"{f['rows']:,}", f"{f['bytes']:,}", f["sha256"][:16] + "…")
    out.print(table)
    out.print(f"index of all releases: {escape(str(folder.parent / 'index.html'))}", highlight=False)


def rebuild(
    into: Annotated[str, typer.Option("--into", help="Empty folder (or s3://bucket/prefix) for the rebuilt warehouse.")],
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Recreate every dataset version from the raw archive alone, into a new folder, by replaying
    the published runs one by one; compare each version's table fingerprints with the warehouse's."""
    from paperfeed.ops.rebuild import RebuildError, check_rebuild
    from paperfeed.storage.warehouse import Warehouse

    try:
        check_rebuild(Warehouse.at(warehouse), Warehouse.at(into))  # before the orchestrator starts
    except RebuildError as error:
        fail(str(error), Exit.USAGE)
    with working(f"rebuilding {warehouse} into {into}, version by version"):
        prefect_defaults(verbose)
        from paperfeed.cli.prefect_server import prefect_api, ready

        with prefect_api() as server:
            from paperfeed_flows.ingest import rebuild as flow

            ready(server)
            rebuilt = orchestrated(lambda: flow(warehouse=absolute(warehouse), into=absolute(into)))
    if as_json:
        versions = [asdict(v) | {"equal": v.equal} for v in rebuilt.versions]
        emit_json({"equal": rebuilt.equal, "versions": versions, "tables": versions[-1]["tables"] if versions else []})
    else:
        table = Table("version", "run rebuilt", "tables", "", title=escape(f"rebuilt into {into}"))
        for v in rebuilt.versions:
            differs = ", ".join(t.table for t in v.tables if t.source != t.rebuilt) or "no fingerprints"
            verdict = "same" if v.equal else f"[red]differs: {escape(differs)}[/]"
            table.add_row(str(v.version), escape(v.run_id), str(len(v.tables)), verdict)
        out.print(table)
    raise typer.Exit(Exit.OK if rebuilt.equal else Exit.DIFFERS)


def verify(
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Check every dataset version, not only the current one.")] = False,
    wait: WaitOption = DEFAULT_WAIT,
    as_json: JsonOption = False,
) -> None:
    """Check the warehouse against its own records: tables against their fingerprints, the raw
    archive against its hashes, releases against their manifests, and the DuckDB file."""
    from paperfeed.ops.verify import verify as check
    from paperfeed.storage.warehouse import Warehouse

    store = Warehouse.at(warehouse)
    if store.current() is None:
        fail(f"nothing is published in {warehouse} yet; run `paperfeed run` first", Exit.USAGE)
    startup.done()
    # Read while no run writes: a run half-way through would look like a finding.
    with locked(warehouse, "verify", wait), working(f"verifying {warehouse}"):
        result = check(store, all_versions)
    if as_json:
        emit_json({"ok": not result.findings, "checked": result.checked, "findings": [asdict(f) for f in result.findings]})
    else:
        checked = ", ".join(f"{n} {area.replace('_', ' ')}" for area, n in result.checked.items())
        if result.findings:
            table = Table("area", "where", "problem", title=f"{len(result.findings)} problems in {escape(str(warehouse))}")
            for f in result.findings:
                table.add_row(f.area, escape(f.subject), escape(f.problem))
            out.print(table)
            out.print(escape(f"checked {checked}; `paperfeed rebuild` recreates the tables from the raw archive"), highlight=False)
        else:
            out.print(escape(f"all good: checked {checked}"), highlight=False)
    raise typer.Exit(Exit.DIFFERS if result.findings else Exit.OK)
