"""The publish gate blocks: an injected duplicate paper_id publishes nothing, the version stays."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from helpers import abstract, feed_bytes, ingest, write_landing
from paperfeed.model.status import RunStatus
from paperfeed.model.tables import Tables
from paperfeed.ops.batches import Progress, check_batch, curate_batch, prepare_batch
from paperfeed.ops.context import FromLanding, IngestRequest, start_run
from paperfeed.ops.finish import commit_run
from paperfeed.ops.run import find_files, great_expectations_gate, load_state, read_files
from paperfeed.quality.gate import check_snapshots
from paperfeed.storage.warehouse import Warehouse, Written


def test_a_duplicate_paper_id_blocks_the_publish_and_leaves_the_previous_version_current(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    store = Warehouse.at(warehouse)
    before = store.current()

    # The steps of run_ingest up to the publish gate, with a batch broken on purpose.
    source = FromLanding(write_landing(tmp_path / "landing", {"b.txt": feed_bytes("Mar 15", [("Paper Two", abstract("two"))])}))
    ctx = start_run(IngestRequest(source, 2025), store.location)
    gate = great_expectations_gate(store, ctx)
    base = load_state(store)
    raws = read_files(source, find_files(source).files)
    progress = Progress(store.snapshots(), Written.start(base))
    change, progress = curate_batch(store, ctx.run_id, ctx.started_at, progress, check_snapshots(gate, prepare_batch([(raw, 2025) for raw in raws])), [])
    touched = change.touched
    twice = Tables(**{**touched.as_dict(), "papers": pl.concat([touched.papers, touched.papers.head(1)])})
    progress = check_batch(gate, replace(change, touched=twice), progress)
    assert "paper ids are unique [expect_column_values_to_be_unique(paper_id)]" in progress.failures

    blocked = commit_run(store, ctx, base, progress, gate)
    assert blocked.status is RunStatus.FAILED
    assert "paper ids are unique [expect_column_values_to_be_unique(paper_id)]" in blocked.message

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
