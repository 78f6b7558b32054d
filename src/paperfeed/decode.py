"""Decode: a snapshot's raw bytes -> text. UTF-8 strictly; a byte-order mark is allowed and noted."""

from __future__ import annotations

import codecs

UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"


class DecodeError(ValueError):
    """The bytes are not text this pipeline reads; the message says why in words."""


def decode_snapshot(raw: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise DecodeError naming the first bad byte."""
    if not raw.strip():
        raise DecodeError("empty file" if not raw else "file holds only white space")
    encoding = UTF8_BOM if raw.startswith(codecs.BOM_UTF8) else UTF8
    try:
        text = raw.decode(encoding, errors="strict")
    except UnicodeDecodeError as error:
        bad = raw[error.start : error.start + 1].hex()
        raise DecodeError(f"not valid UTF-8: byte 0x{bad} at offset {error.start} ({error.reason})") from None
    return text, encoding
