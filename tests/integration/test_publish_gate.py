"""The publish gate blocks: an injected duplicate paper_id publishes nothing, the version stays."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from helpers import abstract, feed_bytes, ingest, raw_snapshot

from paperfeed.ops import run as pipeline
from paperfeed.curate.tables import Tables
from paperfeed.prepare.snapshot import prepare_snapshot
from paperfeed.storage.warehouse import Warehouse


def test_a_duplicate_paper_id_blocks_the_publish_and_leaves_the_previous_version_current(tmp_path: Path) -> None:
    ingest(tmp_path, ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    store = Warehouse(tmp_path)
    before = store.current()

    ctx = pipeline.start_run(tmp_path / "landing", tmp_path, 2025)
    gate = pipeline.open_gate(ctx)
    state = pipeline.load_state(tmp_path)
    raw = raw_snapshot(feed_bytes("Mar 15", [("Paper Two", abstract("two"))]), "b.txt")
    plan = pipeline.plan_run(ctx, state, pipeline.check_snapshots(gate, [prepare_snapshot(raw, 2025)]), [])
    papers = plan.tables.papers
    broken = pipeline.Plan(Tables(**{**plan.tables.as_dict(), "papers": pl.concat([papers, papers.head(1)])}), plan.summary)

    with pytest.raises(pipeline.PublishBlocked, match=r"paper ids are unique \[expect_column_values_to_be_unique\(paper_id\)\]"):
        pipeline.publish_run(ctx, state, broken, gate)

    after = store.current()
    assert after == before
    assert store.read(after).papers.height == 1
    runs = store.runs()
    assert runs["status"].to_list() == ["published", "failed"]
    assert "nothing published (dataset version 1 stays current)" in runs["message"][-1]
    # The blocked run's quality record names the check that failed, with the rows that failed it.
    failed = [c for c in runs["checks"][-1] if not c["success"]]
    assert [(c["suite"], c["expectation"], c["column"], c["unexpected"]) for c in failed] == [
        ("papers", "expect_column_values_to_be_unique", "paper_id", 2)
    ]
    assert all(c["success"] for c in runs["checks"][0])
