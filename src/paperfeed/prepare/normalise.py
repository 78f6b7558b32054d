"""Normalise: raw title and abstract -> clean text and links, keeping the raw text beside them.

Clean text is Unicode NFC, LaTeX resolved to Unicode, white space collapsed to single spaces.
"""

from __future__ import annotations

import polars as pl

from paperfeed.prepare.latex import resolve_latex
from paperfeed.prepare.links import extract_links


def clean_text(frame: pl.DataFrame, raw: str, clean: str) -> pl.DataFrame:
    frame = resolve_latex(frame.with_columns(pl.col(raw).str.normalize("NFC").alias(clean)), clean)
    # LaTeX accents may come out decomposed, hence NFC once more after the conversion.
    return frame.with_columns(
        pl.col(clean).str.normalize("NFC").str.replace_all(r"\s+", " ").str.strip_chars()
    )


def normalise_records(records: pl.DataFrame) -> pl.DataFrame:
    """Parsed records -> the same rows with `title`, `abstract` and `links` added."""
    cleaned = clean_text(clean_text(records, "title_raw", "title"), "abstract_raw", "abstract")
    return cleaned.with_columns(links=extract_links(pl.col("abstract")).fill_null([]))
