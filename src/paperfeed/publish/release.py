"""Releases for download: what a release holds and says about itself. Pure; storage/releases.py
writes it.

    version=0003/                        dataset version 3, complete in itself
      papers/2025-W11.parquet ...        each table a folder of zstd Parquet files, its rows cut by
                                         the week of the date that grows with time (papers by
                                         first_seen, appearances by snapshot_date, paper_versions
                                         by valid_from, paper_titles by first_seen); the small
                                         tables in one file, all.parquet
      changes/added.csv updated.csv      paper_ids added and updated since version 2
      README.md                          dataset card, Hugging Face front matter (configs/data_files)
      SHA256SUMS                         the same checksums, for `sha256sum -c SHA256SUMS`
      manifest.json                      written last: version, created, sources, and per file
                                         its rows, bytes, sha256 and schema

A new version changes only the weeks its runs touched (papers on the feed now were first seen
recently): every other file is the previous release's, shared on disk, not copied.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl

from paperfeed.curate.changes import Changes
from paperfeed.model.contracts import ALL_TABLES, PAPERS, TableContract
from paperfeed.publish.summary import QualityRecord
from paperfeed.quality.findings import Check

RELEASE_TABLES: tuple[TableContract, ...] = ALL_TABLES
CHANGE_KINDS = ("added", "updated")
DATASET_NAME = "paperfeed"
WHOLE = "all"  # the one part of a table that is not cut by weeks
UNDATED = "undated"  # the part of rows whose date is null


def release_name(version: int) -> str:
    """A release's folder: hive-style, so that `version=*/papers/*.parquet` reads every version
    once, with its number as a column."""
    return f"version={version:04d}"


def part(table: TableContract) -> pl.Expr:
    """The name of the part (file) each row of `table` goes to in a release."""
    if table.grows_with is None:
        return pl.lit(WHOLE)
    return pl.col(table.grows_with).dt.strftime("%G-W%V").fill_null(UNDATED)


def parts_filter(table: TableContract, names: list[str]) -> pl.Expr:
    """Rows of these parts, as ranges of `table.grows_with` (each week Monday to Sunday): a filter
    a table scan can compare with each file's statistics, unlike `part(table).is_in(names)`."""
    if table.grows_with is None:
        return pl.lit(WHOLE in names)
    column = pl.col(table.grows_with)
    ranges = [column.is_null()] if UNDATED in names else []
    for name in names:
        if name != UNDATED:
            year, week = name.split("-W")
            monday = dt.date.fromisocalendar(int(year), int(week), 1)
            ranges.append(column.is_between(monday, monday + dt.timedelta(days=6)))
    return pl.any_horizontal(ranges) if ranges else pl.lit(False)


def part_path(table: TableContract, name: str) -> str:
    return f"{table.name}/{name}.parquet"


def changes_path(kind: str) -> str:
    """Where a release lists the paper_ids of one kind of change (CHANGE_KINDS)."""
    return f"changes/{kind}.csv"


def changes_frames(changes: Changes) -> dict[str, pl.DataFrame]:
    return {kind: pl.DataFrame({"paper_id": getattr(changes, kind)}, schema={"paper_id": pl.String}) for kind in CHANGE_KINDS}


def checksums(files: list[dict[str, Any]]) -> str:
    """The files' sha256 in the format of coreutils' `sha256sum` (hash, two spaces, path), so a
    downloader checks a release with `sha256sum -c SHA256SUMS` and no code of ours."""
    return "".join(f"{f['sha256']}  {f['path']}\n" for f in files)


def manifest(
    version: int,
    run_id: str,
    published: dt.datetime,
    created: dt.datetime,
    snapshots: pl.DataFrame,
    files: list[dict[str, Any]],
    previous_version: int | None,
    changes: Changes,
    checks: list[Check],
) -> dict[str, Any]:
    return {
        "dataset": DATASET_NAME,
        "version": version,
        "release": release_name(version),
        "published": published.isoformat(timespec="seconds"),  # when its run committed: the same in a re-export
        "created": created.isoformat(timespec="seconds"),  # when these files were written
        "run_id": run_id,
        "new_snapshots": snapshots.select(
            "snapshot_id", "source_name", pl.col("snapshot_date").cast(pl.String), "status", "n_records"
        ).to_dicts(),
        "changes": {
            "previous_version": previous_version,
            **{kind: len(getattr(changes, kind)) for kind in CHANGE_KINDS},
        },
        "quality": QualityRecord(checks).as_dict(),
        "files": files,
    }


def manifest_text(document: dict[str, Any]) -> str:
    """The manifest as JSON for people and programs: indented, but each entry of a list (a file,
    a snapshot) on one line. json.dumps with `indent` runs in Python, not C: a manifest of 275
    files took 20 ms to write that way, 4 ms this way."""
    fields = []
    for key, value in document.items():
        if isinstance(value, list) and value:
            text = "[\n" + ",\n".join(f"    {json.dumps(item)}" for item in value) + "\n  ]"
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
        fields.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def release_summary(document: dict[str, Any]) -> dict[str, Any]:
    """What the release index shows of one release, from its manifest: a few hundred bytes, where
    the manifest lists every file with its schema."""
    tables: dict[str, dict[str, int]] = {}
    for f in document["files"]:
        if f["table"] and not f["table"].startswith("changes/"):
            total = tables.setdefault(f["table"], {"rows": 0, "files": 0, "bytes": 0})
            total["rows"] += f["rows"] or 0
            total["files"] += 1
            total["bytes"] += f["bytes"]
    quality = document.get("quality") or {}
    return {
        "version": document["version"],
        "release": document["release"],
        "created": document["created"],
        "published": document.get("published", document["created"]),  # manifests before 'published': when written
        "changes": document["changes"],
        "quality": {k: quality[k] for k in ("passed", "evaluated") if k in quality},
        "tables": tables,
    }


def dataset_card(
    version: int,
    created: dt.datetime,
    rows: dict[str, int],
    changes: Changes,
    previous: int | None,
    checks: list[Check],
) -> str:
    """README.md of a release: Hugging Face dataset-card front matter, then what the data is."""
    configs = []
    for table in RELEASE_TABLES:
        if not rows.get(table.name):  # a config without rows cannot be loaded (no split has data)
            continue
        configs += [
            f"- config_name: {table.name}",
            *(["  default: true"] if table is PAPERS else []),
            "  data_files:",
            "  - split: train",
            f"    path: {table.name}/*.parquet",
        ]
    front = [
        "---",
        "pretty_name: paperfeed (Hugging Face trending papers, curated)",
        # Titles and abstracts stay under each paper's own license (arXiv's terms, chosen per paper).
        "license: other",
        "license_name: per-paper-arxiv-licenses",
        "license_link: https://info.arxiv.org/help/license/index.html",
        "language:",
        "- en",
        "task_categories:",
        "- summarization",
        "- text-retrieval",
        "size_categories:",
        f"- {size_category(rows.get(PAPERS.name, 0))}",
        "tags:",
        "- papers",
        "- arxiv",
        "- trending",
        "configs:",
        *configs,
        "---",
    ]
    since = f"since version {previous}" if previous else "(first release)"
    body = [
        f"# paperfeed, dataset version {version}",
        "",
        "Papers seen on the Hugging Face trending-papers feed, curated from dated snapshots of the page:",
        "one row per paper, per sighting, per snapshot file and per abstract version, each with its",
        f"data-quality record. Built by paperfeed on {created:%Y-%m-%d}; `manifest.json` lists every",
        "file with its rows, bytes and sha256. Each table is a folder of Parquet files (`papers/*.parquet`);",
        "a table without rows in this version has no config.",
        "",
        "| table | rows | what a row is |",
        "|---|---|---|",
        *[f"| `{t.name}` | {rows.get(t.name, 0):,} | {t.meaning} |" for t in RELEASE_TABLES],
        "",
        f"Changes {since}: {len(changes.added)} papers added, {len(changes.updated)} updated "
        "(paper_ids in `changes/`).",
        "",
        _quality_line(QualityRecord(checks)),
        "",
        "Titles and abstracts are the authors' (from arXiv, as shown by Hugging Face); check each",
        "paper's own license before reuse. `paper_id` is the first 16 hex digits of the sha256 of the",
        "normalised title.",
        "",
        "## Columns",
        "",
    ]
    for table in RELEASE_TABLES:
        body += [f"### `{table.name}`", "", "| column | meaning |", "|---|---|"]
        body += [f"| `{c.name}` | {c.meaning} |" for c in table.columns]
        body.append("")
    return "\n".join([*front, "", *body])


def size_category(rows: int) -> str:
    """The Hub's size category of a dataset with `rows` rows (its `size_categories` values)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((name for bound, name in bounds if rows < bound), "1B<n<10B")


def _quality_line(record: QualityRecord) -> str:
    if not record.evaluated:
        return "Data quality: no record (this version was published before paperfeed kept one)."
    suites = sorted({c.suite for c in record.checks})
    return (
        f"Data quality: this version passed {record.passed} of {record.evaluated} checks of the publish gate "
        f"(Great Expectations suites for {', '.join(f'`{s}`' for s in suites)}); each is listed, with what it "
        "observed, under `quality` in `manifest.json`."
    )
