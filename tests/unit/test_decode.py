"""Decoding: UTF-8 strictly; other encodings only where they can be told reliably, else refused."""

from __future__ import annotations

import codecs
import random

import pytest

from helpers import SAMPLE_001, feed_text
from paperfeed.prepare.decode import ISO_8859_1, UTF8, UTF8_BOM, UTF16, WINDOWS_1252, DecodeError, decode_snapshot

TEXT = feed_text("Mar 14", [("Café Models for Résumé Parsing", "We study cafés and naïve résumés in detail.")])


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (TEXT.encode("utf-8"), UTF8),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), UTF8_BOM),
        (TEXT.encode("utf-16"), UTF16),  # Python writes a BOM
        (TEXT.encode("latin-1"), ISO_8859_1),
        ((TEXT + " “quoted” – dash").encode("cp1252"), WINDOWS_1252),
        ((TEXT + " « Été » “it works…”—and 5°C in µm").encode("cp1252"), WINDOWS_1252),
    ],
)
def test_known_encodings_decode_to_the_same_text(raw: bytes, encoding: str) -> None:
    text, found = decode_snapshot(raw)
    assert found == encoding
    assert text.startswith(TEXT)


def test_a_real_snapshot_re_encoded_as_latin1_comes_back_exactly() -> None:
    original = SAMPLE_001.read_text(encoding="utf-8")
    assert "Ü" in original
    assert decode_snapshot(original.encode("latin-1")) == (original, ISO_8859_1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty file"),
        (b" \n\n", "only white space"),
        ("Привет мир, это статья".encode("cp1251"), "suggests another encoding"),
        (b"Caf\xc3\xa9 and caf\xe9", "encodings are mixed"),  # UTF-8 and Latin-1 mixed in one file
        (bytes(range(0x80, 0xA0)), "undefined there"),
        (b"abc \xed\xa0\x80 \x81", "undefined there"),  # an encoded surrogate is no UTF-8 text
        ("Michał Łukasz, Wrocław".encode("cp1250"), "symbols inside words"),
        (codecs.BOM_UTF8 + b"caf\xe9", "despite its byte-order mark"),
        (random.Random(7).randbytes(4096), "binary data, not text"),  # described as binary, not as mixed encodings
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", r"binary data, not text: .* \(NUL bytes"),
    ],
)
def test_unreliable_or_undecodable_input_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_snapshot(raw)


def test_the_reason_names_the_first_bad_byte() -> None:
    with pytest.raises(DecodeError, match=r"not valid UTF-8 \(byte 0x81 at offset 4\)"):
        decode_snapshot(b"new \x81\x8d")
