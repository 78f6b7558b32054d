"""A snapshot on its way through a run: the facts preparing it found, and the gate's verdict.

Preparing (paperfeed.prepare) fills in the facts and never decides; the quality gate
(paperfeed.quality) fills in `verdict` and `quarantined`; curation reads both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

# The records parsed from one snapshot, in feed order, damaged ones included: a title whose
# abstract was lost (abstract null), an abstract whose title was lost (title null), or blocks that
# could not be told apart (ambiguous). Keeping them keeps later ranks true.
RECORD_SCHEMA = pl.Schema(
    {
        "rank": pl.Int64,
        "line": pl.Int64,
        "title_raw": pl.String,
        "abstract_raw": pl.String,
        "title_line": pl.Int64,
        "abstract_line": pl.Int64,
        "is_truncated": pl.Boolean,
        "ambiguous": pl.Boolean,
    }
)


@dataclass(frozen=True)
class Verdict:
    """Why the quality gate set a snapshot or a record aside."""

    reason: str
    failed_expectations: list[str]
    observed_values: list[str]


@dataclass(frozen=True)
class PreparedSnapshot:
    snapshot_id: str
    source_name: str
    arrived_at: dt.datetime
    n_bytes: int
    encoding: str | None = None
    detail: str | None = None  # why decoding or dating failed, in words
    n_chars: int = 0
    control_chars: int = 0
    first_line: str | None = None
    header_lines: int = 0
    date_text: str | None = None
    snapshot_date: dt.date | None = None
    date_source: str | None = None
    content_id: str | None = None
    # The parsed records (RECORD_SCHEMA), normalised and identified: + title, abstract, links,
    # title_key, paper_id, abstract_hash, repeat_of_rank.
    records: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORD_SCHEMA))
    # Filled in by the quality gate:
    verdict: Verdict | None = None
    quarantined: pl.DataFrame | None = None

    @property
    def rejected(self) -> bool:
        return self.verdict is not None
