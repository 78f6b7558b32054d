"""Verify a warehouse against its own records, read only: what an operator runs to know the data
on disk is still the data that was published (a disk error, a hand edit, a lost file).

    tables    each dataset version's tables re-read and fingerprinted, against `runs.table_versions`
    archive   every archived file's bytes, against the sha256 that names them
    releases  every release's files, against the sizes and sha256 in its manifest (on object
              storage: the local site's releases and those on the store)
    duckdb    paperfeed.duckdb shows the current version of this warehouse

A finding says what and where; `paperfeed rebuild` or the next run (DuckDB file, releases via
`paperfeed export`) is the way back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from paperfeed.model.contracts import DATA_TABLES
from paperfeed.model.fingerprint import matches
from paperfeed.storage.archive import ArchiveError, arrivals, read_archived
from paperfeed.storage.duckdb import duckdb_file_shows
from paperfeed.storage.layout import DUCKDB_FILE
from paperfeed.storage.releases import release_folders, release_problems
from paperfeed.storage.site import stored_release_problems
from paperfeed.storage.warehouse import DatasetVersion, Warehouse


@dataclass(frozen=True)
class Finding:
    area: str  # tables | archive | releases | duckdb
    subject: str  # what, e.g. 'papers in dataset version 2'
    problem: str  # in words


@dataclass
class Verification:
    checked: dict[str, int] = field(default_factory=lambda: {"tables": 0, "archived_files": 0, "releases": 0, "duckdb_file": 0})
    findings: list[Finding] = field(default_factory=list)

    def found(self, area: str, subject: str, problem: str) -> None:
        self.findings.append(Finding(area, subject, problem))


def verify(store: Warehouse, all_versions: bool = False) -> Verification:
    """Check the current dataset version (every version with `all_versions`), the raw archive,
    the releases and the DuckDB file."""
    result = Verification()
    published = store.published()
    numbers = published["dataset_version"].to_list() if all_versions else published["dataset_version"].tail(1).to_list()
    for number in numbers:
        _verify_version(store, store.version(number), result)
    _verify_archive(store, result)
    _verify_releases(store, result)
    current = store.current()
    if current is not None:
        result.checked["duckdb_file"] += 1
        shown = duckdb_file_shows(store)
        if shown is None or shown[0] != current.number:
            what = f"version {shown[0]}" if shown else "nothing (missing, unreadable or from an older paperfeed)"
            result.found("duckdb", DUCKDB_FILE, f"shows {what}, not version {current.number}; the next run rewrites it")
    return result


def _verify_version(store: Warehouse, version: DatasetVersion, result: Verification) -> None:
    for table in DATA_TABLES:
        if table.name not in version.delta_versions:
            continue
        result.checked["tables"] += 1
        subject = f"{table.name} in dataset version {version.number}"
        try:
            frame = pl.read_delta(store.table_uri(table.name), version=version.delta_versions[table.name])
        except Exception as error:  # noqa: BLE001 - any read failure is the finding
            result.found("tables", subject, f"cannot be read: {type(error).__name__}: {str(error).splitlines()[0]}")
            continue
        # Fingerprint the columns the table was written with: columns a later paperfeed added are
        # not in old versions, and were not in their recorded fingerprint either.
        if not matches(version.fingerprints.get(table.name, ""), frame, table.as_written(frame)):
            result.found("tables", subject, "its content no longer matches the fingerprint recorded when it was published")


def _verify_archive(store: Warehouse, result: Verification) -> None:
    for snapshot_id, source_name in arrivals(store.layout).unique("snapshot_id", keep="first").select(
        "snapshot_id", "source_name"
    ).iter_rows():
        result.checked["archived_files"] += 1
        try:
            read_archived(store.layout, snapshot_id, source_name)
        except ArchiveError as error:
            result.found("archive", source_name, str(error))


def _verify_releases(store: Warehouse, result: Verification) -> None:
    for folder in release_folders(store):
        result.checked["releases"] += 1
        for problem in release_problems(folder):
            result.found("releases", folder.name, problem)
    for release, problems in stored_release_problems(store.layout).items():  # a warehouse on object storage
        result.checked["releases"] += 1
        for problem in problems:
            result.found("releases", f"{release} (on the store)", problem)
