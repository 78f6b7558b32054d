"""One snapshot from bytes to identified records: decode -> parse -> date -> normalise -> identify.

A pure function of the file's bytes, name and arrival time (and the configured year). It records
facts and never decides: whether the snapshot is rejected, and which records are set aside, is
the quality gate's call (paperfeed.check), which fills in `verdict` and `quarantined`.
"""

from __future__ import annotations

import re
from dataclasses import replace

import polars as pl

from paperfeed.model.inputs import RawSnapshot
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.prepare.dates import DateError, resolve_snapshot_date
from paperfeed.prepare.decode import DecodeError, decode_snapshot
from paperfeed.prepare.identify import add_identity, content_id
from paperfeed.prepare.normalise import normalise_records
from paperfeed.prepare.parse import parse_snapshot

# C0 and C1 control characters, except tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
FIRST_LINE_CHARS = 120


def prepare_snapshot(snapshot: RawSnapshot, year: int | None = None) -> PreparedSnapshot:
    file = snapshot.file
    base = PreparedSnapshot(snapshot.snapshot_id, file.source_name, file.arrived_at, len(snapshot.raw))
    try:
        text, encoding = decode_snapshot(snapshot.raw)
    except DecodeError as error:
        return replace(base, detail=str(error))
    parsed = parse_snapshot(text)
    snapshot_date, date_source, detail = None, None, None
    if parsed.date_text is not None:
        try:
            resolved = resolve_snapshot_date(parsed.date_text, file.source_name, year, file.arrived_at)
            snapshot_date, date_source = resolved.date, resolved.source
        except DateError as error:
            detail = str(error)
    records = add_identity(normalise_records(parsed.records))
    # A paper listed twice keeps its first complete listing; a damaged listing never displaces it.
    complete = pl.col("title").is_not_null() & pl.col("abstract").is_not_null() & ~pl.col("ambiguous")
    first_rank = pl.col("rank").filter(complete).first().over("paper_id")
    records = records.with_columns(
        repeat_of_rank=pl.when(pl.col("paper_id").is_not_null() & complete & (first_rank != pl.col("rank"))).then(
            first_rank
        )
    )
    return replace(
        base,
        encoding=encoding,
        detail=detail,
        n_chars=len(text),
        control_chars=len(CONTROL.findall(text)),
        first_line=parsed.first_line[:FIRST_LINE_CHARS] if parsed.first_line else None,
        header_lines=parsed.header_lines,
        date_text=parsed.date_text,
        snapshot_date=snapshot_date,
        date_source=date_source,
        content_id=content_id(parsed.date_text or "", records),
        records=records,
    )
