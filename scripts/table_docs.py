"""Print the README's table reference (sections 'Tables' and 'Views') from the contracts.

    .venv/bin/python scripts/table_docs.py

A unit test of the contracts fails when the README and the contracts disagree.
"""

from __future__ import annotations

from paperfeed.model.contracts import ALL_TABLES, ARRIVALS, Column
from paperfeed.model.views import VIEWS
from paperfeed.storage.duckdb import sql_type


def main() -> None:
    for table in (*ALL_TABLES, ARRIVALS):
        keys = ", ".join(f"`{k}`" for k in table.key)
        print(f"#### `{table.name}`\n\n{table.meaning} Key: {keys}.\n")
        columns(table.columns)
    print("### Views\n")
    for view in VIEWS:
        print(f"#### `{view.name}`\n\n{view.meaning}\n")
        columns(view.columns)


def columns(declared: tuple[Column, ...]) -> None:
    print("| column | type | meaning |\n|---|---|---|")
    for c in declared:
        print(f"| `{c.name}` | {sql_type(c.dtype)} | {c.meaning}{' (may be null)' if c.nullable else ''} |")
    print()


if __name__ == "__main__":
    main()
