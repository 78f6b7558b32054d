"""`paperfeed backfill`: snapshot files one run each, in date order, optionally within a date range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import paperfeed, run_forked, sql_csv, write_landing
from paperfeed.config import SAMPLE_FEED

pytestmark = pytest.mark.slow


def test_backfill_ingests_one_run_per_file_in_date_order(prefect_api: str, tmp_path: Path) -> None:
    # Arrival order is 000..004 (Mar 14, 14, 11, 17, 21); a backfill goes by date instead.
    landing = write_landing(tmp_path / "landing", {p.name: p.read_bytes() for p in sorted(SAMPLE_FEED.glob("*.txt"))})
    warehouse = tmp_path / "warehouse"
    ranged = json.loads(
        run_forked("backfill", "-l", str(landing), "-w", str(warehouse), "--year", "2025",
                   "--from", "2025-03-14", "--to", "2025-03-17", "--json", output=tmp_path / "ranged").stdout
    )
    assert [s["outcomes"][0]["source_name"][:3] for s in ranged] == ["000", "001", "003"]
    assert [s["dataset_version"] for s in ranged] == [1, 2, 3]
    rest = json.loads(
        run_forked("backfill", "-l", str(landing), "-w", str(warehouse), "--year", "2025", "--json",
                   "004_f5ce87addd7f7628.txt", "002_3c1d6a97ad5a2e5f.txt", output=tmp_path / "rest").stdout
    )
    assert [(s["outcomes"][0]["snapshot_date"], s["dataset_version"]) for s in rest] == [("2025-03-11", 4), ("2025-03-21", 5)]
    assert sql_csv(warehouse, "SELECT count(*) FROM papers") == [["281"]]
    assert sql_csv(warehouse, "SELECT count(*) FROM appearances") == [["374"]]
    missing = paperfeed("backfill", "-l", str(landing), "-w", str(warehouse), "nope.txt", expect=2)
    assert "not in the landing folder: nope.txt" in missing.stderr
