"""Content fingerprints: one value per table that ignores row order and run bookkeeping columns.

Two warehouses with the same data have the same fingerprints, whenever and however they were
built (incrementally, or rebuilt from the raw archive). A fingerprint is the sum, modulo 2^128, of
each row's hash (the first 128 bits of the sha256 of the row as JSON, its volatile columns left
out): adding rows adds their hashes and removing rows subtracts them, so a run updates a table's
fingerprint from the rows it changes alone, and `verify` recomputes it from the whole table.

Fingerprints written before this scheme (the sha256 of the sorted rows, without the `sum:` prefix)
are still checked the way they were made.
"""

from __future__ import annotations

import hashlib

import polars as pl

from paperfeed.model.contracts import TableContract

SCHEME = "sum:"
MODULUS = 1 << 128


def _rows(frame: pl.DataFrame, contract: TableContract) -> list[str]:
    columns = contract.fingerprinted
    return contract.conform(frame).select(pl.struct(columns).struct.json_encode())[:, 0].to_list()


def row_sum(frame: pl.DataFrame, contract: TableContract) -> int:
    """The sum of the rows' hashes, modulo 2^128."""
    return sum(int.from_bytes(hashlib.sha256(row.encode("utf-8")).digest()[:16], "big") for row in _rows(frame, contract)) % MODULUS


def fingerprint(frame: pl.DataFrame, contract: TableContract) -> str:
    return _format(row_sum(frame, contract))


def updated(previous: str, added: pl.DataFrame, removed: pl.DataFrame, contract: TableContract) -> str:
    """The fingerprint after `removed` rows left a table whose fingerprint was `previous` and `added` came."""
    total = _value(previous) + row_sum(added, contract) - row_sum(removed, contract)
    return _format(total % MODULUS)


def is_current_scheme(digest: str) -> bool:
    return digest.startswith(SCHEME)


def matches(digest: str, frame: pl.DataFrame, contract: TableContract) -> bool:
    """Whether `frame` has the fingerprint `digest`, in whichever scheme `digest` was made."""
    if is_current_scheme(digest):
        return fingerprint(frame, contract) == digest
    return legacy_fingerprint(frame, contract) == digest


def legacy_fingerprint(frame: pl.DataFrame, contract: TableContract) -> str:
    """The fingerprint of paperfeed before sums: the sha256 of the sorted rows."""
    rows = sorted(_rows(frame, contract))
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def _format(value: int) -> str:
    return f"{SCHEME}{value:032x}"


def _value(digest: str) -> int:
    if not is_current_scheme(digest):
        raise ValueError(f"not a summed fingerprint: {digest!r}")
    return int(digest.removeprefix(SCHEME), 16)
