"""A failure after publishing (the release, the run report, the DuckDB file) is reported in one
line, the others are still attempted, and the version stays published."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import abstract, feed_bytes, ingest
from paperfeed.ops.run import PublishedWithProblems
from paperfeed.storage.warehouse import Warehouse

ONE = ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))]))
TWO = ("b.txt", feed_bytes("Mar 15", [("Paper Two", abstract("two"))]))


def block(path: Path) -> None:
    """Make `path` impossible to write as paperfeed expects: a file where it wants a folder, or a
    folder where it wants a file (as a full disk or a wrong mount would, even for root)."""
    if path.suffix:
        path.mkdir(parents=True)
        (path / "occupied").write_text("")
    else:
        path.write_text("not a folder")


@pytest.mark.parametrize(
    ("blocked", "problem", "still_written"),
    [
        ("releases", "the release of dataset version 2 was not written", "reports"),
        ("reports", "the run report was not written", "releases/version=0002/manifest.json"),
        ("paperfeed.duckdb", "the DuckDB file was not rewritten", "releases/version=0002/manifest.json"),
    ],
)
def test_a_failure_after_publishing_is_a_problem_and_the_version_stays_published(
    tmp_path: Path, blocked: str, problem: str, still_written: str
) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, ONE)
    target = warehouse / blocked
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    block(target)
    with pytest.raises(PublishedWithProblems) as raised:
        ingest(warehouse, TWO)
    summary = raised.value.summary
    assert len(summary.problems) == 1 and summary.problems[0].startswith(problem), summary.problems
    assert "\n" not in summary.problems[0]
    assert Warehouse.at(warehouse).current().number == 2  # type: ignore[union-attr]
    assert summary.dataset_version == 2 and summary.message.startswith("published dataset version 2")
    assert (warehouse / still_written).exists()  # attempted whatever became of the other
