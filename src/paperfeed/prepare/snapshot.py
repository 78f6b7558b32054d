"""Snapshots from bytes to identified records: decode -> parse -> date -> normalise -> identify.

A pure function of the files' bytes, names and arrival times (and the configured year). It
records facts and never decides: whether a snapshot is rejected, and which records are set aside,
is the quality gate's call (paperfeed.quality), which fills in `verdict` and `quarantined`.

A batch of files is prepared as one frame: parsing, cleaning and identifying run once over all
their records (each distinct text once), not once per file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from paperfeed.model.inputs import RawSnapshot
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.prepare.dates import DateError, resolve_snapshot_date
from paperfeed.prepare.decode import DecodeError, decode_snapshot
from paperfeed.prepare.identify import add_identity
from paperfeed.prepare.normalise import normalise_records
from paperfeed.prepare.parse import FILE, Header, parse_snapshots

# C0 and C1 control characters, except tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
FIRST_LINE_CHARS = 120


def prepare_snapshot(snapshot: RawSnapshot, year: int | None = None) -> PreparedSnapshot:
    """One file: a batch of one."""
    return prepare_snapshots([(snapshot, year)])[0]


def prepare_snapshots(batch: Sequence[tuple[RawSnapshot, int | None]]) -> list[PreparedSnapshot]:
    """Files, each with the --year it is processed with -> their prepared snapshots, in order."""
    prepared, decoded = [], []  # decoded: (position in the batch, text)
    for position, (snapshot, _) in enumerate(batch):
        file = snapshot.file
        base = PreparedSnapshot(snapshot.snapshot_id, file.source_name, file.arrived_at, len(snapshot.raw))
        try:
            text, encoding = decode_snapshot(snapshot.raw)
        except DecodeError as error:
            prepared.append(replace(base, detail=str(error)))
            continue
        prepared.append(replace(base, encoding=encoding, n_chars=len(text), control_chars=len(CONTROL.findall(text))))
        decoded.append((position, text))
    # Records carry `file`: their text's place among the decoded ones.
    headers, records = parse_snapshots([text for _, text in decoded])
    records = identify_repeats(add_identity(normalise_records(records)))
    contents = content_ids(records, headers)
    per_file = records.partition_by(FILE, as_dict=True, include_key=False, maintain_order=True)
    none = records.drop(FILE).clear()
    for k, (position, _) in enumerate(decoded):
        year = batch[position][1]
        prepared[position] = _prepared(prepared[position], headers[k], per_file.get((k,), none), contents[k], year)
    return prepared


def _prepared(base: PreparedSnapshot, header: Header, records: pl.DataFrame, content: str, year: int | None) -> PreparedSnapshot:
    snapshot_date, date_source, detail = None, None, None
    if header.date_text is not None:
        try:
            resolved = resolve_snapshot_date(header.date_text, base.source_name, year, base.arrived_at)
            snapshot_date, date_source = resolved.date, resolved.source
        except DateError as error:
            detail = str(error)
    return replace(
        base,
        detail=detail,
        first_line=header.first_line[:FIRST_LINE_CHARS] if header.first_line else None,
        header_lines=header.header_lines,
        date_text=header.date_text,
        snapshot_date=snapshot_date,
        date_source=date_source,
        content_id=content,
        records=records,
    )


def identify_repeats(records: pl.DataFrame) -> pl.DataFrame:
    """repeat_of_rank: a paper listed twice in one snapshot keeps its first complete listing; a
    damaged listing never displaces it."""
    complete = pl.col("title").is_not_null() & pl.col("abstract").is_not_null() & ~pl.col("ambiguous")
    first_rank = pl.col("rank").filter(complete).first().over(FILE, "paper_id")
    return records.with_columns(
        repeat_of_rank=pl.when(pl.col("paper_id").is_not_null() & complete & (first_rank != pl.col("rank"))).then(first_rank)
    )


def content_ids(records: pl.DataFrame, headers: list[Header]) -> list[str]:
    """Each file's identity by content: equal for the same records however the file was encoded."""
    lines = dict(
        records.group_by(FILE)
        .agg(pl.concat_str(pl.col("title").fill_null(""), pl.col("abstract").fill_null(""), separator="\t").str.join("\n"))
        .iter_rows()
    )
    return [
        hashlib.sha256("\n".join([(h.date_text or "").strip(), *([lines[k]] if k in lines else [])]).encode("utf-8")).hexdigest()
        for k, h in enumerate(headers)
    ]
