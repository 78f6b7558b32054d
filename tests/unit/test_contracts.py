"""Table contracts are the one source of truth: the README documents them, writers conform to them."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from paperfeed.contracts import ALL_TABLES, SNAPSHOTS, Column, ContractError, TableContract

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_readme_documents_every_column_of_every_table(table: TableContract) -> None:
    text = README.read_text(encoding="utf-8")
    section = re.search(rf"#### `{table.name}`\n(.*?)(?=\n#|\Z)", text, re.S)
    assert section, f"README has no section for table {table.name}"
    documented = re.findall(r"^\| `(\w+)` \|", section.group(1), re.M)
    assert documented == table.column_names


def test_conform_orders_and_casts_columns_and_refuses_missing_ones() -> None:
    frame = pl.DataFrame({"b": [1], "a": ["x"]})
    contract = TableContract("t", "test", ("a",), (Column("a", pl.String, ""), Column("b", pl.Int32, "")))
    assert contract.conform(frame).schema == pl.Schema({"a": pl.String, "b": pl.Int32})
    with pytest.raises(ContractError, match="missing columns \\['snapshot_id'"):
        SNAPSHOTS.conform(frame)
