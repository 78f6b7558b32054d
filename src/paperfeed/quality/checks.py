"""Check: the frames the quality gate validates, and what its findings mean. Pure.

Great Expectations validates one table at a time, so the rules that span tables (an appearance
points at an existing paper, times_seen equals the number of appearances, ...) are expressed as
`check_*` columns computed here and constrained by the suites in expectations/. The suites hold
every threshold and pattern; this module only lays the facts side by side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl

from paperfeed.curate.tables import Tables
from paperfeed.prepare.identify import map_distinct
from paperfeed.prepare.snapshot import PreparedSnapshot, Verdict

SNAPSHOT_SUITE = "snapshot"
RECORDS_SUITE = "records"
LINKS_SUITE = "links"
SHOWN_CHARS = 80
# The characters Windows-1252 shows for the bytes 0x80-0xFF, and Latin-1's C1 controls: what the
# bytes of UTF-8 text turn into when the text is read in one of those encodings.
_CP1252_HIGH = "".join(bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0x100))
_HIGH_RUN = re.compile("[" + re.escape(_CP1252_HIGH) + "\x80-\x9f]{2,}")
_NOT_ASCII = r"[^\x00-\x7f]"


class GateError(RuntimeError):
    """A suite could not be evaluated (a broken suite or a missing column), which is not bad data."""


@dataclass(frozen=True)
class Failure:
    """One failed expectation of a suite."""

    position: int  # its place in the suite file: suites list the most fundamental rules first
    expectation: str  # e.g. expect_column_values_to_not_be_null
    column: str | None
    description: str
    rows: list[int] | None  # failing row positions; None for a table-level expectation
    observed: str | None = None  # for a table-level expectation

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column or 'table'})"


@dataclass(frozen=True)
class Check:
    """One expectation as evaluated, passed or not: a row of the data-quality record (CHECK)."""

    suite: str
    expectation: str
    column: str | None
    description: str
    success: bool
    unexpected: int | None  # rows that did not meet it; None for a table-level expectation
    observed: str | None  # the value a table-level expectation observed, as JSON


@dataclass(frozen=True)
class SuiteReport:
    suite: str
    evaluated: int
    failures: list[Failure]
    checks: list[Check] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self, frame: pl.DataFrame) -> str:
        """One line per failure, with counts and a few observed values."""
        lines = []
        for f in self.failures:
            if f.rows is None:
                lines.append(f"{self.suite}: {f.description} [{f.label}]: observed {f.observed}")
                continue
            examples = ", ".join(_observed(f, frame, row) for row in f.rows[:3])
            lines.append(f"{self.suite}: {f.description} [{f.label}]: {len(f.rows)} of {frame.height} rows, e.g. {examples}")
        return "\n".join(lines)


def check_rows(reports: list[SuiteReport]) -> list[dict[str, Any]]:
    """The checks of `reports` as rows of the CHECK struct, suite by suite, in suite-file order."""
    return [asdict(check) for report in reports for check in report.checks]


# --- the gate before anything is written ---------------------------------------------------
def snapshot_profiles(snapshots: list[PreparedSnapshot]) -> pl.DataFrame:
    """One row per incoming file: the facts the `snapshot` suite judges."""
    return pl.DataFrame(
        [
            {
                "source_name": s.source_name,
                "n_bytes": s.n_bytes,
                "encoding": s.encoding,
                "control_ratio": s.control_chars / max(s.n_chars, 1),
                "first_line": s.first_line,
                "header_lines": s.header_lines,
                "date_text": s.date_text,
                "snapshot_date": s.snapshot_date,
                "n_records": s.records.height,
                "detail": s.detail,
            }
            for s in snapshots
        ],
        schema={
            "source_name": pl.String, "n_bytes": pl.Int64, "encoding": pl.String, "control_ratio": pl.Float64,
            "first_line": pl.String, "header_lines": pl.Int64, "date_text": pl.String, "snapshot_date": pl.Date,
            "n_records": pl.Int64, "detail": pl.String,
        },
    )


RECORD_COLUMNS = [
    "rank", "line", "title", "abstract", "title_raw", "abstract_raw", "is_truncated", "ambiguous", "repeat_of_rank",
]


def record_rows(snapshot: PreparedSnapshot) -> pl.DataFrame:
    return with_mojibake_checks(snapshot.records.select(RECORD_COLUMNS))


def mojibake(text: str) -> str | None:
    """The first stretch of `text` that is UTF-8 read as Windows-1252 or Latin-1 ('CafÃ©' for
    'Café', 'ÐžÐ±' for 'Об'), or a replacement character; None for clean text."""
    if "\ufffd" in text:
        return "\ufffd"
    for run in _HIGH_RUN.finditer(text):
        stretch = run.group()
        for start in range(len(stretch) - 1):
            for width in (2, 3, 4):
                piece = stretch[start : start + width]
                if len(piece) < width:
                    break
                for codec in ("cp1252", "latin-1"):
                    try:
                        if len(piece.encode(codec).decode("utf-8")) == 1:
                            return piece
                    except UnicodeError:
                        continue
    return None


def with_mojibake_checks(frame: pl.DataFrame) -> pl.DataFrame:
    """check_mojibake_title / _abstract: the mojibake found in the raw texts, else null. Checked on
    the raw text, so that text paperfeed itself writes (LaTeX turned into 'Â·') cannot trip it."""
    for field in ("title", "abstract"):
        raw = frame.select(pl.col(f"{field}_raw").filter(pl.col(f"{field}_raw").str.contains(_NOT_ASCII)))
        found = map_distinct(raw, f"{field}_raw", "found", mojibake).unique(f"{field}_raw")
        frame = frame.join(found.rename({"found": f"check_mojibake_{field}"}), on=f"{field}_raw", how="left")
    return frame


def apply_snapshot_gate(
    snapshots: list[PreparedSnapshot], report: SuiteReport, profiles: pl.DataFrame
) -> list[PreparedSnapshot]:
    """Give each snapshot the `snapshot` suite failed a verdict; the others pass unchanged."""
    found = verdicts(report, profiles, details=[s.detail for s in snapshots])
    return [replace(snap, verdict=found[i]) if i in found else snap for i, snap in enumerate(snapshots)]


def apply_record_gate(snapshot: PreparedSnapshot, report: SuiteReport, rows: pl.DataFrame) -> PreparedSnapshot:
    """Split the snapshot's records into kept and quarantined (with their verdicts)."""
    found = verdicts(report, rows)
    bad = sorted(found)
    quarantined = rows[bad].with_columns(
        reason=pl.Series([found[i].reason for i in bad], dtype=pl.String),
        failed_expectations=pl.Series([found[i].failed_expectations for i in bad], dtype=pl.List(pl.String)),
        observed_values=pl.Series([found[i].observed_values for i in bad], dtype=pl.List(pl.String)),
    )
    keep = pl.Series([i not in found for i in range(rows.height)], dtype=pl.Boolean)
    return replace(snapshot, records=snapshot.records.filter(keep), quarantined=quarantined)


def verdicts(report: SuiteReport, frame: pl.DataFrame, details: list[str | None] | None = None) -> dict[int, Verdict]:
    """Row position -> why it failed, for every row a row-level expectation flagged.

    The reason names the first failed rule (suites list the most fundamental first) with what was
    observed and the row's detail if any (a decoding error, say), then the other failed columns:
    an empty file also has no header and no date, but 'empty file' is what a person needs to read.
    """
    table_level = [f for f in report.failures if f.rows is None]
    if table_level:
        raise GateError(f"suite {report.suite!r} failed at table level: {report.summary(frame)}")
    by_row: dict[int, list[Failure]] = defaultdict(list)
    for failure in report.failures:
        for row in failure.rows or []:
            by_row[row].append(failure)
    found = {}
    for row, failures in sorted(by_row.items()):
        first, rest = failures[0], failures[1:]
        detail = details[row] if details else None
        reason = f"{first.description} (observed {_observed(first, frame, row)})" + (f": {detail}" if detail else "")
        if rest:
            reason += "; also failed: " + ", ".join(f.column or f.expectation for f in rest)
        found[row] = Verdict(
            reason=reason,
            failed_expectations=[f.label for f in failures],
            observed_values=[_observed(f, frame, row) for f in failures],
        )
    return found


def _observed(failure: Failure, frame: pl.DataFrame, row: int) -> str:
    if failure.column is None:
        return "?"
    value = frame[failure.column][row]
    if "lengths" in failure.expectation and isinstance(value, str):
        return f"{failure.column} has {len(value):,} characters"
    shown = repr(value)
    if len(shown) > SHOWN_CHARS:
        shown = shown[: SHOWN_CHARS - 1] + "…"
    return f"{failure.column}={shown}"


# --- the gate before publishing -------------------------------------------------------------
def publish_frames(tables: Tables, runs: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Suite name -> the frame it validates: each table with its cross-table `check_*` columns."""
    accepted = tables.snapshots.filter(pl.col("status") == "accepted")
    rank_limits = accepted.select(
        "snapshot_id", check_rank_limit=pl.col("n_records") + pl.col("n_quarantined")
    )
    appearances = (
        tables.appearances.with_columns(
            check_paper_exists=pl.col("paper_id").is_in(tables.papers["paper_id"].implode()),
            check_snapshot_accepted=pl.col("snapshot_id").is_in(accepted["snapshot_id"].implode()),
        )
        .join(rank_limits, on="snapshot_id", how="left")
    )
    counts = tables.appearances.group_by("paper_id").agg(check_n_appearances=pl.len().cast(pl.Int64))
    current = tables.paper_versions.group_by("paper_id").agg(
        check_current_versions=pl.col("is_current").sum().cast(pl.Int64)
    )
    papers = with_mojibake_checks(
        tables.papers.join(counts, on="paper_id", how="left")
        .join(current, on="paper_id", how="left")
        .with_columns(pl.col("check_n_appearances", "check_current_versions").fill_null(0))
    )
    versions = with_mojibake_checks(
        tables.paper_versions.with_columns(
            check_paper_exists=pl.col("paper_id").is_in(tables.papers["paper_id"].implode()),
            title_raw=pl.lit(None, pl.String),
        )
    ).drop("title_raw", "check_mojibake_title")
    links = pl.concat(
        [
            frame.select("paper_id", pl.col("links")).explode("links").drop_nulls("links").unnest("links")
            for frame in (tables.papers, tables.paper_versions)
        ]
    )
    return {
        "snapshots": tables.snapshots,
        "appearances": appearances,
        "papers": papers,
        "paper_versions": versions,
        "quarantine": tables.quarantine,
        LINKS_SUITE: links,
        "runs": runs,
    }
