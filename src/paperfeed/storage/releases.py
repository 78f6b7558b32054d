"""Releases and reports on disk: Parquet releases for download, their index page, per-run reports.

A release is built under a scratch name, its manifest written last, then renamed into place in
one step (storage/files.py); only then do `latest` and the index move. A release folder that
exists is complete. Call with the warehouse's lock held (runs do; `paperfeed export` takes it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from paperfeed.curate.changes import paper_changes
from paperfeed.model.contracts import RUNS
from paperfeed.publish.pages import release_index, run_report
from paperfeed.publish.release import RELEASE_TABLES, changes_frames, checksums, dataset_card, manifest, release_name
from paperfeed.publish.summary import RunSummary
from paperfeed.quality.findings import checks_from_rows
from paperfeed.storage.files import replacing, write_atomic
from paperfeed.storage.layout import MANIFEST
from paperfeed.storage.warehouse import Warehouse

CHECKSUMS = "SHA256SUMS"


def release_dir(store: Warehouse, version: int) -> Path:
    return store.layout.release(release_name(version))


def write_release(store: Warehouse, version: int) -> Path:
    """Write the release of dataset `version` unless it exists, then point `latest` and the index
    at what exists (also repairing them after a writer died between the rename and the pointers);
    return its folder."""
    final = release_dir(store, version)
    if not (final / MANIFEST).is_file():
        with replacing(final, crash_at="during_release") as scratch:
            _build(store, version, scratch)
    _point_latest(store, version)
    write_index(store)
    return final


def _build(store: Warehouse, version: int, folder: Path) -> None:
    folder.mkdir()
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
        path = folder / f"{table.name}.parquet"
        table.conform(tables[table.name]).write_parquet(path, compression="zstd")
        files.append(_describe(folder, path, table.name))
    (folder / "changes").mkdir()
    for kind, frame in changes_frames(changes).items():
        path = folder / "changes" / f"{kind}.csv"
        frame.write_csv(path)
        files.append(_describe(folder, path, f"changes/{kind}", rows=frame.height))
    created = dt.datetime.now(dt.UTC)
    rows = {f["table"]: f["rows"] for f in files}
    checks = checks_from_rows(runs.filter(pl.col("run_id") == target.run_id)["checks"].to_list()[0])
    previous_version = version - 1 if version > 1 else None
    card = folder / "README.md"
    card.write_text(dataset_card(version, created, rows, changes, previous_version, checks), encoding="utf-8")
    files.append(_describe(folder, card, None))
    sums = folder / CHECKSUMS
    sums.write_text(checksums(files), encoding="utf-8")
    files.append(_describe(folder, sums, None))
    document = manifest(version, target.run_id, created, tables["snapshots"], files, previous_version, changes, checks)
    (folder / MANIFEST).write_text(json.dumps(document, indent=2), encoding="utf-8")


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


def release_folders(store: Warehouse) -> list[Path]:
    return sorted(p for p in store.layout.releases.glob("v[0-9]*") if p.is_dir())


def write_index(store: Warehouse) -> Path:
    manifests = [json.loads((f / MANIFEST).read_text(encoding="utf-8")) for f in release_folders(store) if (f / MANIFEST).is_file()]
    path = store.layout.releases / "index.html"
    write_atomic(path, release_index(manifests))
    return path


def write_run_report(store: Warehouse, summary: RunSummary, days: list[tuple[str, int, int]]) -> Path:
    """reports/<run_id>.html: what the run did, and the feed over time."""
    layout = store.layout
    links = {}
    if summary.dataset_version:
        release = layout.release(release_name(summary.dataset_version))
        links["this dataset version's release"] = os.path.relpath(release / "README.md", layout.reports)
        links["all releases"] = os.path.relpath(layout.releases / "index.html", layout.reports)
    path = layout.report(summary.run_id)
    write_atomic(path, run_report(summary, days, links))
    return path


def _describe(folder: Path, path: Path, table: str | None, rows: int | None = None) -> dict[str, Any]:
    data = path.read_bytes()
    schema = None
    if path.suffix == ".parquet":
        parquet = pq.ParquetFile(io.BytesIO(data))
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


def _point_latest(store: Warehouse, version: int) -> None:
    """Move `latest` (a JSON file, and a link for people) to `version` unless a newer one is out."""
    releases = store.layout.releases
    pointer = releases / "latest.json"
    if pointer.is_file() and json.loads(pointer.read_text(encoding="utf-8"))["version"] > version:
        return
    name = release_name(version)
    write_atomic(pointer, json.dumps({"version": version, "release": name, "manifest": f"{name}/{MANIFEST}"}))
    with replacing(releases / "latest") as scratch:
        scratch.symlink_to(name)
