"""One snapshot from bytes to identified records: decode -> parse -> date -> normalise -> identify.

A pure function of the file's bytes, name and arrival time (and the configured year). Faults are
collected, never raised: snapshot-level ones (`problems`) reject the snapshot, record-level ones
(`faults`) set that record aside and keep the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import polars as pl

from paperfeed.dates import DateError, resolve_snapshot_date
from paperfeed.decode import DecodeError, decode_snapshot
from paperfeed.identify import add_identity, content_id
from paperfeed.landing_io import RawSnapshot
from paperfeed.normalise import normalise_records
from paperfeed.parse import parse_snapshot

FAULT_SCHEMA = pl.Schema({"line": pl.Int64, "rank": pl.Int64, "text": pl.String, "problem": pl.String})


@dataclass(frozen=True)
class PreparedSnapshot:
    snapshot_id: str
    source_name: str
    arrived_at: dt.datetime
    n_bytes: int
    encoding: str | None = None
    date_text: str | None = None
    snapshot_date: dt.date | None = None
    date_source: str | None = None
    content_id: str | None = None
    records: pl.DataFrame = field(default_factory=pl.DataFrame)
    faults: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FAULT_SCHEMA))
    problems: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return bool(self.problems)


def prepare_snapshot(snapshot: RawSnapshot, year: int | None = None) -> PreparedSnapshot:
    file = snapshot.file
    base = PreparedSnapshot(snapshot.snapshot_id, file.source_name, file.arrived_at, len(snapshot.raw))
    try:
        text, encoding = decode_snapshot(snapshot.raw)
    except DecodeError as error:
        return replace(base, problems=(str(error),))
    parsed = parse_snapshot(text)
    base = replace(base, encoding=encoding, date_text=parsed.date_text)
    if parsed.date_text is None or parsed.problems:
        return replace(base, problems=parsed.problems)
    try:
        resolved = resolve_snapshot_date(parsed.date_text, file.source_name, year, file.arrived_at)
    except DateError as error:
        return replace(base, problems=(str(error),))
    records = add_identity(normalise_records(parsed.records))
    repeated = pl.col("paper_id").is_duplicated() & (pl.int_range(pl.len()).over("paper_id") > 0)
    records = records.with_columns(
        problem=pl.when(pl.col("problem").is_null() & repeated)
        .then(pl.lit("repeats a paper already listed higher in the same snapshot"))
        .otherwise(pl.col("problem"))
    )
    faults = pl.concat(
        [
            records.filter(pl.col("problem").is_not_null()).select(
                line="title_line", rank="rank", text="title_raw", problem="problem"
            ),
            parsed.damaged.select("line", pl.lit(None, pl.Int64).alias("rank"), "text", "problem"),
        ]
    ).cast(FAULT_SCHEMA)
    return replace(
        base,
        snapshot_date=resolved.date,
        date_source=resolved.source,
        content_id=content_id(parsed.date_text, records),
        records=records.filter(pl.col("problem").is_null()).drop("problem"),
        faults=faults,
    )

