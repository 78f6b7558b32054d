"""Parse: the text of one feed snapshot -> its header date line and its records, as frames.

The feed's shape (issue #2): a few header lines ending with the date ('Mar 14'), then per paper a
title block and an abstract block, blocks separated by blank lines, in feed-rank order.

Damage is expected (truncated files, lost lines), so blocks are not simply paired two by two:
a block longer than any title is always an abstract, and the short blocks before it are paired
backwards from it. A lost line therefore costs at most its own record, never its neighbours.
Everything is vectorised over lines and blocks; no Python loop runs per record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

# Longest title seen on the real feed is 148 characters; the shortest abstract is 1,356.
TITLE_MAX_CHARS = 300
# The header is five blocks; the date is looked for among the first few.
HEADER_MAX_BLOCKS = 6
HEADER_MARKERS = (
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DATE_LINE = re.compile(
    r"(?i)^(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<day>\d{1,2})(?:(?:st|nd|rd|th)?,?\s+(?P<year>\d{4}))?$"
)
# An abstract that ends like this was not cut off: sentence end, closing bracket or quote, or a URL.
COMPLETE_ENDING = r"(?:[.!?…)\]\"'”’]|\S*(?:://|www\.)\S*|\S+\.[a-z]{2,}(?:/\S*)?)$"

RECORD_SCHEMA = pl.Schema(
    {
        "rank": pl.Int64,
        "title_raw": pl.String,
        "abstract_raw": pl.String,
        "title_line": pl.Int64,
        "abstract_line": pl.Int64,
        "is_truncated": pl.Boolean,
        "problem": pl.String,
    }
)
DAMAGED_SCHEMA = pl.Schema({"line": pl.Int64, "text": pl.String, "problem": pl.String})


@dataclass(frozen=True)
class ParsedSnapshot:
    """One snapshot's text, parsed. `problems` are snapshot-level faults that reject it."""

    date_text: str | None
    records: pl.DataFrame
    damaged: pl.DataFrame
    problems: tuple[str, ...] = field(default=())


def split_blocks(text: str) -> pl.DataFrame:
    """Non-blank runs of lines -> one row per block: text (lines joined by a space), first line."""
    lines = pl.DataFrame(
        {"line": text.replace("\r\n", "\n").replace("\r", "\n").split("\n")},
        schema={"line": pl.String},
    ).with_row_index("line_no", offset=1)
    return (
        lines.with_columns(pl.col("line").str.strip_chars(), pl.col("line_no").cast(pl.Int64))
        .with_columns(blank=pl.col("line") == "")
        .with_columns(block=pl.col("blank").cum_sum())
        .filter(~pl.col("blank"))
        .group_by("block", maintain_order=True)
        .agg(text=pl.col("line").str.join(" "), line=pl.col("line_no").first())
        .select("text", "line")
    )


def parse_snapshot(text: str) -> ParsedSnapshot:
    """Find the header's date line and pair the blocks after it into records."""
    blocks = split_blocks(text)
    head = blocks.head(HEADER_MAX_BLOCKS)["text"].to_list()
    date_at = next((i for i, block in enumerate(head) if DATE_LINE.match(block)), None)
    problems: list[str] = []
    if date_at is None:
        if any(block in HEADER_MARKERS for block in head):
            problems.append(f"the header has no date line (like 'Mar 14') in its first {HEADER_MAX_BLOCKS} blocks")
        else:
            problems.append(
                f"not a feed snapshot: no header line ({', '.join(repr(m) for m in HEADER_MARKERS)}) "
                f"and no date line in the first {HEADER_MAX_BLOCKS} blocks"
            )
        return ParsedSnapshot(None, pl.DataFrame(schema=RECORD_SCHEMA), pl.DataFrame(schema=DAMAGED_SCHEMA), tuple(problems))
    records, damaged = pair_blocks(blocks.slice(date_at + 1))
    if records.is_empty():
        problems.append("no records after the header")
    return ParsedSnapshot(head[date_at], records, damaged, tuple(problems))


def pair_blocks(body: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Body blocks -> (records, damaged blocks that belong to no record)."""
    is_long = pl.col("text").str.len_chars() > TITLE_MAX_CHARS
    roles = (
        body.with_columns(is_long=is_long)
        # A segment is a run of short blocks plus the long block that ends it, if any.
        .with_columns(seg=pl.col("is_long").cast(pl.Int64).cum_sum() - pl.col("is_long").cast(pl.Int64))
        .with_columns(
            pos=pl.int_range(pl.len()).over("seg"),
            n_short=(~pl.col("is_long")).sum().over("seg"),
            ended=pl.col("is_long").any().over("seg"),
        )
        .with_columns(
            # Short blocks before a long abstract pair backwards from it (the one right before it
            # is its title); a trailing run with no long block pairs forwards.
            parity_title=pl.when(pl.col("ended"))
            .then((pl.col("n_short") - 1 - pl.col("pos")) % 2 == 0)
            .otherwise(pl.col("pos") % 2 == 0)
        )
        .with_columns(
            role=pl.when(pl.col("is_long")).then(pl.lit("abstract"))
            .when(pl.col("parity_title")).then(pl.lit("title"))
            .otherwise(pl.lit("abstract"))
        )
        # A short "abstract" with no title before it is more likely a title that lost its abstract.
        .with_columns(
            role=pl.when(
                (pl.col("role") == "abstract")
                & ~pl.col("is_long")
                & (pl.col("role").shift(1).fill_null("") != "title")
            )
            .then(pl.lit("title"))
            .otherwise(pl.col("role"))
        )
        .with_columns(
            next_is_abstract=pl.col("role").shift(-1).fill_null("") == "abstract",
            prev_is_title=pl.col("role").shift(1).fill_null("") == "title",
            is_last=pl.int_range(pl.len()) == pl.len() - 1,
        )
    )
    records = (
        roles.with_columns(
            abstract_raw=pl.when(pl.col("next_is_abstract")).then(pl.col("text").shift(-1)),
            abstract_line=pl.when(pl.col("next_is_abstract")).then(pl.col("line").shift(-1)),
            ends_file=pl.col("is_last") | (pl.col("next_is_abstract") & pl.col("is_last").shift(-1).fill_null(False)),
        )
        .filter(pl.col("role") == "title")
        .with_columns(
            is_truncated=pl.col("ends_file")
            & (pl.col("abstract_raw").is_null() | ~pl.col("abstract_raw").str.contains(COMPLETE_ENDING)),
            problem=pl.when(pl.col("abstract_raw").is_null()).then(pl.lit("title without an abstract")),
        )
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
        .select(
            "rank",
            title_raw="text",
            abstract_raw="abstract_raw",
            title_line="line",
            abstract_line="abstract_line",
            is_truncated="is_truncated",
            problem="problem",
        )
    )
    damaged = roles.filter((pl.col("role") == "abstract") & ~pl.col("prev_is_title")).select(
        "line", "text", problem=pl.lit("abstract without a title")
    )
    return records.cast(RECORD_SCHEMA), damaged.cast(DAMAGED_SCHEMA)
