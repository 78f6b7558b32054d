"""The quality gate's two moments in a run, whatever engine validates the suites:

- before anything is written: the `snapshot` suite rejects bad files, the `records` suite sets
  bad records aside (the rest of their snapshot is kept);
- before publishing: every table's suite, blocking; a failure publishes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Protocol

import polars as pl

from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.tables import Tables
from paperfeed.quality.findings import Check, Failure, SuiteReport, apply_record_gate, apply_snapshot_gate
from paperfeed.quality.frames import RECORDS_SUITE, SNAPSHOT_SUITE, publish_frames, record_rows, snapshot_profiles
from paperfeed.storage.faults import crash_point


class PublishBlocked(RuntimeError):
    """The publish gate failed: nothing was published, the previous version stays current."""


class Gate(Protocol):
    """What validates a frame against a suite of expectations (Great Expectations: quality/gx.py)."""

    def validate(self, suite: str, frame: pl.DataFrame, all_rows: bool = True) -> SuiteReport:
        """Every expectation of `suite` against `frame`; with `all_rows`, every failing row of a
        failed row-level expectation, otherwise the first few and how many."""
        ...


@dataclass(frozen=True)
class PublishCheck:
    """The publish gate's outcome: the failures in words ('' when all passed) and every check."""

    failures: str
    checks: list[Check]


def check_snapshots(gate: Gate, snapshots: list[PreparedSnapshot]) -> list[PreparedSnapshot]:
    """The gate before anything is written: reject bad files, set bad records aside."""
    if not snapshots:
        return []
    profiles = snapshot_profiles(snapshots)
    checked = apply_snapshot_gate(snapshots, gate.validate(SNAPSHOT_SUITE, profiles), profiles)
    crash_point("after_snapshot_gate")
    candidates = [s for s in checked if not s.rejected]
    if not candidates:
        return checked
    # One frame and one validation for all records of the batch (one report), split back per snapshot.
    rows = record_rows(candidates)
    report = gate.validate(RECORDS_SUITE, rows)
    gated: dict[str, PreparedSnapshot] = {}
    offset = 0
    for snap in candidates:
        height = snap.records.height
        part = replace(report, failures=[_shift(f, offset, height) for f in report.failures])
        gated[snap.snapshot_id] = apply_record_gate(snap, part, rows.slice(offset, height))
        offset += height
    crash_point("after_record_gate")
    return [gated.get(s.snapshot_id, s) for s in checked]


def _shift(failure: Failure, offset: int, height: int) -> Failure:
    if failure.rows is None:
        return failure
    return replace(failure, rows=[r - offset for r in failure.rows if offset <= r < offset + height])


def check_publish(
    gate: Gate, tables: Tables, runs: pl.DataFrame | None, snapshots: pl.DataFrame | None = None, referenced: Collection[str] = ()
) -> PublishCheck:
    """Validate the rows about to be published (see publish_frames), and the runs table with the
    row that would publish them (unless `runs` is None)."""
    lines, checks = [], []
    for suite, frame in publish_frames(tables, runs, snapshots, referenced).items():
        report = gate.validate(suite, frame, all_rows=False)
        checks += report.checks
        if not report.success:
            lines.append(report.summary(frame))
    return PublishCheck("\n".join(lines), checks)
