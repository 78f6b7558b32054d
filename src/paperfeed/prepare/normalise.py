"""Normalise: raw title and abstract -> clean text and links, keeping the raw text beside them.

Clean text is Unicode NFC, LaTeX resolved to Unicode, white space collapsed to single spaces.
Each distinct text is cleaned once, however often papers recur in the batch, and Unicode
normalisation touches only the texts that are not plain ASCII (ASCII is NFC already).
"""

from __future__ import annotations

import polars as pl

from paperfeed.prepare.latex import latex_to_unicode
from paperfeed.prepare.links import extract_links

_NOT_ASCII = r"[^\x00-\x7f]"


def clean_texts(raw: pl.Series) -> pl.Series:
    """Texts -> their clean form (same length and order; null stays null)."""
    text = nfc(raw)
    # LaTeX: only texts holding a backslash; accents may come out decomposed, hence NFC once more.
    latex = text.str.contains("\\", literal=True).fill_null(False)
    if latex.any():
        converted = nfc(pl.Series([latex_to_unicode(t) for t in text.filter(latex)], dtype=pl.String))
        text = text.clone().scatter(latex.arg_true(), converted)
    # White space collapsed: runs of two or more, and any single one that is not a plain space.
    return text.str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()


def nfc(text: pl.Series) -> pl.Series:
    wide = text.str.contains(_NOT_ASCII).fill_null(False)
    # scatter writes in place: on a copy, never on the caller's series
    return text.clone().scatter(wide.arg_true(), text.filter(wide).str.normalize("NFC")) if wide.any() else text


def normalise_records(records: pl.DataFrame) -> pl.DataFrame:
    """Parsed records -> the same rows with `title`, `abstract` and `links` added."""
    for raw, clean in (("title_raw", "title"), ("abstract_raw", "abstract")):
        distinct = records[raw].drop_nulls().unique()
        cleaned = pl.DataFrame({raw: distinct, clean: clean_texts(distinct)})
        records = records.join(cleaned, on=raw, how="left", maintain_order="left")
    distinct = records["abstract"].drop_nulls().unique()
    links = pl.DataFrame({"abstract": distinct}).with_columns(links=extract_links(pl.col("abstract")))
    return records.join(links, on="abstract", how="left", maintain_order="left").with_columns(pl.col("links").fill_null([]))
