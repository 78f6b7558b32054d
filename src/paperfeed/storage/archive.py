"""Raw archive I/O: every file that arrives is kept in the warehouse, byte for byte, before any
processing, so every dataset version can be rebuilt from the archive alone (`paperfeed rebuild`).

    <warehouse>/raw/<sha256[:2]>/<sha256>    the bytes, content-addressed (stored once)
    <warehouse>/raw/arrivals                 Delta table: one row per file per run that saw it

A copy is written to a scratch name, flushed and renamed, so the archive never holds a partial
file under a real name; the arrivals of a run are one Delta commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from paperfeed.storage.files import write_atomic
from paperfeed.model.contracts import ARRIVALS
from paperfeed.storage.faults import crash_point
from paperfeed.storage.landing import LandingFile, RawSnapshot

RAW_DIR = "raw"
ARRIVALS_DIR = "arrivals"


class ArchiveError(RuntimeError):
    """The raw archive is damaged: a file is missing or its bytes no longer match their hash."""


def raw_path(warehouse: Path, snapshot_id: str) -> Path:
    return warehouse / RAW_DIR / snapshot_id[:2] / snapshot_id


def arrivals_uri(warehouse: Path) -> str:
    return str(warehouse / RAW_DIR / ARRIVALS_DIR)


def archive(
    warehouse: Path,
    raws: list[RawSnapshot],
    processed: set[str],
    years: dict[str, int | None],
    run_id: str,
    now: dt.datetime,
) -> None:
    """Store the bytes of every file this run saw, then log their arrivals in one commit."""
    for raw in raws:
        _store(raw_path(warehouse, raw.snapshot_id), raw.raw)
    crash_point("after_raw_files")
    if not raws:
        return
    rows = [
        {
            "snapshot_id": raw.snapshot_id,
            "source_name": raw.file.source_name,
            "arrived_at": raw.file.arrived_at,
            "n_bytes": len(raw.raw),
            "run_id": run_id,
            "archived_at": now,
            "processed": raw.snapshot_id in processed,
            "year": years.get(raw.snapshot_id),
        }
        for raw in raws
    ]
    pl.DataFrame(rows, schema=ARRIVALS.schema).write_delta(
        arrivals_uri(warehouse), mode="append", delta_write_options={"schema_mode": "merge"}
    )
    crash_point("after_arrivals")


def arrivals(warehouse: Path) -> pl.DataFrame:
    """The arrival log, oldest run first (Delta returns rows in file order, not commit order)."""
    uri = arrivals_uri(warehouse)
    if not DeltaTable.is_deltatable(uri):
        return ARRIVALS.empty()
    return ARRIVALS.upgrade(pl.read_delta(uri)).sort("archived_at", "arrived_at", "source_name")


def replay(warehouse: Path, run_id: str) -> list[RawSnapshot]:
    """The archived files the published run `run_id` processed, as it saw them: original name,
    arrival time and the --year it used. A run that died or was blocked published nothing, so its
    files come back only where a later published run processed them again."""
    log = arrivals(warehouse).filter(pl.col("processed") & (pl.col("run_id") == run_id))
    replayed = []
    for row in log.iter_rows(named=True):
        data = read_archived(warehouse, row["snapshot_id"], row["source_name"])
        file = LandingFile(raw_path(warehouse, row["snapshot_id"]), row["source_name"], row["arrived_at"], year=row["year"])
        replayed.append(RawSnapshot(file, data))
    return replayed


def read_archived(warehouse: Path, snapshot_id: str, source_name: str) -> bytes:
    """The archived bytes of a file, checked against their hash; ArchiveError if missing or damaged."""
    path = raw_path(warehouse, snapshot_id)
    if not path.is_file():
        raise ArchiveError(f"the raw archive lost {source_name}: {path} is missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != snapshot_id:
        raise ArchiveError(f"the raw archive's copy of {source_name} is damaged: {path} no longer matches its hash")
    return data


def _store(path: Path, data: bytes) -> None:
    if path.is_file() and path.stat().st_size == len(data):
        return  # content-addressed: the same name is the same bytes
    write_atomic(path, data, crash_at="during_raw_copy")
