"""Decode: a snapshot's raw bytes -> text, and the name of the encoding that was used.

UTF-8 is decoded strictly (a BOM is allowed). Anything else is accepted only where the encoding
can be told reliably: UTF-16 by its BOM, or Windows-1252 / ISO-8859-1 when the bytes that are not
ASCII decode to Latin letters standing among ASCII text. General-purpose detectors were tried and
are not reliable on this feed: charset_normalizer calls a Latin-1 copy of a real snapshot 'big5'.
Everything else is refused with the reason, so mojibake is never published.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

UTF8 = "utf-8"
UTF8_BOM = "utf-8 (BOM)"
UTF16 = "utf-16 (BOM)"
WINDOWS_1252 = "windows-1252"
ISO_8859_1 = "iso-8859-1"

# Non-letters a Western single-byte text may carry: typographic quotes, dashes, symbols.
WESTERN_PUNCTUATION = set("\u00a0’‘“”„–—…•°±×÷·«»§¶©®™€£¥¢¿¡²³¹½¼¾µ")
# Three non-ASCII letters in a row are rare in Western languages and common when Cyrillic, Greek
# or CJK bytes are read as Windows-1252 ('Ïðèâåò').
FOREIGN_RUN = re.compile(r"(?:(?![\x00-\x7f])[^\W\d_]){3,}")
# A symbol touching a letter ('Micha³', '£ukasz'): Central European text (Windows-1250) read as
# Windows-1252. Not '°', 'µ', '·' or '¿', which touch letters in Western text too ('5°C', 'µm').
SYMBOL_IN_WORD = re.compile(r"(?<=[^\W\d_])[£¥¢¤§©®±¹²³¼½¾×÷¦¨¬¯´¸ªº]|[£¥¢¤§©®±¹²³¼½¾×÷¦¨¬¯´¸ªº](?=[^\W\d_])")
# A well-formed UTF-8 multi-byte sequence in a file that is not UTF-8: two encodings mixed.
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# Bytes no text holds: C0 controls other than tab, line and form feed, carriage return; and DEL.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# A file that is not UTF-8 and has a NUL byte or more control bytes than this share is binary
# data (an image, an archive, random bytes), not text in another encoding: random bytes have 11%.
BINARY_SHARE = 0.02


class DecodeError(ValueError):
    """The bytes are not text this pipeline can read reliably; the message says why in words."""


def decode_snapshot(raw: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise DecodeError."""
    if not raw.strip():
        raise DecodeError("empty file" if not raw else "file holds only white space")
    if raw.startswith(codecs.BOM_UTF8):
        return _strict(raw[len(codecs.BOM_UTF8) :], "utf-8"), UTF8_BOM
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(raw, "utf-16"), UTF16
    try:
        return raw.decode("utf-8", errors="strict"), UTF8
    except UnicodeDecodeError as error:
        not_utf8 = f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at offset {error.start})"
    controls = len(CONTROL_BYTES.findall(raw))
    if b"\x00" in raw or controls > BINARY_SHARE * len(raw):
        raise DecodeError(
            f"binary data, not text: {not_utf8}, and {controls / len(raw):.0%} of its bytes are control codes"
            + (" (NUL bytes: or UTF-16 without a byte-order mark)" if b"\x00" in raw else "")
        )
    return _western(raw, not_utf8)


def _strict(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding, errors="strict")
    except UnicodeDecodeError as error:
        raise DecodeError(
            f"not valid {encoding.upper()} despite its byte-order mark (byte 0x{raw[error.start]:02x} "
            f"at offset {error.start})"
        ) from None


def _western(raw: bytes, not_utf8: str) -> tuple[str, str]:
    for sequence in UTF8_SEQUENCE.finditer(raw):
        # Only a Latin letter or common punctuation counts: Windows-1252 bytes like 'é »' happen to
        # form UTF-8 for a CJK character, which no Western text holds. The pattern also matches
        # byte runs that are not UTF-8 at all (encoded surrogates, say): those say nothing.
        try:
            char = sequence.group().decode("utf-8")
        except UnicodeDecodeError:
            continue
        if (unicodedata.category(char).startswith("L") and char <= "\u024f") or "\u2010" <= char <= "\u201f" or "\u00a0" <= char <= "\u00bf":
            raise DecodeError(f"{not_utf8}, yet it holds UTF-8 text at offset {sequence.start()}: encodings are mixed")
    try:
        text = raw.decode("cp1252", errors="strict")
    except UnicodeDecodeError as error:
        raise DecodeError(f"{not_utf8}, nor Windows-1252 (byte 0x{raw[error.start]:02x} is undefined there)") from None
    odd = sorted({c for c in text if ord(c) > 0x7F and not _western_char(c)})
    if odd:
        shown = "".join(odd[:8])
        raise DecodeError(f"{not_utf8}; read as Windows-1252 it holds characters that are not text: {shown!r}")
    in_word = SYMBOL_IN_WORD.search(text)
    if in_word:
        context = text[max(0, in_word.start() - 6) : in_word.end() + 6]
        raise DecodeError(
            f"{not_utf8}; read as Windows-1252 it has symbols inside words, like {context!r}, "
            "which suggests another encoding (Central European?)"
        )
    foreign = FOREIGN_RUN.search(text)
    if foreign:
        raise DecodeError(
            f"{not_utf8}; read as Windows-1252 it holds runs like {foreign.group(0)[:12]!r}, "
            "which suggests another encoding"
        )
    return text, WINDOWS_1252 if any(0x80 <= b <= 0x9F for b in raw) else ISO_8859_1


def _western_char(char: str) -> bool:
    return unicodedata.category(char).startswith("L") or char in WESTERN_PUNCTUATION
