"""A run takes its files a batch at a time (so its memory is one batch's): however its files are
cut into batches, the run publishes the same version."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import SAMPLES, abstract, feed_bytes, write_landing
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.storage.warehouse import Warehouse


def test_one_batch_a_file_publishes_what_one_batch_for_all_publishes(sample_warehouse: Path, tmp_path: Path) -> None:
    files = {p.name: p.read_bytes() for p in SAMPLES}
    files["again.txt"] = SAMPLES[0].read_bytes().replace(b"\n", b"\r\n")  # a re-delivery, in a later batch
    files["same.txt"] = SAMPLES[1].read_bytes()  # the same bytes again: already ingested
    files["bad.txt"] = feed_bytes("Mar 22", [("Bell\x07 Title", abstract("bells")), ("A Fine Paper", abstract("fine"))])
    landing = write_landing(tmp_path / "landing", files)
    one_by_one = Warehouse.at(tmp_path / "one-by-one")
    summary = run_ingest(one_by_one, IngestRequest(FromLanding(landing), 2025), batch_bytes=1)
    together = Warehouse.at(tmp_path / "together")
    expected = run_ingest(together, IngestRequest(FromLanding(landing), 2025))
    assert summary.dataset_version == expected.dataset_version == 1
    assert [(o.source_name, o.status, o.reason) for o in summary.outcomes] == [(o.source_name, o.status, o.reason) for o in expected.outcomes]
    assert (summary.n_papers, summary.n_appearances, summary.n_quarantined) == (282, 375, 1)
    assert one_by_one.current().fingerprints == together.current().fingerprints  # type: ignore[union-attr]
    assert {c.suite for c in summary.checks} == {c.suite for c in expected.checks} and summary.quality.passed == summary.quality.evaluated


def test_a_runs_summary_counts_every_matching_decision_and_lists_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backfill makes hundreds of thousands of decisions: the summary counts them all, lists the
    first MATCHES_LISTED (joins first) over all batches, and says where the others are."""
    monkeypatch.setattr("paperfeed.ops.batches.MATCHES_LISTED", 2)
    papers = [(f"A Study of Topic {n}", abstract(f"topic {n}")) for n in range(3)]
    revised = [(title + " Revisited", text) for title, text in papers]  # the same abstract under another title: joined
    landing = write_landing(tmp_path / "landing", {"a.txt": feed_bytes("Mar 14", papers), "b.txt": feed_bytes("Mar 15", revised)})
    summary = run_ingest(Warehouse.at(tmp_path / "warehouse"), IngestRequest(FromLanding(landing), 2025), batch_bytes=1)
    assert (summary.n_matched, summary.n_candidates) == (3, 3)  # and "topic 0" and "topic 1" kept apart, listed
    assert [m.decision for m in summary.matches] == ["joined", "joined"]
    assert summary.matches_not_listed() == (
        "The first 2 of 6 decisions; every one is in paper_matches: "
        f"paperfeed sql \"SELECT * FROM paper_matches WHERE run_id = '{summary.run_id}'\""
    )
    assert summary.matches_not_listed() in summary.to_markdown()


def test_a_batch_is_let_go_before_the_next_is_read(tmp_path: Path) -> None:
    """What one batch parsed and changed is freed before the next batch's files are read: a
    backfill holds one batch at a time, not two (the previous one's frames stayed alive in the
    run's loop variables)."""
    import gc
    import weakref
    from collections.abc import Callable
    from typing import Any

    from paperfeed.ops.steps import Steps

    class Watched(Steps):
        """Each batch's parsed snapshots and change, by weak reference; at each read, are they gone?"""

        def __init__(self) -> None:
            self.kept: list[weakref.ref[Any]] = []
            self.alive_at_read: list[int] = []

        def __call__(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            if name == "read files":
                gc.collect()
                self.alive_at_read.append(sum(ref() is not None for ref in self.kept))
            result = fn(*args, **kwargs)
            if name == "parse and normalise":
                self.kept += [weakref.ref(snapshot) for snapshot in result]
            elif name == "curate":
                self.kept.append(weakref.ref(result[0]))
            return result

    landing = write_landing(tmp_path / "landing", {p.name: p.read_bytes() for p in SAMPLES})
    steps = Watched()
    run_ingest(Warehouse.at(tmp_path / "warehouse"), IngestRequest(FromLanding(landing), 2025), steps=steps, batch_bytes=1)
    assert len(steps.alive_at_read) == len(SAMPLES) and len(steps.kept) == 2 * len(SAMPLES)
    assert steps.alive_at_read == [0] * len(SAMPLES)
