"""Publishing by append and merge gives the tables a full rebuild gives, version after version, over
a long synthetic history: papers that come and go, revised abstracts, re-deliveries, late and
cut-off files, and files that are no feed at all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from synthetic_feed import write_feed

from paperfeed.curate.increment import curate, increment
from paperfeed.model.contracts import DATA_TABLES, PAPER_MATCHES
from paperfeed.model.fingerprint import fingerprint
from paperfeed.model.status import RunStatus
from paperfeed.model.tables import Tables
from paperfeed.ops.context import RunContext
from paperfeed.ops.finish import run_row
from paperfeed.prepare.snapshot import prepare_snapshots
from paperfeed.publish.summary import RunSummary
from paperfeed.quality.gate import check_snapshots
from paperfeed.quality.gx import QualityGate
from paperfeed.storage.landing import list_landing, read_snapshot
from paperfeed.storage.warehouse import DatasetVersion, Warehouse

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_two_hundred_versions_published_by_append_and_merge_equal_a_full_rebuild(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "landing", files=230, per_file=12, seed=3)
    assert feed.kinds["redelivery"] and feed.kinds["rejected"] and feed.kinds["late"] and feed.kinds["truncated"]
    # A file whose exact bytes came before is "already ingested": no run processes it again.
    raws, seen = [], set()
    for raw in (read_snapshot(f) for f in list_landing(tmp_path / "landing").files):
        if raw.snapshot_id not in seen:
            raws.append(raw)
            seen.add(raw.snapshot_id)
    # The gates once for all files (they judge each file on its own); then run after run.
    checked = check_snapshots(QualityGate(), prepare_snapshots([(raw, None) for raw in raws]))
    store = Warehouse.at(tmp_path / "warehouse")
    version = None
    for i, snapshot in enumerate(checked):
        run_id = f"run-{i:04d}"
        change = increment(store, [snapshot], run_id, NOW)
        ctx = RunContext(run_id, NOW, str(store.root), "landing", None)
        row = run_row(ctx, RunSummary(run_id, RunStatus.PUBLISHED, None, "", ""), "", RunStatus.PUBLISHED, None)
        version = store.publish(change.changes, row, version)
        if i % 10:
            continue
        # Each fingerprint, summed from the rows the runs changed, is the table's as written.
        for table in DATA_TABLES:
            frame = store.read_table(table, version)
            assert fingerprint(frame, table) == version.fingerprints[table.name], (i, table.name)
            assert frame.height == version.rows[table.name], (i, table.name)
        if i % 50 == 0:  # the same data as all files so far curated at once
            same_as_all_at_once(store, version, curate(Tables.empty(), checked[: i + 1], "all-at-once", NOW), i)
    assert version is not None and version.number == len(checked) >= 200
    same_as_all_at_once(store, version, curate(Tables.empty(), checked, "all-at-once", NOW), len(checked))
    for table in DATA_TABLES:
        assert fingerprint(store.read_table(table, version), table) == version.fingerprints[table.name], table.name
    papers = store.read_table(DATA_TABLES[2], version)
    assert papers.height > 500 and (papers["n_versions"] > 1).sum() > 10  # papers came and went, some revised
    assert store.read_table(PAPER_MATCHES, version).height > 10  # the revisions are on record as evidence


def same_as_all_at_once(store: Warehouse, version: DatasetVersion, full: Tables, i: int) -> None:
    """Every table as the all-at-once curation has it. paper_matches records the evidence from the
    side that arrived (file by file, the later record joins the known paper; all at once, both
    records join each other), so there: the same joins, each a paper and two titles. Pairs kept apart and
    listed for review are those blocking brought together, and blocking by rare title words counts
    rarity in what is known: file by file and all at once may list a few different pairs."""
    evidence = {t for t in DATA_TABLES if t is PAPER_MATCHES}
    assert {t.name: fingerprint(full.frame(t), t) for t in DATA_TABLES if t not in evidence} == {
        name: digest for name, digest in version.fingerprints.items() if name != PAPER_MATCHES.name
    }, i
    written = store.read_table(PAPER_MATCHES, version)
    assert pairs(written) == pairs(full.paper_matches), i


def pairs(matches: pl.DataFrame) -> set[tuple[str, str, str]]:
    """Each join as (paper, the two folded titles in either order)."""
    joined = matches.filter(pl.col("decision") == "joined")
    return {(p, min(a, b), max(a, b)) for p, a, b in joined.select("paper_id", "title_key", "other_title_key").rows()}
