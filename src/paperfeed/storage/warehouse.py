"""The warehouse's Delta tables, its dataset versions, and how a run's changes are published.

Delta commits are atomic per table only, so a dataset version is defined across tables by the
`runs` table: a run first writes its changes to each data table (new Delta versions nobody reads
yet), then appends its row to `runs`, naming the Delta version, row count and fingerprint of every
table. That one append is the publish. Readers resolve a dataset version through `runs` and read
each table at the named Delta version (time travel), so they see a whole run or none of it. Table
versions written by a run that died before its `runs` commit are rolled back by the next writer
(`recover`). A run whose files changed no data (each rejected, or a duplicate) commits its row as
`recorded`: the tables stand where it left them, no version is published, and the next one carries
its rows.

A run changes tables by appending rows, merging rows by key (Delta MERGE) and deleting the few rows
a late arrival makes obsolete; it never rewrites a table. Merges name the oldest date among the
rows they replace, so Delta's file statistics keep them to the files that can hold those rows.
When a table has gathered many small files, the run compacts it before its `runs` commit (the
compacted version is the one it publishes; earlier versions keep their files for time travel).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import TableNotFoundError

from paperfeed.curate.blocking import ABSTRACT_KEYING
from paperfeed.curate.increment import KnownTexts, TableChange, texts_of
from paperfeed.model.contracts import APPEARANCES, DATA_TABLES, PAPER_TITLES, PAPER_VERSIONS, RUNS, SNAPSHOTS, TableContract
from paperfeed.model.fingerprint import fingerprint, is_current_scheme, updated
from paperfeed.model.status import RunStatus
from paperfeed.model.tables import Tables
from paperfeed.prepare.identify import map_distinct, title_key
from paperfeed.storage import key_index
from paperfeed.storage.delta import append, in_partitions_holding, is_partitioned_by, keep_properties, repartition
from paperfeed.storage.faults import crash_point
from paperfeed.storage.files import clean_scratch
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.lock import LeaseLost, held_lease, lease_lock, writer_lock

# A table with more data files than this is compacted by the run that writes it; a partitioned
# table, each partition (month) with more files than COMPACT_PARTITION_AFTER_FILES, on its own.
COMPACT_AFTER_FILES = 48
COMPACT_PARTITION_AFTER_FILES = 16
KEY_INDEX = f"abstract_keys_{ABSTRACT_KEYING}"  # storage/key_index.py
FILTER_IN_READER_FROM = 5_000  # rows_of: values from which the Parquet reader filters (memory), not a join (time)


class WarehouseError(RuntimeError):
    """The warehouse cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class DatasetVersion:
    number: int
    run_id: str
    delta_versions: dict[str, int]
    fingerprints: dict[str, str]
    rows: dict[str, int]


@dataclass(frozen=True)
class Written:
    """Where each data table stands while a run writes: its Delta version, rows and fingerprint
    (those of the published version until the run changes the table)."""

    delta_versions: dict[str, int]
    rows: dict[str, int]
    fingerprints: dict[str, str]

    @classmethod
    def start(cls, base: DatasetVersion | None) -> Written:
        return cls(dict(base.delta_versions), dict(base.rows), dict(base.fingerprints)) if base else cls({}, {}, {})


class Warehouse:
    """A warehouse's Delta tables and dataset versions; built once per command from its layout."""

    def __init__(self, layout: WarehouseLayout) -> None:
        self.layout = layout
        self._handles: dict[str, DeltaTable] = {}  # open tables, kept up to date: opening one reads its log
        self._runs: tuple[int, pl.DataFrame] | None = None  # `runs` as read at a Delta version: a run asks often
        # Each data table's Delta version when this writer last found it clean (recovered, or just
        # committed by it): every later commit must be its own (see _check_own_commits).
        self._clean: dict[str, int] | None = None
        self._locked = 0  # how deep in its own writer's lock this process is (the lock is re-entrant)

    @classmethod
    def at(cls, location: Path | str, site: Path | str | None = None) -> Warehouse:
        """The warehouse in a folder, or at `s3://bucket/prefix` (with its local site folder)."""
        return cls(WarehouseLayout.at(location, site))

    @property
    def root(self) -> Path:
        """The local folder: the warehouse, or the site of a warehouse on object storage."""
        return self.layout.root

    @property
    def location(self) -> str:
        return self.layout.location

    def table_uri(self, name: str) -> str:
        return self.layout.table(name)

    @contextmanager
    def lock(self, holder: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """The writer's lock (re-entrant in one process): a lock file, or a lease on object
        storage; on first entry, scratch files a killed writer left are removed."""
        remote = self.layout.remote
        with lease_lock(remote, holder, wait_seconds, on_wait) if remote else writer_lock(self.layout.lock_file, holder, wait_seconds, on_wait):
            clean_scratch(self.layout.scratch_places())
            self._locked += 1
            try:
                yield
            finally:
                self._locked -= 1
                if not self._locked:  # others may write now: handles are brought up to date again when used
                    self._clean = None

    # --- reading a dataset version --------------------------------------------------------
    def runs(self) -> pl.DataFrame:
        """Every run, oldest first (Delta returns rows in file order, not commit order). Read again
        only when the table has a new Delta version: a run reads it a dozen times, and it grows by
        a row a run."""
        handle = self.handle(RUNS.name)
        if handle is None:
            return RUNS.empty()
        version = handle.version()
        if self._runs is None or self._runs[0] != version:
            self._runs = (version, RUNS.upgrade(pl.scan_delta(handle).collect()).sort("finished_at", "run_id"))
        return self._runs[1]

    def published(self) -> pl.DataFrame:
        """One row per dataset version, oldest first."""
        return self.runs().filter(pl.col("status") == RunStatus.PUBLISHED).sort("dataset_version")

    def current(self) -> DatasetVersion | None:
        published = self.published()
        return _version_from_row(published.row(-1, named=True)) if published.height else None

    def committed(self) -> pl.DataFrame:
        """The runs that committed table versions (published a version, or recorded rows), oldest first."""
        return self.runs().filter(pl.col("status").is_in([RunStatus.PUBLISHED, RunStatus.RECORDED]))

    def standing(self) -> Written:
        """Where the tables stand for the next run to build on: as the last run that committed
        table versions left them. That is the current version's, unless runs that changed no data
        recorded rejected or duplicate files since (their rows go out with the next version)."""
        committed = self.committed()
        return Written.start(_version_from_row(committed.row(-1, named=True)) if committed.height else None)

    def version(self, number: int) -> DatasetVersion:
        published = self.published()
        row = published.filter(pl.col("dataset_version") == number)
        if row.is_empty():
            known = published["dataset_version"].to_list()
            raise WarehouseError(
                f"dataset version {number} does not exist in {self.location}; "
                + (f"versions are {known[0]}..{known[-1]}" if known else "nothing is published yet")
            )
        return _version_from_row(row.row(0, named=True))

    def scan(self, table: TableContract, version: DatasetVersion) -> pl.LazyFrame:
        """One table as it was in `version`, lazily (empty if the version predates the table):
        collect it before this warehouse writes again (it may read through the open handle)."""
        if table.name not in version.delta_versions:
            return table.empty().lazy()
        wanted = version.delta_versions[table.name]
        handle = self._handles.get(table.name)
        if handle is not None and handle.version() == wanted:  # the table as this process left it: not opened again
            return pl.scan_delta(handle)
        return pl.scan_delta(self.table_uri(table.name), version=wanted)

    def read_table(self, table: TableContract, version: DatasetVersion | None) -> pl.DataFrame:
        """One table as it was in `version`, in today's shape."""
        return table.upgrade(self.scan(table, version).collect()) if version is not None else table.empty()

    def read(self, version: DatasetVersion | None) -> Tables:
        return Tables(**{table.name: self.read_table(table, version) for table in DATA_TABLES})

    # --- reading what a run decides from (the newest table versions) -----------------------
    def handle(self, name: str) -> DeltaTable | None:
        """The table's newest version, from a handle opened once (None if there is no table)."""
        return self._open(name, self.table_uri(name))

    def _open(self, name: str, uri: str) -> DeltaTable | None:
        handle = self._handles.get(name)
        if handle is not None:
            # A writer that holds the lock and has recovered changes its tables only through its
            # own handles, which follow their commits: nobody else's to look for (a look lists the
            # table's log, 0.4 ms at one version, 1.5 ms at 500, and a run looks about 40 times).
            # The fence before its runs commit looks all the same (_check_own_commits).
            if not (self._locked and self._clean is not None):
                handle.update_incremental()
            return handle
        if not DeltaTable.is_deltatable(uri):
            return None
        self._handles[name] = handle = DeltaTable(uri)
        return handle

    def _key_index(self) -> DeltaTable | None:
        return self._open(KEY_INDEX, self.layout.index(KEY_INDEX))

    def _key_index_rows(self) -> pl.LazyFrame | None:
        index = self._key_index()
        return pl.scan_delta(index) if index is not None else None

    def snapshots(self) -> pl.DataFrame:
        """Every snapshot row (what curation decides statuses and duplicates from)."""
        handle = self.handle(SNAPSHOTS.name)
        return SNAPSHOTS.upgrade(pl.scan_delta(handle).collect()) if handle else SNAPSHOTS.empty()

    def rows_of(
        self, table: TableContract, column: str, values: list[str], since: dt.date | None = None, columns: list[str] | None = None
    ) -> pl.DataFrame:
        """The rows of `table` whose `column` is one of `values` (what a run may change). Given
        `since`, the caller knows those rows' `table.grows_with` dates are not older: the months
        before it (partitions) and the files whose newest date is older are not read. Given
        `columns`, only those are read (ids, not a paper's texts), as they are written."""
        handle = self.handle(table.name) if values else None
        if handle is None:
            return table.empty().select(columns) if columns else table.empty()
        rows = pl.scan_delta(handle)
        if since is not None and table.grows_with is not None:
            newer = pl.col(table.grows_with) >= since
            if table.partition_by is not None and table.partition_by in handle.metadata().partition_columns:
                newer = newer & (pl.col(table.partition_by) >= since.strftime("%Y-%m"))
            rows = rows.filter(newer)
        # A run's few values: a semi join, which reads the files whole and is the faster (ids are
        # hashes: file statistics skip nothing). A backfill batch's thousands: `is_in`, which the
        # Parquet reader applies itself, decoding only the rows it keeps: at 250,000 papers, for
        # 30,000 of them, paper_versions took 1.5 s and 8 MiB that way, 0.8 s and 120 MiB the other.
        if len(values) > FILTER_IN_READER_FROM:
            found = rows.filter(pl.col(column).is_in(values))
        else:
            wanted = pl.LazyFrame({column: values}, schema={column: pl.String})
            if columns is None:  # whole rows: their months found first, from two narrow columns
                rows = in_partitions_holding(rows, table.partition_by, column, values)
            found = rows.join(wanted, on=column, how="semi", maintain_order="left")
        return found.select(columns).collect() if columns else table.upgrade(found.collect())

    def known_texts(self) -> KnownTexts:
        """Every known paper's folded titles (paper_titles) and abstracts (paper_versions): the
        two columns matching needs, not the tables, as scans (matching streams through them). A
        warehouse written before paper_titles existed gives its titles from appearances, folded here."""
        versions = self.handle(PAPER_VERSIONS.name)
        abstracts = pl.scan_delta(versions).select("paper_id", "abstract") if versions else PAPER_VERSIONS.empty()
        holding = None
        if versions is not None:
            scan = pl.scan_delta(versions).select("paper_id", "abstract_hash", "abstract")
            listed = self._key_index_rows()
            holding = lambda keys: key_index.holding(listed, scan, keys)  # noqa: E731
        titles = self.handle(PAPER_TITLES.name)
        if titles is not None or versions is None:
            frame = pl.scan_delta(titles).select("paper_id", "title_key") if titles else PAPER_TITLES.empty()
            return KnownTexts(texts_of(frame, abstracts), holding=holding)
        appearances = self.handle(APPEARANCES.name)
        seen = pl.scan_delta(appearances).select("paper_id", "title").unique().collect() if appearances else APPEARANCES.empty()
        return KnownTexts(texts_of(map_distinct(seen, "title", "title_key", title_key), abstracts), titled=False, holding=holding)

    # --- writing (call with the lock held) ------------------------------------------------
    def recover(self) -> list[str]:
        """Roll back what a run that died wrote after the last committed run (`standing`), so each
        table's newest Delta version again holds what that run published or recorded. Compares
        files, not version numbers: after one rollback the newest version is a restore commit with
        the committed files. A table no run has committed yet (a first run died) is removed."""
        lease = held_lease(self.layout.remote) if self.layout.remote else None
        if lease is not None:  # a writer that lost its lease must not roll back the new holder's writes
            lease.confirm()
        self._handles.clear()  # opened anew: another writer may have written since this process last did
        standing = self.standing()
        rolled_back = []
        self._clean = {}
        for table in DATA_TABLES:
            uri = self.table_uri(table.name)
            try:
                delta = DeltaTable(uri)  # opened once (not checked for first): reading a long table's log is what opening costs
            except TableNotFoundError:
                continue
            published = standing.delta_versions.get(table.name)
            if published is None:
                if self.layout.remote is not None:
                    self.layout.remote.delete_all(f"tables/{table.name}")
                else:
                    shutil.rmtree(uri)
                rolled_back.append(table.name)
                continue
            if not (delta.version() == published or set(delta.file_uris()) == set(DeltaTable(uri, version=published).file_uris())):
                delta.restore(published, commit_properties=_commit_meta("recover", None))  # the handle is now at it
                rolled_back.append(table.name)
            self._clean[table.name] = delta.version()  # not the newest: a commit after it must be this run's
            self._handles[table.name] = delta
        return rolled_back

    def publish(self, changes: dict[str, TableChange], run: dict[str, Any], base: DatasetVersion | None) -> DatasetVersion:
        """Write one batch of changes and commit the run: `write`, then `commit`."""
        number = (base.number if base else 0) + 1
        return self.commit(run, self.write(changes, self.standing(), run["run_id"], number), number)

    def write(self, changes: dict[str, TableChange], written: Written, run_id: str, number: int) -> Written:
        """Write one batch of changes to the tables (new Delta versions that no dataset version
        names yet); where the tables stand now. A run may write several batches, then commits."""
        versions, rows, digests = dict(written.delta_versions), dict(written.rows), dict(written.fingerprints)
        for table in DATA_TABLES:
            change = changes[table.name]
            if change.changed or table.name not in versions:
                digests[table.name] = self._next_fingerprint(table, change, written)
                rows[table.name] = rows.get(table.name, 0) + change.upserts.height - change.removed().height
                versions[table.name] = self._write(table, change, run_id, number)
            crash_point(f"after_write:{table.name}")
        self._index_abstracts(changes[PAPER_VERSIONS.name].upserts, run_id, number)
        return Written(versions, rows, digests)

    def _index_abstracts(self, upserts: pl.DataFrame, run_id: str, number: int) -> None:
        """List in the abstract key index every abstract of paper_versions (as just written) it
        lacks: the run's new ones, keyed from its rows, and any older gap, read back."""
        versions = self.handle(PAPER_VERSIONS.name)
        if versions is None:
            return
        gaps = key_index.unlisted(self._key_index_rows(), pl.scan_delta(versions)).collect(engine="streaming")
        if gaps.is_empty():
            return
        own = upserts.select("abstract_hash", "abstract").join(gaps, on="abstract_hash", how="semi").unique("abstract_hash")
        rest = gaps.join(own, on="abstract_hash", how="anti")
        if rest.height:
            read = pl.scan_delta(versions).filter(pl.col("abstract_hash").is_in(rest["abstract_hash"].implode()))
            own = pl.concat([own, read.select("abstract_hash", "abstract").unique("abstract_hash").collect()])
        meta = _commit_meta(run_id, number)
        handle = key_index.cover(self._key_index() or self.layout.index(KEY_INDEX), own, meta)
        self._handles[KEY_INDEX] = handle
        self._compact(handle, run_id, number)

    def commit(self, run: dict[str, Any], written: Written, number: int) -> DatasetVersion:
        """Commit the run row that makes the written tables dataset version `number`: the publish."""
        row = {**run, "status": RunStatus.PUBLISHED, "dataset_version": number, "table_versions": _entries(written)}
        self.append_run(row)
        crash_point("after_runs_commit")
        return _version_from_row(row)

    def record(self, run: dict[str, Any], written: Written) -> None:
        """Commit the row of a run whose writes changed no data (rejected or duplicate files only):
        the tables stand where it left them, and the current dataset version stays."""
        self.append_run({**run, "status": RunStatus.RECORDED, "table_versions": _entries(written)})
        crash_point("after_runs_commit")

    def append_run(self, row: dict[str, Any]) -> None:
        """Commit one row to `runs`: for a published run this is the moment it becomes visible.
        On object storage, the lease is renewed first: a writer that lost it publishes (or records)
        nothing. A failed or no-op run's row changes no table and goes in all the same."""
        commits = row["status"] in (RunStatus.PUBLISHED, RunStatus.RECORDED)
        lease = held_lease(self.layout.remote) if self.layout.remote else None
        if commits:
            if lease is not None:
                lease.confirm()
            self._check_own_commits(row)
        frame = RUNS.conform(pl.DataFrame([row], schema=RUNS.schema))
        handle = append(frame, self.handle(RUNS.name) or self.table_uri(RUNS.name), _commit_meta(row["run_id"], row["dataset_version"]))
        self._handles[RUNS.name] = handle
        self._compact(handle, row["run_id"], row["dataset_version"])
        if commits and self._clean is not None:  # a table the run left alone is named at an older version
            for entry in row["table_versions"] or []:
                self._clean[entry["table"]] = max(self._clean.get(entry["table"], -1), entry["delta_version"])

    def _check_own_commits(self, row: dict[str, Any]) -> None:
        """The fence behind the writer's lock: every Delta commit on a table this run names, after
        the version it found clean, must be this run's. Another writer's commit there (a writer
        whose lease ran out while it stalled, then went on writing; a second machine on a shared
        disk whose file locks do not reach this one) would be part of the versions this run names:
        the run then stops and publishes nothing, and the next run's recover rolls both back."""
        if self._clean is None:  # this writer never recovered: nothing to measure from
            return
        for entry in row["table_versions"] or []:
            name, upto = entry["table"], entry["delta_version"]
            since = self._clean.get(name, -1)
            delta = self.handle(name)
            if delta is None or upto <= since:
                continue
            delta.update_incremental()  # another writer's commits too
            newer = delta.version() - since
            history = delta.history(newer)
            if len(history) != newer:  # a commit without commit info: not paperfeed's
                raise LeaseLost(
                    f"table {name} of {self.location} has a commit after Delta version {since} that no paperfeed "
                    "wrote (no commit info), made while this run held the writer's lock: this run publishes nothing"
                )
            for commit in history:
                other = commit.get("paperfeed.run_id")
                if since < commit["version"] <= upto and other != row["run_id"]:
                    raise LeaseLost(
                        f"table {name} of {self.location} has a commit (Delta version {commit['version']}) by "
                        f"{f'run {other}' if other else 'another program'}, made while this run held the writer's lock: "
                        "this run publishes nothing; the next run rolls both back"
                    )

    def _next_fingerprint(self, table: TableContract, change: TableChange, written: Written) -> str:
        previous = written.fingerprints.get(table.name)
        if previous is None:
            return fingerprint(change.upserts, table)
        if not is_current_scheme(previous):  # written by an older paperfeed: summed once, from the table
            uri = self.table_uri(table.name)
            frame = table.upgrade(pl.scan_delta(uri, version=written.delta_versions[table.name]).collect())
            previous = fingerprint(frame, table)
        return updated(previous, change.upserts, change.removed(), table)

    def _write(self, table: TableContract, change: TableChange, run_id: str, number: int) -> int:
        """Apply one table's change as Delta commits (delete, merge or append); its new Delta version."""
        meta = _commit_meta(run_id, number)
        upserts = table.conform(change.upserts)
        delta = self.handle(table.name)
        if delta is None:  # the table's first rows (or none: it is created all the same)
            delta = self._handles[table.name] = append(upserts, self.table_uri(table.name), meta, table.partition_by)
            return delta.version()
        keep_properties(delta, meta)
        if table.partition_by is not None and not is_partitioned_by(delta, table.partition_by):
            # Written before the table was partitioned: rewritten once, partitioned, same rows.
            repartition(table.upgrade(pl.scan_delta(delta).collect()), delta, table.partition_by, meta)
        if change.deletes.height:
            delta.delete(_rows_predicate(table, change.deletes), commit_properties=meta)
        if upserts.height and change.replaced.height:
            self._merge(delta, table, upserts, change.replaced, meta)
        elif upserts.height:
            append(upserts, delta, meta)
        self._compact(delta, run_id, number, table.partition_by)
        return delta.version()

    def _merge(
        self, delta: DeltaTable, table: TableContract, upserts: pl.DataFrame, replaced: pl.DataFrame, meta: CommitProperties
    ) -> None:
        """Update the rows with the upserts' keys, insert the others. The predicate names the
        months (partitions) of the replaced rows and their oldest `table.grows_with` value: Delta
        reads only those partitions, and in them only the files whose newest rows are not older.
        The replaced rows are every row holding an upsert's key, so no other row can match."""
        on = " AND ".join(f't."{k}" = s."{k}"' for k in table.key)
        if table.grows_with is not None:
            oldest = replaced[table.grows_with].min()
            if isinstance(oldest, dt.date):
                on += f' AND t."{table.grows_with}" >= {_sql_literal(oldest)}'
        if table.partition_by is not None and table.partition_by in replaced.columns:
            months = replaced[table.partition_by].unique().sort().to_list()
            if None not in months:
                on += f' AND t."{table.partition_by}" IN ({", ".join(_sql_literal(m) for m in months)})'
        columns = {c: f's."{c}"' for c in table.column_names}
        (
            delta.merge(upserts.to_arrow(), predicate=on, source_alias="s", target_alias="t", merge_schema=True, commit_properties=meta)
            .when_matched_update(updates=columns)
            .when_not_matched_insert(updates=columns)
            .execute()
        )

    def _compact(self, delta: DeltaTable, run_id: str, number: int | None, partition_by: str | None = None) -> None:
        """Compact a table that has gathered many small files (a partitioned one: each month that
        has), so that reading it opens a few files, not one per run."""
        if partition_by is None:
            if len(delta.file_uris()) > COMPACT_AFTER_FILES:
                delta.optimize.compact(commit_properties=_commit_meta(run_id, number))
            return
        files = pl.DataFrame(delta.get_add_actions(flatten=True)).get_column(f"partition.{partition_by}")
        counts = files.drop_nulls().value_counts()
        crowded = counts.filter(pl.col("count") > COMPACT_PARTITION_AFTER_FILES).get_column(files.name).to_list()
        if crowded:
            delta.optimize.compact(partition_filters=[(partition_by, "in", crowded)], commit_properties=_commit_meta(run_id, number))


def _entries(written: Written) -> list[dict[str, Any]]:
    """The `runs.table_versions` of tables that stand as `written` says."""
    return [
        {"table": t.name, "delta_version": written.delta_versions[t.name], "rows": written.rows[t.name],
         "fingerprint": written.fingerprints[t.name]}
        for t in DATA_TABLES
    ]


def _rows_predicate(table: TableContract, rows: pl.DataFrame) -> str:
    """SQL that matches exactly the given rows by key (for the few rows a run deletes)."""
    return " OR ".join(
        "(" + " AND ".join(f'"{k}" IS NULL' if v is None else f'"{k}" = {_sql_literal(v)}' for k, v in zip(table.key, key, strict=True)) + ")"
        for key in rows.select(table.key).unique().iter_rows()
    )


def _sql_literal(value: object) -> str:
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


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
        rows={e["table"]: e["rows"] for e in entries},
    )
