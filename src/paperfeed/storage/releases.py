"""Releases and reports on disk: Parquet releases for download, their index page, per-run reports
(for a warehouse on object storage, put on the store too: storage/site.py).

A release is built under a scratch name, its manifest written last, then renamed into place in
one step (storage/files.py); only then do `latest.json` and the index move. A release folder that
exists is complete. A run's release writes only the files of the weeks its changes touched; the
others are hard links to the previous release's files (the same bytes, stored once). Call with
the warehouse's lock held (runs do; `paperfeed export` takes it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from paperfeed.curate.changes import Changes, paper_changes
from paperfeed.model.contracts import DATA_TABLES, PAPERS, RUNS, SNAPSHOTS, TableContract
from paperfeed.model.fingerprint import matches
from paperfeed.publish.feeds import ATOM_FILE, FEED_ENTRIES, JSON_FILE, Added, atom_feed, feed_entries, feed_order, json_feed
from paperfeed.publish.pages import release_index, run_report
from paperfeed.publish.release import (
    RELEASE_TABLES,
    changes_frames,
    changes_path,
    checksums,
    dataset_card,
    manifest,
    manifest_text,
    part,
    part_path,
    parts_filter,
    release_name,
    release_summary,
)
from paperfeed.publish.summary import RunSummary
from paperfeed.quality.findings import checks_from_rows
from paperfeed.storage.delta import in_partitions_holding
from paperfeed.storage.files import replacing, write_atomic
from paperfeed.storage.layout import MANIFEST
from paperfeed.storage.site import put_file, put_release
from paperfeed.storage.warehouse import DatasetVersion, Warehouse

CHECKSUMS = "SHA256SUMS"
WEEKS_AT_A_TIME = 13  # a quarter: how much of a table a release written from scratch holds at once
INDEX_CACHE = "index.json"  # the release index's summaries, one per release (release_summaries)


class ReleaseError(RuntimeError):
    """A release cannot be written as asked (its tables no longer match their fingerprints)."""


@dataclass(frozen=True)
class Changed:
    """What a run changed, for its release: per table, the parts (weeks) with rows it wrote or
    removed; and the papers it added and updated."""

    parts: dict[str, frozenset[str]]
    changes: Changes


def release_dir(store: Warehouse, version: int) -> Path:
    return store.layout.release(release_name(version))


def write_release(store: Warehouse, version: int, changed: Changed | None = None) -> Path:
    """Write the release of dataset `version` unless it exists, then point `latest.json` and the
    index at what exists (also repairing them after a writer died between the rename and the
    pointers); return its folder. With `changed` (what the run that published the version
    changed), only the parts it touched are written; the rest are linked from the previous
    release."""
    final = release_dir(store, version)
    if not (final / MANIFEST).is_file():
        target = store.version(version)
        if changed is None:  # not straight from the run that wrote the tables: check them first
            _check_tables(store, target)
        with replacing(final, crash_at="during_release") as scratch:
            _build(store, target, scratch, changed)
    put_release(store.layout, final, release_dir(store, version - 1) if version > 1 else None)
    _point_latest(store, version)
    write_index(store)
    return final


def _build(store: Warehouse, target: DatasetVersion, folder: Path, changed: Changed | None) -> None:
    version = target.number
    folder.mkdir()
    previous = _previous(store, version) if changed is not None else None
    files: list[dict[str, Any]] = []
    # The run log up to the run that published the version (a release written again holds the
    # same runs), without this machine's paths: a release is for other people.
    every_run = store.runs()
    run = every_run.filter(pl.col("run_id") == target.run_id).row(0, named=True)
    runs = every_run.filter(pl.col("finished_at") <= run["finished_at"]).with_columns(
        pl.col("landing").str.extract(r"([^/]+)/?$"), quality_report=pl.lit(None, pl.String)
    )
    for table in RELEASE_TABLES:
        if table is RUNS:
            files += _write_parts(folder, table, runs)
            continue
        if table.name not in target.delta_versions:
            continue  # the version predates the table: it has no rows, and a release no file for it
        touched = changed.parts.get(table.name, frozenset()) if changed else None
        if table.grows_with is None:
            files += _write_parts(folder, table, store.read_table(table, target))
            continue
        if previous is None or touched is None:
            files += _write_whole(folder, table, store, target)
            continue
        kept = [f for f in previous[1] if f.get("table") == table.name and Path(f["path"]).stem not in touched]
        for entry in kept:
            (folder / entry["path"]).parent.mkdir(parents=True, exist_ok=True)
            os.link(previous[0] / entry["path"], folder / entry["path"])
        files += kept
        files += _write_parts(folder, table, _rows_of_parts(store, table, target, sorted(touched)))
    changes = changed.changes if changed else _changes(store, target)
    for kind, frame in changes_frames(changes).items():
        path = folder / changes_path(kind)
        path.parent.mkdir(exist_ok=True)
        frame.write_csv(path)
        files.append(_describe(folder, path, f"changes/{kind}", rows=frame.height))
    created = dt.datetime.now(dt.UTC)
    rows = {t.name: sum(f["rows"] or 0 for f in files if f["table"] == t.name) for t in RELEASE_TABLES}
    checks = checks_from_rows(run["checks"])
    previous_version = version - 1 if version > 1 else None
    card = folder / "README.md"
    card.write_text(dataset_card(version, created, rows, changes, previous_version, checks), encoding="utf-8")
    files.append(_describe(folder, card, None))
    sums = folder / CHECKSUMS
    sums.write_text(checksums(files), encoding="utf-8")
    files.append(_describe(folder, sums, None))
    # The snapshots this version added (or changed): all of them are in its `snapshots` files. A
    # manifest that listed every snapshot ever would grow with the history, version after version.
    snapshots = store.read_table(SNAPSHOTS, target).sort("arrived_at", "source_name")
    if previous_version is not None:
        before = runs.filter(pl.col("run_id") == store.version(previous_version).run_id)["finished_at"]
        since = runs.filter(pl.col("finished_at") > before.max())["run_id"] if before.len() else runs["run_id"]
        snapshots = snapshots.filter(pl.col("run_id").is_in(since.to_list()))
    document = manifest(version, target.run_id, run["finished_at"], created, snapshots, files, previous_version, changes, checks)
    (folder / MANIFEST).write_text(manifest_text(document), encoding="utf-8")


def _check_tables(store: Warehouse, target: DatasetVersion) -> None:
    """ReleaseError unless every table of `target` still matches the fingerprint it was published with."""
    for table in DATA_TABLES:
        if table.name in target.fingerprints:
            frame = store.scan(table, target).collect()  # as written: an old version may lack later columns
            if not matches(target.fingerprints[table.name], frame, table.as_written(frame)):
                raise ReleaseError(
                    f"{table.name} in dataset version {target.number} no longer matches the fingerprint it was published "
                    "with: no release is written from it (`paperfeed verify` says more; `paperfeed rebuild` recreates it)"
                )


def _previous(store: Warehouse, version: int) -> tuple[Path, list[dict[str, Any]]] | None:
    """The previous version's release folder and its manifest's files, if that release is complete."""
    folder = release_dir(store, version - 1)
    if version < 2 or not (folder / MANIFEST).is_file():
        return None
    return folder, json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]


def _write_whole(folder: Path, table: TableContract, store: Warehouse, target: DatasetVersion) -> list[dict[str, Any]]:
    """Every part of a table cut by weeks, read and written a quarter at a time: a release
    written from scratch (the first, or `export`) holds one quarter's rows in memory, not the table's."""
    names = sorted(store.scan(table, target).select(part(table).alias("part")).unique().collect()["part"].to_list())
    files = []
    for start in range(0, len(names), WEEKS_AT_A_TIME):
        files += _write_parts(folder, table, _rows_of_parts(store, table, target, names[start : start + WEEKS_AT_A_TIME]))
    return sorted(files, key=lambda f: f["path"])


def _rows_of_parts(store: Warehouse, table: TableContract, target: DatasetVersion, names: list[str]) -> pl.DataFrame:
    """The rows of `table` in `target` that go to these parts (weeks), read from the files whose
    dates can hold them (Delta's file statistics), not from every file of the table."""
    return table.upgrade(store.scan(table, target).filter(parts_filter(table, names)).collect())


def _write_parts(folder: Path, table: TableContract, frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The table's rows as Parquet files, one per part (week), each sorted by the table's key."""
    if frame.is_empty():
        return []
    files = []
    labelled = table.conform(frame).with_columns(_part=part(table))
    for (name,), rows in labelled.partition_by("_part", as_dict=True, include_key=False).items():
        path = folder / part_path(table, str(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.sort(list(table.key), nulls_last=True).write_parquet(path, compression="zstd")
        files.append(_describe(folder, path, table.name))
    return sorted(files, key=lambda f: f["path"])


def _changes(store: Warehouse, target: DatasetVersion) -> Changes:
    """The papers added and updated since the previous version (for a release written by export)."""
    before = store.read_table(PAPERS, store.version(target.number - 1)) if target.number > 1 else PAPERS.empty()
    return paper_changes(before, store.read_table(PAPERS, target))


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
    return sorted(p for p in store.layout.releases.glob("version=*") if p.is_dir())


def write_index(store: Warehouse) -> Path:
    """The release index page and the feeds it links, from the complete releases."""
    summaries = release_summaries(store)
    path = store.layout.releases / "index.html"
    write_atomic(path, release_index(summaries))
    write_feeds(store, summaries)
    put_file(store.layout, path)
    return path


def release_summaries(store: Warehouse) -> list[dict[str, Any]]:
    """Each complete release's summary (release_summary), oldest first. They are kept in
    releases/index.json, each with its manifest's modification time: a run reads the manifests of
    new (or rewritten) releases only, not a thousand manifests that each list hundreds of files."""
    cache_path = store.layout.releases / INDEX_CACHE
    try:
        cached = {entry["release"]: entry for entry in json.loads(cache_path.read_text(encoding="utf-8"))}
    except (OSError, ValueError, TypeError, KeyError):
        cached = {}  # missing or damaged: made again from the manifests
    summaries = []
    for folder in release_folders(store):
        manifest_file = folder / MANIFEST
        if not manifest_file.is_file():
            continue  # not complete: not listed
        stamp = manifest_file.stat().st_mtime_ns
        entry = cached.get(folder.name)
        if entry is None or entry.get("manifest_mtime_ns") != stamp:
            entry = release_summary(json.loads(manifest_file.read_text(encoding="utf-8"))) | {"manifest_mtime_ns": stamp}
        summaries.append(entry)
    if summaries != list(cached.values()):  # a release added, rewritten or gone
        write_atomic(cache_path, json.dumps(summaries))
    return summaries


def write_feeds(store: Warehouse, summaries: list[dict[str, Any]]) -> None:
    """feed.atom and feed.json: the papers the newest releases added (their changes/added.csv),
    as the newest of those releases describes them."""
    added: list[Added] = []
    for m in sorted(summaries, key=lambda m: m["version"], reverse=True):
        listed = release_dir(store, m["version"]) / changes_path("added")
        if not listed.is_file():  # a release without its changes (damaged by hand): nothing to list from it
            continue
        ids = pl.read_csv(listed, schema={"paper_id": pl.String})
        added.append(Added(m["version"], m["published"], ids["paper_id"].to_list()))
        if len({i for a in added for i in a.paper_ids}) >= FEED_ENTRIES:  # papers are never removed
            break
    if not added:
        return
    # Which papers make the entries, from their ranks; then only those papers read whole (the
    # first release of a backfill adds every paper: their texts are not all read for 100 entries).
    scan = store.scan(PAPERS, store.version(added[0].version))
    wanted = [i for a in added for i in a.paper_ids]
    ranks = scan.filter(pl.col("paper_id").is_in(wanted)).select("paper_id", "best_rank", "title").collect()
    chosen = [paper_id for paper_id, _ in feed_order(added, ranks)]
    # Whole rows (abstracts) from the months that hold the chosen papers only.
    rows = in_partitions_holding(scan, PAPERS.partition_by, "paper_id", chosen).filter(pl.col("paper_id").is_in(chosen))
    entries = feed_entries(added, PAPERS.upgrade(rows.collect()))
    for name, text in ((ATOM_FILE, atom_feed(entries, updated=added[0].published)), (JSON_FILE, json_feed(entries))):
        write_atomic(store.layout.releases / name, text)
        put_file(store.layout, store.layout.releases / name)


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
    put_file(layout, path)
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
    """Move `latest.json` to `version` unless a newer one is out."""
    pointer = store.layout.releases / "latest.json"
    if pointer.is_file() and json.loads(pointer.read_text(encoding="utf-8"))["version"] > version:
        return
    name = release_name(version)
    write_atomic(pointer, json.dumps({"version": version, "release": name, "manifest": f"{name}/{MANIFEST}"}))
    put_file(store.layout, pointer)
