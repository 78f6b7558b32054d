"""The raw archive: every file that arrives is kept in the warehouse, byte for byte, before any
processing, so every dataset version can be rebuilt from the archive alone (`paperfeed rebuild`).

    raw/<sha256[:2]>/<sha256>    the bytes, content-addressed (stored once)
    raw/arrivals                 Delta table: one row per file per run that saw it

A copy is written atomically (storage/files.py; on object storage, a PUT is), so the archive
never holds a partial file under a real name; the arrivals of a run are one Delta commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from paperfeed.model.contracts import ARRIVALS
from paperfeed.model.inputs import LandingFile, RawSnapshot
from paperfeed.storage.delta import append
from paperfeed.storage.faults import crash_point
from paperfeed.storage.files import write_atomic
from paperfeed.storage.layout import WarehouseLayout


class ArchiveError(RuntimeError):
    """The raw archive is damaged: a file is missing or its bytes no longer match their hash."""


def archive(
    layout: WarehouseLayout,
    raws: list[RawSnapshot],
    years: dict[str, int | None],
    run_id: str,
    now: dt.datetime,
) -> None:
    """Store the bytes of every file this run saw, then log their arrivals in one commit. `years`
    holds the files the run processes (the others were ingested before), with their --year."""
    for raw in raws:
        if _archived_size(layout, raw.snapshot_id) != len(raw.raw):  # content-addressed: same name, same bytes
            if layout.remote is not None:
                crash_point("during_raw_copy")
                layout.remote.put(layout.raw_key(raw.snapshot_id), raw.raw)
            else:
                write_atomic(layout.raw_file(raw.snapshot_id), raw.raw, crash_at="during_raw_copy")
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
            "processed": raw.snapshot_id in years,
            "year": years.get(raw.snapshot_id),
        }
        for raw in raws
    ]
    append(pl.DataFrame(rows, schema=ARRIVALS.schema), layout.arrivals)
    crash_point("after_arrivals")


def arrivals(layout: WarehouseLayout) -> pl.DataFrame:
    """The arrival log, oldest run first (Delta returns rows in file order, not commit order)."""
    if not DeltaTable.is_deltatable(layout.arrivals):
        return ARRIVALS.empty()
    return ARRIVALS.upgrade(pl.read_delta(layout.arrivals)).sort("archived_at", "arrived_at", "source_name")


def replayed_files(layout: WarehouseLayout, run_id: str) -> list[LandingFile]:
    """The archived files the published run `run_id` processed, as it saw them: original name,
    arrival time and the --year it used (each file's path is its archived copy). A run that died
    or was blocked published nothing, so its files come back only where a later published run
    processed them again."""
    log = arrivals(layout).filter(pl.col("processed") & (pl.col("run_id") == run_id))
    return [
        LandingFile(layout.raw_file(row["snapshot_id"]), row["source_name"], row["arrived_at"], year=row["year"], size=row["n_bytes"])
        for row in log.iter_rows(named=True)
    ]


def read_replayed(layout: WarehouseLayout, file: LandingFile) -> RawSnapshot:
    """A replayed file's bytes, checked against the hash that names its archived copy."""
    return RawSnapshot(file, read_archived(layout, Path(file.path).name, file.source_name))


def replay(layout: WarehouseLayout, run_id: str) -> list[RawSnapshot]:
    """The files `run_id` processed, with their bytes (see replayed_files)."""
    return [read_replayed(layout, file) for file in replayed_files(layout, run_id)]


def read_archived(layout: WarehouseLayout, snapshot_id: str, source_name: str) -> bytes:
    """The archived bytes of a file, checked against their hash; ArchiveError if missing or damaged."""
    path = layout.raw_file(snapshot_id)
    where = layout.remote.uri(layout.raw_key(snapshot_id)) if layout.remote else str(path)
    if layout.remote is not None:
        found = layout.remote.get(layout.raw_key(snapshot_id))
        data = found.data if found is not None else None
    else:
        data = path.read_bytes() if path.is_file() else None
    if data is None:
        raise ArchiveError(f"the raw archive lost {source_name}: {where} is missing")
    if hashlib.sha256(data).hexdigest() != snapshot_id:
        raise ArchiveError(f"the raw archive's copy of {source_name} is damaged: {where} no longer matches its hash")
    return data


def _archived_size(layout: WarehouseLayout, snapshot_id: str) -> int | None:
    if layout.remote is not None:
        return layout.remote.size(layout.raw_key(snapshot_id))
    path = layout.raw_file(snapshot_id)
    return path.stat().st_size if path.is_file() else None
