"""Mojibake: text that is UTF-8 read as Windows-1252 or Latin-1 ('CafÃ©' for 'Café'). Pure."""

from __future__ import annotations

import re

import polars as pl

from paperfeed.prepare.identify import map_distinct

# The characters Windows-1252 shows for the bytes 0x80-0xFF, and Latin-1's C1 controls: what the
# bytes of UTF-8 text turn into when the text is read in one of those encodings.
_CP1252_HIGH = "".join(bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0x100))
_HIGH_RUN = re.compile("[" + re.escape(_CP1252_HIGH) + "\x80-\x9f]{2,}")
_NOT_ASCII = r"[^\x00-\x7f]"


def mojibake(text: str) -> str | None:
    """The first stretch of `text` that is UTF-8 read as Windows-1252 or Latin-1 ('CafÃ©' for
    'Café', 'ÐžÐ±' for 'Об'), or a replacement character; None for clean text."""
    if "\ufffd" in text:
        return "\ufffd"
    for run in _HIGH_RUN.finditer(text):
        stretch = run.group()
        for start in range(len(stretch) - 1):
            for width in (2, 3, 4):
                piece = stretch[start : start + width]
                if len(piece) < width:
                    break
                for codec in ("cp1252", "latin-1"):
                    try:
                        if len(piece.encode(codec).decode("utf-8")) == 1:
                            return piece
                    except UnicodeError:
                        continue
    return None


def with_mojibake_checks(frame: pl.DataFrame) -> pl.DataFrame:
    """check_mojibake_title / _abstract: the mojibake found in the raw texts, else null. Checked on
    the raw text, so that text paperfeed itself writes (LaTeX turned into 'Â·') cannot trip it."""
    for field in ("title", "abstract"):
        # Only text with a non-ASCII character can hold mojibake: the Python check runs on those
        # distinct values alone, and the rows keep their order (positions are what a gate reports).
        raw = f"{field}_raw"
        frame = map_distinct(frame, raw, f"check_mojibake_{field}", mojibake, only=pl.col(raw).str.contains(_NOT_ASCII))
    return frame
