"""Identify: which paper a record is, which abstract it carries, and which content a snapshot has.

Identity comes from text alone (the feed has no arXiv ids): a title key folds case (casefold),
compatibility forms (NFKC), punctuation and spacing, and is hashed with sha256. Polars' own hash
is never used for ids: it is not stable across processes or versions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import polars as pl

ID_LENGTH = 16  # hex digits: 64 bits, no collision expected below ~10^8 papers
_NOT_WORD = re.compile(r"[\W_]+")


def stable_hash(text: str, length: int = ID_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def title_key(title: str) -> str:
    """'The  Title.' / 'the title' / 'The\u00a0Title' -> 'the title'."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", title).casefold())
    return _NOT_WORD.sub(" ", folded).strip()


def map_distinct(frame: pl.DataFrame, source: str, target: str, function: object, only: pl.Expr | None = None) -> pl.DataFrame:
    """Add `target` = function(source), calling the Python function once per distinct value; given
    `only` (an expression on `source`), on the values it holds for alone, the others null. The
    rows keep their order."""
    values = frame[source].drop_nulls().unique()
    if only is not None:
        values = values.to_frame().filter(only).to_series()
    mapping = {value: function(value) for value in values.to_list()}  # type: ignore[operator]
    return frame.with_columns(pl.col(source).replace_strict(mapping, default=None, return_dtype=pl.String).alias(target))


def add_identity(records: pl.DataFrame) -> pl.DataFrame:
    """Normalised records -> + title_key, paper_id, abstract_hash."""
    keyed = map_distinct(records, "title", "title_key", title_key)
    identified = map_distinct(keyed, "title_key", "paper_id", stable_hash)
    return map_distinct(identified, "abstract", "abstract_hash", stable_hash)


def content_id(date_text: str, records: pl.DataFrame) -> str:
    """A snapshot's identity by content: equal for the same records however the file was encoded."""
    lines = records.select(
        pl.concat_str(pl.col("title").fill_null(""), pl.col("abstract").fill_null(""), separator="\t")
    ).to_series()
    return hashlib.sha256("\n".join([date_text.strip(), *lines.to_list()]).encode("utf-8")).hexdigest()
