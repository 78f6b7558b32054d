"""Release and report I/O: Parquet releases for download, their index page, per-run reports.

A release is built in a scratch folder, its manifest written last, then renamed into place in
one step; only then do `latest` and the index move. A release folder that exists is complete.
Call with the warehouse lock held (runs do; `paperfeed export` takes it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from paperfeed.storage.files import write_atomic
from paperfeed.curate.changes import paper_changes
from paperfeed.model.contracts import RUNS
from paperfeed.publish.pages import release_index, run_report
from paperfeed.publish.release import RELEASE_TABLES, changes_frames, checksums, dataset_card, manifest, release_name
from paperfeed.storage.warehouse import Warehouse

RELEASES_DIR = "releases"
REPORTS_DIR = "reports"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"


def release_dir(store: Warehouse, version: int) -> Path:
    return store.root / RELEASES_DIR / release_name(version)


def write_release(store: Warehouse, version: int) -> Path:
    """Write the release of dataset `version` unless it exists, then point `latest` and the index
    at what exists (also repairing them after a writer died between the rename and the pointers);
    return its folder."""
    final = release_dir(store, version)
    if not (final / MANIFEST).is_file():
        _build(store, version, final)
    _point_latest(final.parent, version)
    write_index(store)
    return final


def _build(store: Warehouse, version: int, final: Path) -> None:
    releases = final.parent
    releases.mkdir(parents=True, exist_ok=True)
    for stale in releases.glob(".building-*"):  # left by a writer that died (there is one writer)
        shutil.rmtree(stale)
    scratch = releases / f".building-{final.name}-{os.getpid()}"
    scratch.mkdir()
    target = store.version(version)
    # The run log without this machine's paths: a release is for other people.
    runs = store.runs().filter(pl.col("dataset_version") <= version).with_columns(
        pl.col("landing").str.extract(r"([^/]+)/?$"), quality_report=pl.lit(None, pl.String)
    )
    tables = store.read(target).as_dict() | {RUNS.name: runs}
    previous = store.read(store.version(version - 1)).papers if version > 1 else tables["papers"].clear()
    changes = paper_changes(previous, tables["papers"])
    files = []
    for table in RELEASE_TABLES:
        path = scratch / f"{table.name}.parquet"
        table.conform(tables[table.name]).write_parquet(path, compression="zstd")
        files.append(_describe(scratch, path, table.name))
    (scratch / "changes").mkdir()
    for kind, frame in changes_frames(changes).items():
        path = scratch / "changes" / f"{kind}.csv"
        frame.write_csv(path)
        files.append(_describe(scratch, path, f"changes/{kind}", rows=frame.height))
    created = dt.datetime.now(dt.timezone.utc)
    rows = {f["table"]: f["rows"] for f in files}
    card = scratch / "README.md"
    checks = runs.filter(pl.col("run_id") == target.run_id)["checks"].to_list()[0]
    card.write_text(dataset_card(version, created, rows, changes, version - 1 if version > 1 else None, checks), encoding="utf-8")
    files.append(_describe(scratch, card, None))
    sums = scratch / CHECKSUMS
    sums.write_text(checksums(files), encoding="utf-8")
    files.append(_describe(scratch, sums, None))
    snapshots = tables["snapshots"]
    write_atomic(
        scratch / MANIFEST,
        json.dumps(
            manifest(version, target.run_id, created, snapshots, files, version - 1 if version > 1 else None, changes, checks),
            indent=2,
        ),
    )
    os.rename(scratch, final)


def release_problems(folder: Path) -> list[str]:
    """What differs between a release folder and its manifest (missing files, other bytes); [] when whole."""
    path = folder / MANIFEST
    if not path.is_file():
        return [f"{folder.name} has no {MANIFEST}"]
    problems = []
    for entry in json.loads(path.read_text(encoding="utf-8"))["files"]:
        file = folder / entry["path"]
        if not file.is_file():
            problems.append(f"{folder.name}/{entry['path']} is missing")
            continue
        data = file.read_bytes()
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{folder.name}/{entry['path']} no longer matches its size and sha256 in the manifest")
    return problems


def write_index(store: Warehouse) -> Path:
    releases = store.root / RELEASES_DIR
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(releases.glob(f"v*/{MANIFEST}"))]
    path = releases / "index.html"
    write_atomic(path, release_index(manifests))
    return path


def write_run_report(store: Warehouse, summary: dict[str, Any], days: list[tuple[str, int, int]]) -> Path:
    """reports/<run_id>.html: what the run did, and the feed over time."""
    reports = store.root / REPORTS_DIR
    reports.mkdir(parents=True, exist_ok=True)
    links = {}
    if summary.get("dataset_version"):
        links["this dataset version's release"] = f"../{RELEASES_DIR}/{release_name(summary['dataset_version'])}/README.md"
        links["all releases"] = f"../{RELEASES_DIR}/index.html"
    if summary.get("quality_report"):
        links["data-quality report (Data Docs)"] = os.path.relpath(summary["quality_report"], reports)
    path = reports / f"{summary['run_id']}.html"
    write_atomic(path, run_report(summary, days, links))
    return path


def _describe(folder: Path, path: Path, table: str | None, rows: int | None = None) -> dict[str, Any]:
    data = path.read_bytes()
    schema = None
    if path.suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
        schema = [{"name": f.name, "type": str(f.type)} for f in parquet.schema_arrow]
    elif path.suffix == ".csv":
        schema = [{"name": "paper_id", "type": "string"}]
    return {
        "path": path.relative_to(folder).as_posix(),
        "table": table,
        "rows": rows,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "schema": schema,
    }


def _point_latest(releases: Path, version: int) -> None:
    """Move `latest` (a JSON file, and a link for people) to `version` unless a newer one is out."""
    pointer = releases / "latest.json"
    if pointer.is_file() and json.loads(pointer.read_text(encoding="utf-8"))["version"] > version:
        return
    name = release_name(version)
    write_atomic(pointer, json.dumps({"version": version, "release": name, "manifest": f"{name}/{MANIFEST}"}))
    link = releases / "latest"
    scratch = releases / f".latest-{os.getpid()}"
    scratch.unlink(missing_ok=True)
    scratch.symlink_to(name)
    os.replace(scratch, link)

