"""A release's parts (weeks) as date ranges: the filter a table scan can skip files with selects
exactly the rows `part` puts in those parts, across year ends, ISO week 53 and null dates; and a
manifest's text reads back as the document it was written from."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.model.contracts import APPEARANCES, SNAPSHOTS
from paperfeed.publish.release import UNDATED, WHOLE, part, parts_filter

DATES = pl.date_range(dt.date(2020, 12, 20), dt.date(2027, 1, 10), eager=True)  # 2020 and 2026 have a week 53
ROWS = pl.DataFrame({"snapshot_date": DATES.append(pl.Series([None], dtype=pl.Date))}).with_columns(part=part(APPEARANCES))
NAMES = sorted(set(ROWS["part"].to_list()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(NAMES), max_size=6, unique=True))
def test_the_ranges_of_some_parts_select_exactly_their_rows(names: list[str]) -> None:
    assert ROWS.filter(parts_filter(APPEARANCES, names)).equals(ROWS.filter(pl.col("part").is_in(names)))


def test_week_53_and_undated_rows_are_parts_of_their_own() -> None:
    assert {"2020-W53", "2026-W53", UNDATED} <= set(NAMES)
    assert ROWS.filter(parts_filter(APPEARANCES, ["2026-W53"]))["snapshot_date"].to_list() == [
        dt.date(2026, 12, 28) + dt.timedelta(days=i) for i in range(7)
    ]
    assert ROWS.filter(parts_filter(APPEARANCES, [UNDATED]))["snapshot_date"].to_list() == [None]


def test_a_table_not_cut_by_weeks_is_one_part() -> None:
    frame = pl.DataFrame({"snapshot_id": ["a", "b"]})
    assert frame.filter(parts_filter(SNAPSHOTS, [WHOLE])).height == 2
    assert frame.filter(parts_filter(SNAPSHOTS, [])).height == 0


def test_a_manifest_reads_back_as_written_each_file_on_a_line_of_its_own() -> None:
    import json

    from paperfeed.publish.release import manifest_text

    files = [{"path": f"papers/2025-W{n:02d}.parquet", "table": "papers", "rows": n, "bytes": 10 * n, "sha256": "ab" * 32,
              "schema": [{"name": "paper_id", "type": "string"}]} for n in range(1, 4)]  # fmt: skip
    document = {"dataset": "paperfeed", "version": 3, "new_snapshots": [], "changes": {"previous_version": 2, "added": 1},
                "quality": {"checks": [{"suite": "papers", "success": True}]}, "files": files}  # fmt: skip
    text = manifest_text(document)
    assert json.loads(text) == document
    assert [line.strip().rstrip(",") for line in text.splitlines() if '"path"' in line] == [json.dumps(f) for f in files]
