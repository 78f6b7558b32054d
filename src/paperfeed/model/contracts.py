"""Table contracts: every published table's columns, types and meanings, declared once.

Writers conform frames to these contracts before publishing, the README's column reference is
checked against them, and each table's data-quality suite lives in `expectations/<table>.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl
from polars.datatypes import DataTypeClass

LINK = pl.Struct({"url": pl.String, "kind": pl.String})
TABLE_VERSION = pl.Struct(
    {"table": pl.String, "delta_version": pl.Int64, "rows": pl.Int64, "fingerprint": pl.String}
)
# One expectation of the publish gate and how the run's tables fared: the data-quality record
# that comes with every dataset version (in `runs` and in each release's manifest).
CHECK = pl.Struct(
    {
        "suite": pl.String,
        "expectation": pl.String,
        "column": pl.String,
        "description": pl.String,
        "success": pl.Boolean,
        "unexpected": pl.Int64,
        "observed": pl.String,
    }
)
UTC = pl.Datetime("us", "UTC")


def month_of(date: pl.Expr) -> pl.Expr:
    """'2025-03' for a date in March 2025: the value of a table's partition column."""
    return date.dt.strftime("%Y-%m")


class ContractError(ValueError):
    """A frame does not have the columns its table contract declares."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType | DataTypeClass
    meaning: str
    nullable: bool = False


@dataclass(frozen=True)
class TableContract:
    name: str
    meaning: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Columns that say when or by which run a row was written, not what the data is; the content
    # fingerprint leaves them out so a rebuild from the raw archive fingerprints the same.
    volatile: tuple[str, ...] = ()
    # A date column that grows with time: rows a run changes are recent ones, so writes name the
    # oldest such date they touch and Delta's file statistics skip the files that are older.
    grows_with: str | None = None
    # The Delta partition column, if the table has one: the month ('YYYY-MM') of `grows_with`,
    # derived by conform(). A merge names the months of the rows it replaces, so it rewrites those
    # months' files only, not the whole table. The content fingerprint leaves it out: it repeats
    # `grows_with`, and leaving it out keeps the fingerprints of tables written before it existed.
    partition_by: str | None = None

    def __post_init__(self) -> None:
        if self.partition_by is not None and (self.grows_with is None or self.partition_by not in self.column_names):
            raise ValueError(f"{self.name}: partition column {self.partition_by!r} needs grows_with and a Column")

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def fingerprinted(self) -> list[str]:
        """The columns a row's content fingerprint covers: not the volatile ones, not the partition."""
        return [c for c in self.column_names if c not in self.volatile and c != self.partition_by]

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Select the contract's columns in order, cast to its types (the partition column derived
        from its date); fail on a missing column."""
        if self.partition_by is not None and self.grows_with in frame.columns:
            frame = frame.with_columns(month_of(pl.col(self.grows_with)).alias(self.partition_by))
        missing = [c for c in self.column_names if c not in frame.columns]
        if missing:
            raise ContractError(f"table {self.name!r} is missing columns {missing}")
        return frame.select(pl.col(c.name).cast(c.dtype) for c in self.columns)

    def upgrade(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A table written by an older paperfeed, in today's shape: columns added since then are
        null (not known at the time), so old warehouses and old versions stay readable."""
        return self.conform(
            frame.with_columns(pl.lit(None, c.dtype).alias(c.name) for c in self.columns if c.name not in frame.columns)
        )

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)

    def as_written(self, frame: pl.DataFrame) -> TableContract:
        """This contract with only the columns `frame` has: an older paperfeed wrote a table
        before some columns existed, and fingerprinted only the columns it wrote."""
        partition = self.partition_by if self.partition_by in frame.columns else None
        return replace(self, columns=tuple(c for c in self.columns if c.name in frame.columns), partition_by=partition)


SNAPSHOTS = TableContract(
    name="snapshots",
    meaning="One row per distinct feed file received (by its bytes), whatever became of it.",
    key=("snapshot_id",),
    columns=(
        Column("snapshot_id", pl.String, "sha256 of the file's raw bytes"),
        Column(
            "content_id",
            pl.String,
            "sha256 of the snapshot's normalised content (date line and records); equal for "
            "re-deliveries that differ only in encoding, line endings, BOM or name",
            nullable=True,
        ),
        Column("source_name", pl.String, "file name as delivered, relative to the landing folder"),
        Column("arrived_at", UTC, "when the file arrived (its modification time in the landing folder)"),
        Column("n_bytes", pl.Int64, "size of the raw file in bytes"),
        Column("encoding", pl.String, "text encoding the file was decoded with", nullable=True),
        Column("date_text", pl.String, "the header's date line as written, e.g. 'Mar 14'", nullable=True),
        Column("snapshot_date", pl.Date, "the feed's date, with the year resolved", nullable=True),
        Column(
            "date_source",
            pl.String,
            "where the year came from: header, path, config (--year) or arrival",
            nullable=True,
        ),
        Column("status", pl.String, "accepted, duplicate or rejected"),
        Column(
            "duplicate_of",
            pl.String,
            "for a duplicate: snapshot_id of the accepted snapshot with the same content",
            nullable=True,
        ),
        Column("n_records", pl.Int64, "usable records in the file (the appearances it adds when accepted)"),
        Column("n_quarantined", pl.Int64, "records set aside by the quality gate (see quarantine)"),
        Column("n_truncated", pl.Int64, "records flagged as truncated (cut off at the end of the file)"),
        Column("reason", pl.String, "why the snapshot is a duplicate or was rejected", nullable=True),
        Column("run_id", pl.String, "the run that ingested the file"),
        Column("ingested_at", UTC, "when that run ingested it"),
    ),
    volatile=("run_id", "ingested_at"),
)

APPEARANCES = TableContract(
    name="appearances",
    meaning="One row per sighting of a paper in an accepted snapshot.",
    key=("snapshot_id", "paper_id"),
    columns=(
        Column("snapshot_id", pl.String, "the snapshot the paper was seen in"),
        Column("snapshot_date", pl.Date, "that snapshot's date"),
        Column("paper_id", pl.String, "the paper seen"),
        Column("rank", pl.Int64, "1-based position in the feed"),
        Column("is_new", pl.Boolean, "true on the paper's first date on the feed"),
        Column("title", pl.String, "the title as it appeared here, cleaned"),
        Column("title_raw", pl.String, "the title exactly as written in the file"),
        Column("abstract_hash", pl.String, "hash of the abstract as seen here"),
        Column(
            "version",
            pl.Int64,
            "the paper_versions version this sighting carried; join on (paper_id, version). Null for "
            "a cut-off abstract of a paper that has a complete one",
            nullable=True,
        ),
        Column(
            "is_truncated",
            pl.Boolean,
            "the abstract seen here was cut off: the file's last record, stopping mid-sentence or "
            "a shorter prefix of another abstract of the paper",
        ),
        Column("title_line", pl.Int64, "line of the title in the file (1-based)"),
        Column("abstract_line", pl.Int64, "line of the abstract in the file (1-based)", nullable=True),
        Column("snapshot_month", pl.String, "month of snapshot_date, 'YYYY-MM' (the Delta partition)"),
    ),
    grows_with="snapshot_date",
    partition_by="snapshot_month",
)

PAPERS = TableContract(
    name="papers",
    meaning="One row per distinct paper ever seen on the feed, with its newest complete abstract.",
    key=("paper_id",),
    columns=(
        Column(
            "paper_id",
            pl.String,
            "stable id: hash of the folded title of the paper's first sighting (see paper_titles, paper_aliases)",
        ),
        Column("title", pl.String, "title from the newest sighting, cleaned"),
        Column("abstract", pl.String, "newest complete abstract, cleaned (Unicode, LaTeX resolved)"),
        Column("title_raw", pl.String, "that title exactly as written in the feed"),
        Column("abstract_raw", pl.String, "that abstract exactly as written in the feed"),
        Column("links", pl.List(LINK), "URLs found in the abstract, each with its kind"),
        Column("first_seen", pl.Date, "first snapshot date the paper was on the feed"),
        Column("last_seen", pl.Date, "last snapshot date the paper was on the feed"),
        Column("times_seen", pl.Int64, "number of appearances (snapshots it was in)"),
        Column("dates_seen", pl.Int64, "number of distinct snapshot dates it was in"),
        Column("best_rank", pl.Int64, "best (lowest) feed position ever"),
        Column("latest_rank", pl.Int64, "feed position at the newest sighting"),
        Column("n_versions", pl.Int64, "number of abstract versions in paper_versions"),
        Column(
            "abstract_is_truncated",
            pl.Boolean,
            "the only abstract ever seen was cut off; a complete one replaces it when it arrives",
        ),
        Column("first_seen_month", pl.String, "month of first_seen, 'YYYY-MM' (the Delta partition)"),
    ),
    grows_with="first_seen",
    partition_by="first_seen_month",
)

PAPER_VERSIONS = TableContract(
    name="paper_versions",
    meaning="Every distinct abstract of a paper over time (slowly changing dimension, type 2).",
    key=("paper_id", "version"),
    columns=(
        Column("paper_id", pl.String, "the paper"),
        Column("version", pl.Int64, "1, 2, ... in order of validity"),
        Column("abstract_hash", pl.String, "hash of the abstract; joins appearances"),
        Column("abstract", pl.String, "the abstract, cleaned"),
        Column("abstract_raw", pl.String, "the abstract exactly as written"),
        Column("links", pl.List(LINK), "URLs found in this abstract, each with its kind"),
        Column("valid_from", pl.Date, "first snapshot date this version was seen"),
        Column(
            "valid_to",
            pl.Date,
            "snapshot date the next version took over (exclusive); null while current",
            nullable=True,
        ),
        Column("is_current", pl.Boolean, "this is the version papers shows"),
        Column(
            "is_truncated",
            pl.Boolean,
            "every sighting of this text was cut off (such a version exists only while no complete one does)",
        ),
        Column("times_seen", pl.Int64, "appearances that carried this version"),
        Column("valid_from_month", pl.String, "month of valid_from, 'YYYY-MM' (the Delta partition)"),
    ),
    grows_with="valid_from",
    partition_by="valid_from_month",
)

PAPER_TITLES = TableContract(
    name="paper_titles",
    meaning="Every title a paper was seen with (one row per folded title), when first and last: "
    "look a paper up by any of its titles, or by the id any of them gives (title_id).",
    key=("paper_id", "title_key"),
    columns=(
        Column("paper_id", pl.String, "the paper"),
        Column("title_key", pl.String, "the title folded: case, compatibility forms, punctuation and spacing"),
        Column("title", pl.String, "the newest cleaned spelling of that title"),
        Column(
            "title_id",
            pl.String,
            "the id this title gives the paper: the hash of title_key (or, when another work with this "
            "title holds that, the hash of title_key and of the abstract first seen with it); unique; when it "
            "is not the paper's id, it resolves to the paper (paper_aliases)",
        ),
        Column("first_seen", pl.Date, "first snapshot date with that title"),
        Column("last_seen", pl.Date, "last snapshot date with that title"),
        Column("times_seen", pl.Int64, "appearances with that title"),
        Column("first_seen_month", pl.String, "month of first_seen, 'YYYY-MM' (the Delta partition)"),
    ),
    grows_with="first_seen",
    partition_by="first_seen_month",
)

PAPER_MATCHES = TableContract(
    name="paper_matches",
    meaning="The evidence of entity resolution: each record that joined a paper under another "
    "title or abstract, and each pair kept apart that a reviewer may want to see, with the rule and scores.",
    key=("title_key", "abstract_hash", "other_title_key", "other_paper_id", "decision", "rule"),
    columns=(
        Column("title_key", pl.String, "the record's folded title"),
        Column("abstract_hash", pl.String, "hash of the record's abstract", nullable=True),
        Column("paper_id", pl.String, "the paper the record was put in by the run"),
        Column("decision", pl.String, "joined (the record is that paper) or kept_apart (a candidate pair for review)"),
        Column(
            "rule",
            pl.String,
            "for joined: same_title, same_abstract, similar_title_corroborated or similar_title; for "
            "kept_apart: the reason (a hard guard: numbers_differ, sequel_number, part_differs, part_added, "
            "different_abstracts; or in_between, conflicts_with_group (a guard with another member of the paper), "
            "same_snapshot (two records of one snapshot are two works))",
        ),
        Column("other_paper_id", pl.String, "the paper on the other side of the evidence, as the run left it"),
        Column("other_title_key", pl.String, "the other side's closest folded title"),
        Column("title_score", pl.Float64, "similarity of the two folded titles, 0..1 (normalised Indel)"),
        Column("abstract_score", pl.Float64, "Jaccard similarity of the abstracts' word 3-shingles, 0..1; null when one is missing", nullable=True),
        Column("abstract_cut", pl.Boolean, "one abstract is the other cut short"),
        Column("run_id", pl.String, "the run that decided"),
    ),
    volatile=("run_id",),
)

QUARANTINE = TableContract(
    name="quarantine",
    meaning="What the quality gate set aside: rejected snapshots (no line) and single records, with why.",
    key=("snapshot_id", "line"),
    columns=(
        Column("source_name", pl.String, "file name as delivered"),
        Column("snapshot_id", pl.String, "sha256 of the file's raw bytes"),
        Column("line", pl.Int64, "line of the record in the file; null for a whole rejected snapshot", nullable=True),
        Column("rank", pl.Int64, "feed position of the record; null for a whole rejected snapshot", nullable=True),
        Column("excerpt", pl.String, "the start of the record (title, else abstract) or of the file", nullable=True),
        Column("reason", pl.String, "why, in words: each failed expectation with what was observed"),
        Column("failed_expectations", pl.List(pl.String), "the failed expectations, as type(column)"),
        Column("observed_values", pl.List(pl.String), "the observed value behind each failed expectation"),
        Column("run_id", pl.String, "the run that set it aside"),
        Column("quarantined_at", UTC, "when"),
    ),
    volatile=("run_id", "quarantined_at"),
)

RUNS = TableContract(
    name="runs",
    meaning="One row per pipeline run; a published run defines a dataset version.",
    key=("run_id",),
    columns=(
        Column("run_id", pl.String, "unique id of the run"),
        Column("started_at", UTC, "when the run started"),
        Column("finished_at", UTC, "when it committed"),
        Column("status", pl.String, "published, recorded (files that changed no data), noop (nothing new) or failed"),
        Column("dataset_version", pl.Int64, "the dataset version current after this run"),
        Column("landing", pl.String, "the folder the run ingested from"),
        Column("n_files", pl.Int64, "files found in the landing folder"),
        Column("n_already_ingested", pl.Int64, "files whose exact bytes were ingested before"),
        Column("n_accepted", pl.Int64, "snapshots accepted"),
        Column("n_duplicate", pl.Int64, "snapshots that repeat an accepted one"),
        Column("n_rejected", pl.Int64, "snapshots rejected"),
        Column("n_quarantined", pl.Int64, "records set aside by the quality gate"),
        Column("n_new_papers", pl.Int64, "papers that did not exist before the run"),
        Column("n_updated_papers", pl.Int64, "papers whose row changed"),
        Column("n_papers", pl.Int64, "papers in the dataset after the run"),
        Column("n_appearances", pl.Int64, "appearances in the dataset after the run"),
        Column("n_matched", pl.Int64, "records that joined a paper under another title or abstract (paper_matches)", nullable=True),
        Column("n_merged_papers", pl.Int64, "papers merged into another or given another id (the old id is in paper_aliases)", nullable=True),
        Column("n_candidates", pl.Int64, "pairs kept apart and listed for review (paper_matches)", nullable=True),
        Column("table_versions", pl.List(TABLE_VERSION), "Delta version, rows and fingerprint of each table as the run left it (published or recorded)"),
        Column("message", pl.String, "what the run did, in one line"),
        Column("quality_report", pl.String, "path of the run's report page, which lists every data-quality check", nullable=True),
        Column(
            "checks",
            pl.List(CHECK),
            "each publish-gate expectation (suite, expectation, column, description), whether the run's "
            "tables met it, how many rows did not (unexpected) or the value observed",
            nullable=True,
        ),
    ),
    volatile=("run_id", "started_at", "finished_at"),
)

ARRIVALS = TableContract(
    name="arrivals",
    meaning="The raw archive's log: one row per file per run that saw it (not versioned; append only).",
    key=("run_id", "source_name"),
    columns=(
        Column("snapshot_id", pl.String, "sha256 of the bytes; the archived copy is raw/<first two>/<snapshot_id>"),
        Column("source_name", pl.String, "file name as delivered, relative to the landing folder"),
        Column("arrived_at", UTC, "the file's modification time in the landing folder"),
        Column("n_bytes", pl.Int64, "size in bytes"),
        Column("run_id", pl.String, "the run that saw it"),
        Column("archived_at", UTC, "when that run archived it (its start)"),
        Column("processed", pl.Boolean, "the run processed it (false: its bytes were ingested before)"),
        Column("year", pl.Int64, "the --year it was processed with, if any", nullable=True),
    ),
    volatile=("run_id", "archived_at"),
)

# Data tables in publish order; `runs` is committed last and is the dataset's version pointer.
DATA_TABLES: tuple[TableContract, ...] = (SNAPSHOTS, APPEARANCES, PAPERS, PAPER_VERSIONS, PAPER_TITLES, PAPER_MATCHES, QUARANTINE)
ALL_TABLES: tuple[TableContract, ...] = (*DATA_TABLES, RUNS)
# The tables that record what came in and what became of it, not the feed's data: a run that
# changes only these (it rejected files, or received duplicates) publishes no new version.
INTAKE_TABLES: tuple[TableContract, ...] = (SNAPSHOTS, QUARANTINE)
BY_NAME: dict[str, TableContract] = {t.name: t for t in ALL_TABLES}
