"""Parse: the texts of feed snapshots -> each one's header date line, and all their records.

The feed's shape (issue #2): a few header lines ending with the date ('Mar 14'), then per paper a
title block and an abstract block, blocks separated by blank lines, in feed-rank order.

Damage is expected (truncated files, lost lines), so blocks are not blindly paired two by two.
A block longer than any title (300 characters) is an abstract, and the short block right before
it is its title: on the real feed every abstract is that long, so a lost line costs only its own
record. Short blocks between two abstracts pair up only where that is certain: an even number of
them whose would-be abstracts end like sentences. Anything else there is a guess, so those blocks
are kept as records flagged `ambiguous`, which the quality gate sets aside with the reason. So a
file cut off inside an abstract keeps that record (flagged truncated) when the cut leaves more
than a title's length of it, which is what the real feed shows; a shorter remnant is set aside.

Many snapshots are parsed at once, as one frame of lines: every rule is a vectorised expression
over lines and blocks, partitioned by file; no Python loop runs per record. Python looks only at
the first few blocks of each file, for its header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from paperfeed.model.prepared import RECORD_SCHEMA

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
_MONTH = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
DATE_LINES = (
    re.compile(rf"(?i)^{_MONTH}\s+{_DAY}{_YEAR}$"),  # Mar 14, Mar 14th, March 14, 2025
    re.compile(rf"(?i)^{_DAY}\s+{_MONTH}{_YEAR}$"),  # 14 Mar, 14 March 2025
)
# An abstract that ends like this was not cut off: sentence end, closing bracket or quote, or a URL.
COMPLETE_ENDING = r"(?:[.!?…)\]\"'”’]|\S*(?:://|www\.)\S*|\S+\.[a-z]{2,}(?:/\S*)?)$"
# White space and invisible format characters (zero-width space, BOM): a line of only these is blank.
_EDGE_SPACE = r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$"
FILE = "file"  # which text of the batch a line, block or record comes from (its position)


@dataclass(frozen=True)
class Header:
    """What a snapshot's header holds; whether that is good enough is the quality gate's call."""

    date_text: str | None
    header_lines: int
    first_line: str | None


@dataclass(frozen=True)
class ParsedSnapshot:
    """One snapshot parsed: its header and its records (RECORD_SCHEMA).

    `records` has a row for every paper position found in the feed, damaged ones included: a
    title whose abstract was lost (abstract null), an abstract whose title was lost (title null),
    or blocks that could not be told apart (ambiguous). Keeping them keeps later ranks true.
    """

    date_text: str | None
    header_lines: int
    first_line: str | None
    records: pl.DataFrame


def match_date(text: str) -> re.Match[str] | None:
    """The date line's parts (month, day, optional year), in either order."""
    return next((m for m in (p.match(text.strip()) for p in DATE_LINES) if m), None)


def parse_snapshot(text: str) -> ParsedSnapshot:
    """One snapshot's text: a batch of one."""
    [header], records = parse_snapshots([text])
    return ParsedSnapshot(header.date_text, header.header_lines, header.first_line, records.drop(FILE))


def parse_snapshots(texts: list[str]) -> tuple[list[Header], pl.DataFrame]:
    """Many snapshots' texts -> each one's header, and all their records (RECORD_SCHEMA plus `file`,
    the text's position in `texts`), in file and feed order."""
    blocks = split_blocks(texts)
    headers, bodies = find_headers(blocks, len(texts))
    return headers, pair_blocks(bodies)


def split_blocks(texts: list[str]) -> pl.DataFrame:
    """Non-blank runs of lines -> one row per block: its file, its text (lines joined by a space),
    its first line number, and its first line and the rest apart (a date line may lose its blank line)."""
    lines = (
        pl.DataFrame({"text": texts}, schema={"text": pl.String})
        .with_row_index(FILE)
        .select(FILE, line=pl.col("text").str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True).str.split("\n"))
        .explode("line")
        .with_columns(line_no=(pl.int_range(pl.len(), dtype=pl.Int64) + 1).over(FILE))
    )
    return (
        lines.with_columns(pl.col("line").str.replace_all(_EDGE_SPACE, ""))
        .with_columns(blank=pl.col("line") == "")
        .with_columns(block=pl.col("blank").cum_sum())
        .filter(~pl.col("blank"))
        .group_by(FILE, "block", maintain_order=True)
        .agg(
            text=pl.col("line").str.join(" "),
            line=pl.col("line_no").first(),
            head=pl.col("line").first(),
            rest=pl.col("line").slice(1).str.join(" "),
        )
        .with_columns(place=pl.int_range(pl.len(), dtype=pl.Int64).over(FILE))
        .select(FILE, "place", "text", "line", "head", "rest")
    )


def find_headers(blocks: pl.DataFrame, n_files: int) -> tuple[list[Header], pl.DataFrame]:
    """Each file's header (the date line among its first blocks), and its body blocks after it."""
    firsts: dict[int, list[tuple[str, str]]] = {}
    for file, text, head in blocks.filter(pl.col("place") < HEADER_MAX_BLOCKS).select(FILE, "text", "head").iter_rows():
        firsts.setdefault(file, []).append((text, head))
    headers, starts = [], []
    for file in range(n_files):
        texts = [text for text, _ in firsts.get(file, [])]
        date_at = next((i for i, text in enumerate(texts) if match_date(text)), None)
        glued = False
        if date_at is None:
            # The blank line after the date was lost: the date is the first line of a longer block.
            date_at = next((i for i, (_, head) in enumerate(firsts.get(file, [])) if match_date(head)), None)
            glued = date_at is not None
        header_lines = sum(1 for text in texts[: date_at if date_at is not None else None] if text in HEADER_MARKERS)
        date_text = firsts[file][date_at][1] if date_at is not None else None
        headers.append(Header(date_text, header_lines, texts[0] if texts else None))
        if date_at is not None:
            starts.append((file, date_at, glued))
    start = pl.DataFrame(starts, schema={FILE: pl.UInt32, "date_at": pl.Int64, "glued": pl.Boolean}, orient="row")
    with_start = blocks.join(start, on=FILE)
    after = with_start.filter(pl.col("place") > pl.col("date_at")).select(FILE, "place", "text", "line")
    rest = with_start.filter(pl.col("glued") & (pl.col("place") == pl.col("date_at"))).select(
        FILE, "place", text="rest", line=pl.col("line") + 1
    )
    return headers, pl.concat([rest, after]).sort(FILE, "place")


def pair_blocks(body: pl.DataFrame) -> pl.DataFrame:
    """Body blocks of any number of files -> records, in file and feed order, damaged and
    ambiguous ones included."""
    seg = [FILE, "seg"]
    is_long = pl.col("text").str.len_chars() > TITLE_MAX_CHARS
    is_last = pl.int_range(pl.len()).over(FILE) == pl.len().over(FILE) - 1
    blocks = (
        body.with_columns(is_long=is_long, is_last=is_last)
        # A segment: the short blocks after one abstract, plus the long abstract that ends it, if any.
        .with_columns(seg=pl.col("is_long").cast(pl.Int64).cum_sum() - pl.col("is_long").cast(pl.Int64))
        .with_columns(
            pos=pl.int_range(pl.len()).over(seg),
            ended=pl.col("is_long").any().over(seg),
            n_short=(~pl.col("is_long")).sum().over(seg).cast(pl.Int64),
        )
        # Shorts to pair among themselves: all of them, except the title of the abstract that ends the segment.
        .with_columns(m=pl.col("n_short") - pl.col("ended").cast(pl.Int64))
        .with_columns(
            in_run=~pl.col("is_long") & (pl.col("pos") < pl.col("m")),
            own_title=~pl.col("is_long") & (pl.col("pos") == pl.col("m")) & pl.col("ended"),
        )
        .with_columns(
            # Inside a run, even places are titles and odd places their short abstracts; a short
            # abstract must end like a sentence. Not even the file's last block is exempt: a short
            # block cut off mid-sentence there is as likely a title that lost its abstract.
            run_role=pl.when(pl.col("pos") % 2 == 0).then(pl.lit("title")).otherwise(pl.lit("abstract")),
            bad_abstract=pl.col("in_run") & (pl.col("pos") % 2 == 1) & ~pl.col("text").str.contains(COMPLETE_ENDING),
        )
        .with_columns(
            ambiguous=pl.col("in_run")
            & (
                pl.col("bad_abstract").any().over(seg)
                # Before an abstract, an odd number of three or more shorts cannot all pair up.
                | (pl.col("ended") & (pl.col("m") % 2 == 1) & (pl.col("m") >= 3))
            )
        )
        .with_columns(
            role=pl.when(pl.col("is_long")).then(pl.lit("abstract"))
            .when(pl.col("own_title") | pl.col("ambiguous")).then(pl.lit("title"))
            .otherwise(pl.col("run_role"))
        )
        .with_columns(
            # A run's last title pairs with nothing: an odd run ends with a lone title.
            pairs_next=(pl.col("role") == "title")
            & ~pl.col("ambiguous")
            & (pl.col("role").shift(-1).over(FILE).fill_null("") == "abstract")
            & ~pl.col("ambiguous").shift(-1).over(FILE).fill_null(False),
        )
        .with_columns(paired=pl.col("pairs_next").shift(1).over(FILE).fill_null(False))
    )
    titled = pl.col("role") == "title"
    orphan = (pl.col("role") == "abstract") & ~pl.col("paired")
    return (
        blocks.with_columns(
            title_raw=pl.when(titled).then(pl.col("text")),
            title_line=pl.when(titled).then(pl.col("line")),
            abstract_raw=pl.when(pl.col("pairs_next")).then(pl.col("text").shift(-1).over(FILE)).when(orphan).then(pl.col("text")),
            abstract_line=pl.when(pl.col("pairs_next")).then(pl.col("line").shift(-1).over(FILE)).when(orphan).then(pl.col("line")),
            ends_file=pl.col("is_last") | (pl.col("pairs_next") & pl.col("is_last").shift(-1).over(FILE).fill_null(False)),
        )
        .filter(titled | orphan)
        .with_columns(
            is_truncated=pl.col("ends_file")
            & (pl.col("abstract_raw").is_null() | ~pl.col("abstract_raw").str.contains(COMPLETE_ENDING)),
            rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(FILE),
            line=pl.coalesce("title_line", "abstract_line"),
        )
        .select(FILE, *RECORD_SCHEMA.names())
        .cast(RECORD_SCHEMA)
    )
