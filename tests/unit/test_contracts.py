"""Table and view contracts are the one source of truth: the README documents them, writers conform to them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from paperfeed.model.contracts import ALL_TABLES, ARRIVALS, SNAPSHOTS, Column, ContractError, TableContract
from paperfeed.model.views import VIEWS, ViewContract
from paperfeed.quality.gx import suites_dir

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize("table", (*ALL_TABLES, ARRIVALS, *VIEWS), ids=lambda t: t.name)
def test_readme_documents_every_column_of_every_table_and_view(table: TableContract | ViewContract) -> None:
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


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_every_published_table_has_a_quality_suite_that_names_real_columns(table: TableContract) -> None:
    path = suites_dir() / f"{table.name}.json"
    assert path.is_file(), f"published table {table.name!r} has no suite at {path}"
    suite = json.loads(path.read_text(encoding="utf-8"))
    assert suite["name"] == table.name and suite["expectations"]
    for expectation in suite["expectations"]:
        for key in ("column", "column_A", "column_B"):
            column = expectation["kwargs"].get(key)
            # Cross-table rules use check_* columns that paperfeed.quality.checks adds beside the table's own.
            assert column is None or column in table.column_names or column.startswith("check_"), column
        assert expectation.get("description"), f"{table.name}: every expectation says in words what it checks"
