"""Print the README's table reference (section 'Tables') from the table contracts.

    .venv/bin/python scripts/table_docs.py

A unit test of the contracts fails when the README and the contracts disagree.
"""

from __future__ import annotations

from paperfeed.model.contracts import ALL_TABLES, ARRIVALS
from paperfeed.storage.duckdb import sql_type


def main() -> None:
    for table in (*ALL_TABLES, ARRIVALS):
        keys = ", ".join(f"`{k}`" for k in table.key)
        print(f"#### `{table.name}`\n\n{table.meaning} Key: {keys}.\n")
        print("| column | type | meaning |\n|---|---|---|")
        for c in table.columns:
            print(f"| `{c.name}` | {sql_type(c.dtype)} | {c.meaning}{' (may be null)' if c.nullable else ''} |")
        print()


if __name__ == "__main__":
    main()
