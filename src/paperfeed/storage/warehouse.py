"""Warehouse I/O: Delta tables on disk, the dataset version pointer, and the writer's lock.

Delta commits are atomic per table only, so a dataset version is defined across tables by the
`runs` table: a run first writes each changed data table (new Delta versions nobody reads yet),
then appends its row to `runs`, naming the Delta version of every table. That one append is the
publish. Readers resolve a dataset version through `runs` and read each table at the named Delta
version (time travel), so they see a whole run or none of it. Table versions written by a run
that died before its `runs` commit are rolled back by the next writer (`recover`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import CommitProperties, DeltaTable

from paperfeed.model.contracts import DATA_TABLES, RUNS, TableContract
from paperfeed.model.fingerprint import fingerprint
from paperfeed.model.status import RunStatus
from paperfeed.model.tables import Tables
from paperfeed.storage.faults import crash_point
from paperfeed.storage.files import clean_scratch
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.lock import writer_lock


class WarehouseError(RuntimeError):
    """The warehouse cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class DatasetVersion:
    number: int
    run_id: str
    delta_versions: dict[str, int]
    fingerprints: dict[str, str]


class Warehouse:
    """A warehouse's Delta tables and dataset versions; built once per command from its layout."""

    def __init__(self, layout: WarehouseLayout) -> None:
        self.layout = layout

    @classmethod
    def at(cls, folder: Path | str) -> Warehouse:
        return cls(WarehouseLayout.at(folder))

    @property
    def root(self) -> Path:
        return self.layout.root

    def table_uri(self, name: str) -> str:
        return str(self.layout.table(name))

    @contextmanager
    def lock(self, holder: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """The writer's lock (re-entrant in one process); on first entry, scratch files a killed
        writer left are removed."""
        with writer_lock(self.layout.lock_file, holder, wait_seconds, on_wait):
            clean_scratch(self.layout.scratch_places())
            yield

    # --- reading -------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.table_uri(name))

    def runs(self) -> pl.DataFrame:
        """Every run, oldest first (Delta returns rows in file order, not commit order)."""
        if not self.exists(RUNS.name):
            return RUNS.empty()
        return RUNS.upgrade(pl.read_delta(self.table_uri(RUNS.name))).sort("finished_at", "run_id")

    def published(self) -> pl.DataFrame:
        """One row per dataset version, oldest first."""
        return self.runs().filter(pl.col("status") == RunStatus.PUBLISHED).sort("dataset_version")

    def current(self) -> DatasetVersion | None:
        published = self.published()
        return _version_from_row(published.row(-1, named=True)) if published.height else None

    def version(self, number: int) -> DatasetVersion:
        published = self.published()
        row = published.filter(pl.col("dataset_version") == number)
        if row.is_empty():
            known = published["dataset_version"].to_list()
            raise WarehouseError(
                f"dataset version {number} does not exist in {self.root}; "
                + (f"versions are {known[0]}..{known[-1]}" if known else "nothing is published yet")
            )
        return _version_from_row(row.row(0, named=True))

    def read(self, version: DatasetVersion | None) -> Tables:
        if version is None:
            return Tables.empty()
        frames = {
            table.name: table.upgrade(pl.read_delta(self.table_uri(table.name), version=version.delta_versions[table.name]))
            if table.name in version.delta_versions
            else table.empty()
            for table in DATA_TABLES
        }
        return Tables(**frames)

    # --- writing (call with the lock held) ------------------------------------------------
    def recover(self) -> list[str]:
        """Roll back what a run that died wrote after the current dataset version, so each table's
        newest Delta version again holds the published data. Compares files, not version numbers:
        after one rollback the newest version is a restore commit with the published files."""
        current = self.current()
        rolled_back = []
        for table in DATA_TABLES:
            published = current.delta_versions.get(table.name) if current else None
            if published is None or not self.exists(table.name):
                continue
            uri = self.table_uri(table.name)
            delta = DeltaTable(uri)
            if delta.version() == published or set(delta.file_uris()) == set(DeltaTable(uri, version=published).file_uris()):
                continue
            delta.restore(published, commit_properties=_commit_meta("recover", None))
            rolled_back.append(table.name)
        return rolled_back

    def publish(self, tables: Tables, run: dict[str, Any], base: DatasetVersion | None) -> DatasetVersion:
        """Write the tables that changed, then commit the run row that makes them one version."""
        number = (base.number if base else 0) + 1
        entries = []
        for table in DATA_TABLES:
            frame = table.conform(tables.as_dict()[table.name])
            digest = fingerprint(frame, table)
            if base is not None and base.fingerprints.get(table.name) == digest:
                delta_version = base.delta_versions[table.name]
            else:
                delta_version = self._overwrite(table, frame, run["run_id"], number)
            crash_point(f"after_write:{table.name}")
            entries.append({"table": table.name, "delta_version": delta_version, "rows": frame.height, "fingerprint": digest})
        row = {**run, "status": RunStatus.PUBLISHED, "dataset_version": number, "table_versions": entries}
        self.append_run(row)
        crash_point("after_runs_commit")
        return _version_from_row(row)

    def append_run(self, row: dict[str, Any]) -> None:
        """Commit one row to `runs`: for a published run this is the moment it becomes visible."""
        frame = RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))
        frame.write_delta(
            self.table_uri(RUNS.name),
            mode="append",
            delta_write_options={
                "schema_mode": "merge",
                "commit_properties": _commit_meta(row["run_id"], row["dataset_version"]),
            },
        )

    def _overwrite(self, table: TableContract, frame: pl.DataFrame, run_id: str, number: int) -> int:
        uri = self.table_uri(table.name)
        frame.write_delta(
            uri,
            mode="overwrite",
            delta_write_options={"schema_mode": "overwrite", "commit_properties": _commit_meta(run_id, number)},
        )
        return DeltaTable(uri).version()


def _commit_meta(run_id: str, dataset_version: int | None) -> CommitProperties:
    return CommitProperties(
        custom_metadata={"paperfeed.run_id": run_id, "paperfeed.dataset_version": str(dataset_version)}
    )


def _version_from_row(row: dict[str, Any]) -> DatasetVersion:
    entries = row["table_versions"] or []
    return DatasetVersion(
        number=row["dataset_version"],
        run_id=row["run_id"],
        delta_versions={e["table"]: e["delta_version"] for e in entries},
        fingerprints={e["table"]: e["fingerprint"] for e in entries},
    )
