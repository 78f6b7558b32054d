"""Rebuild: every dataset version of a warehouse, recreated from its raw archive alone in a new
folder by replaying the runs that committed tables (published or recorded) one by one, then
compared version by version."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from paperfeed.model.contracts import DATA_TABLES, TableContract
from paperfeed.model.fingerprint import fingerprint, is_current_scheme
from paperfeed.ops.context import FromArchive, IngestRequest
from paperfeed.ops.run import GateFactory, great_expectations_gate, run_ingest
from paperfeed.ops.steps import Steps
from paperfeed.storage.archive import arrivals
from paperfeed.storage.warehouse import DatasetVersion, Warehouse, WarehouseError


class RebuildError(RuntimeError):
    """The rebuild cannot start (a folder that is not empty, no archive) or went astray."""


@dataclass(frozen=True)
class TableComparison:
    table: str
    source: str  # fingerprint in the warehouse rebuilt from
    rebuilt: str | None  # fingerprint in the rebuild; None where it has no such version


@dataclass(frozen=True)
class VersionComparison:
    version: int
    run_id: str
    tables: list[TableComparison]

    @property
    def equal(self) -> bool:
        return bool(self.tables) and all(t.source == t.rebuilt for t in self.tables)


@dataclass(frozen=True)
class Rebuilt:
    versions: list[VersionComparison]

    @property
    def equal(self) -> bool:
        return bool(self.versions) and all(v.equal for v in self.versions)


def rebuild(
    source: Warehouse, into: Warehouse, *, steps: Steps | None = None, gate: GateFactory = great_expectations_gate
) -> Rebuilt:
    """Replay each run of `source` that published a version or recorded rows into the empty
    warehouse `into`, in order, and compare each version's table fingerprints.

    No lock on the source: published runs, their archived files and arrivals only ever grow, so
    the versions published now can be replayed while scheduled runs go on publishing newer ones."""
    check_rebuild(source, into)
    for status, number, run_id in source.committed().select("status", "dataset_version", "run_id").iter_rows():
        summary = run_ingest(into, IngestRequest(FromArchive(source.layout, run_id)), steps=steps, gate=gate)
        if summary.status != status or summary.dataset_version != number:
            raise RebuildError(
                f"replaying run {run_id} ({status}, dataset version {number}) gave {summary.status}, "
                f"dataset version {summary.dataset_version}: {summary.message}"
            )
    return Rebuilt(compare_versions(source, source.published(), into))


def check_rebuild(source: Warehouse, into: Warehouse) -> None:
    """RebuildError unless `into` is empty (or missing) and `source` has a raw archive."""
    remote = into.layout.remote
    if remote.keys() if remote is not None else into.root.exists() and any(into.root.iterdir()):
        raise RebuildError(f"{into.location} is not empty; rebuild writes a new warehouse into an empty one")
    if arrivals(source.layout).is_empty():
        raise RebuildError(f"{source.location} has no raw archive to rebuild from")


def compare_versions(source: Warehouse, published: pl.DataFrame, rebuilt: Warehouse) -> list[VersionComparison]:
    """Per version `published` in `source`: each table's fingerprint there and in `rebuilt`'s version
    of the same number. A fingerprint an older paperfeed wrote in another scheme is first computed
    anew, in today's, from the source's table at that version."""
    comparison = []
    for number, run_id in published.select("dataset_version", "run_id").iter_rows():
        try:
            theirs = rebuilt.version(number).fingerprints
        except WarehouseError:
            theirs = {}
        ours = source.version(number)
        tables = [
            TableComparison(table.name, _current(source, table, ours), theirs.get(table.name))
            for table in DATA_TABLES
            if table.name in ours.fingerprints
        ]
        comparison.append(VersionComparison(number, run_id, tables))
    return comparison


def _current(warehouse: Warehouse, table: TableContract, version: DatasetVersion) -> str:
    digest = version.fingerprints[table.name]
    return digest if is_current_scheme(digest) else fingerprint(warehouse.read_table(table, version), table)
