"""What the quality gate's findings mean: each failed expectation, each check passed or not, and
the verdict on each file or record a row-level expectation flagged. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from paperfeed.model.prepared import PreparedSnapshot, Verdict

SHOWN_CHARS = 80


class GateError(RuntimeError):
    """A suite could not be evaluated (a broken suite or a missing column), which is not bad data."""


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

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column or 'table'})"


@dataclass(frozen=True)
class Failure:
    """A check that failed, with where it stands in its suite and the rows that failed it."""

    check: Check
    position: int  # its place in the suite file: suites list the most fundamental rules first
    rows: list[int] | None  # failing row positions (the first few only, unless all were asked for); None for a table-level expectation

    @property
    def description(self) -> str:
        return self.check.description

    @property
    def column(self) -> str | None:
        return self.check.column

    @property
    def label(self) -> str:
        return self.check.label


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
                lines.append(f"{self.suite}: {f.description} [{f.label}]: observed {f.check.observed}")
                continue
            examples = ", ".join(_observed(f, frame, row) for row in f.rows[:3])
            lines.append(
                f"{self.suite}: {f.description} [{f.label}]: {f.check.unexpected} of {frame.height} rows, e.g. {examples}"
            )
        return "\n".join(lines)


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
            reason += "; also failed: " + ", ".join(f.column or f.check.expectation for f in rest)
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
    if "lengths" in failure.check.expectation and isinstance(value, str):
        return f"{failure.column} has {len(value):,} characters"
    shown = repr(value)
    if len(shown) > SHOWN_CHARS:
        shown = shown[: SHOWN_CHARS - 1] + "…"
    return f"{failure.column}={shown}"


def checks_from_rows(rows: list[dict[str, Any]] | None) -> list[Check]:
    """Checks as read back from the `runs` table's CHECK structs (None: a version from before they were kept)."""
    return [Check(**row) for row in rows or []]
