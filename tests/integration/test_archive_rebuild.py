"""The raw archive keeps every file that arrived; a rebuild from it alone equals the warehouse."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from helpers import SAMPLES, abstract, copied, feed_bytes, ingest
from paperfeed.model.contracts import DATA_TABLES
from paperfeed.model.fingerprint import fingerprint
from paperfeed.ops.rebuild import rebuild
from paperfeed.quality.gate import PublishBlocked
from paperfeed.quality.gx import SUITES_ENV, suites_dir
from paperfeed.storage.archive import ArchiveError, arrivals, replay
from paperfeed.storage.warehouse import Warehouse

LEAP = feed_bytes("Feb 29", [("A Leap Day Paper", abstract("leap days"))])

pytestmark = pytest.mark.xdist_group("archive-rebuild")


def history(warehouse: Path) -> None:
    """Runs with everything a rebuild must reproduce: a rejection, a re-delivery, a revised
    abstract, a run that only rejects (recorded, no version), a retried rejection with a fixed
    --year, and a no-op."""
    ingest(warehouse, *[(p.name, p.read_bytes()) for p in SAMPLES[:3]], ("page.html", b"<html>nope</html>"))
    revised = SAMPLES[4].read_text(encoding="utf-8").replace("In multi-task reinforcement", "In multi-task RL", 1)
    ingest(
        warehouse,
        ("again/" + SAMPLES[0].name, SAMPLES[0].read_bytes().replace(b"\n", b"\r\n")),  # a duplicate
        (SAMPLES[3].name, SAMPLES[3].read_bytes()),
        ("revised.txt", feed_text_for(revised)),
        ("leap.txt", LEAP),  # rejected: Feb 29 is no day of 2025
    )
    ingest(warehouse, ("robots.html", b"<html>go away</html>"))
    ingest(warehouse, ("leap.txt", LEAP), year=2024, retry_rejected=True)
    ingest(warehouse, (SAMPLES[3].name, SAMPLES[3].read_bytes()))  # nothing new


def feed_text_for(text: str) -> bytes:
    return text.replace("Mar 21", "Mar 22", 1).encode("utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("incremental") / "warehouse"
    history(warehouse)
    return warehouse


def test_every_file_that_arrived_is_archived_byte_for_byte_with_its_name_and_arrival(built: Path) -> None:
    layout = Warehouse.at(built).layout
    log = arrivals(layout)
    names = set(log["source_name"])
    assert {"page.html", "leap.txt", "revised.txt", "again/000_777945d1c727355c.txt"} <= names
    for row in log.iter_rows(named=True):
        stored = layout.raw_file(row["snapshot_id"]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row["snapshot_id"] and len(stored) == row["n_bytes"]
    assert log.filter(pl.col("source_name") == "page.html")["processed"].to_list() == [True]
    # The no-op run saw 003 again: logged, not processed again.
    assert log.filter(pl.col("source_name") == SAMPLES[3].name)["processed"].to_list() == [True, False]
    assert log.filter(pl.col("source_name") == "leap.txt").select("processed", "year").rows() == [(True, 2025), (True, 2024)]


def test_a_rebuild_from_the_archive_alone_equals_the_incremental_warehouse(built: Path, tmp_path: Path) -> None:
    source, copy = Warehouse.at(built), Warehouse.at(tmp_path / "rebuilt")
    assert rebuild(source, copy).equal
    # Every version, not only the current one: same numbers, same fingerprints, same counts.
    assert source.published()["dataset_version"].to_list() == copy.published()["dataset_version"].to_list() == [1, 2, 3]
    counts = ["dataset_version", "n_accepted", "n_duplicate", "n_rejected", "n_new_papers", "n_updated_papers", "n_papers"]
    assert source.published().select(counts).rows() == copy.published().select(counts).rows()
    assert source.runs()["status"].to_list() == ["published", "published", "recorded", "published", "noop"]
    assert copy.runs()["status"].to_list() == ["published", "published", "recorded", "published"]  # no-ops are not replayed
    for number in (1, 2, 3):
        assert copy.version(number).fingerprints == source.version(number).fingerprints, number
        ours, theirs = (w.read(w.version(number)).papers.sort("paper_id") for w in (copy, source))
        assert ours.equals(theirs), number
    ours, theirs = source.read(source.current()), copy.read(copy.current())
    for table in DATA_TABLES:
        a, b = ours.as_dict()[table.name], theirs.as_dict()[table.name]
        assert a.height == b.height, table.name
        assert fingerprint(a, table) == fingerprint(b, table), table.name
    assert set(ours.papers["paper_id"]) == set(theirs.papers["paper_id"])
    # The fingerprints recorded in runs agree with the tables' contents.
    current = copy.current()
    assert current is not None and current.fingerprints == source.current().fingerprints  # type: ignore[union-attr]
    statuses = dict(theirs.snapshots.select("source_name", "status").iter_rows())
    assert (statuses["leap.txt"], statuses["page.html"], statuses["robots.html"], statuses["again/000_777945d1c727355c.txt"]) == (
        "accepted", "rejected", "rejected", "duplicate",
    )


def test_a_damaged_archive_is_reported_not_rebuilt_from(built: Path, tmp_path: Path) -> None:
    damaged = Warehouse.at(copied(built, tmp_path)).layout
    victim = damaged.raw_file(arrivals(damaged).filter(pl.col("source_name") == "revised.txt")["snapshot_id"][0])
    victim.write_bytes(victim.read_bytes()[:-10])
    run = arrivals(damaged).filter(pl.col("source_name") == "revised.txt")["run_id"][0]
    with pytest.raises(ArchiveError, match=r"copy of revised\.txt is damaged"):
        replay(damaged, run)


def test_a_rebuild_ignores_files_only_a_blocked_run_processed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "warehouse"
    ingest(warehouse, (SAMPLES[0].name, SAMPLES[0].read_bytes()))
    # A run whose publish gate fails: its file is archived as processed, but nothing is published.
    suites = tmp_path / "suites"
    shutil.copytree(suites_dir(), suites)
    papers = json.loads((suites / "papers.json").read_text())
    papers["expectations"].append({"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 1}, "description": "broken"})
    (suites / "papers.json").write_text(json.dumps(papers))
    monkeypatch.setenv(SUITES_ENV, str(suites))
    with pytest.raises(PublishBlocked):
        ingest(warehouse, (SAMPLES[1].name, SAMPLES[1].read_bytes()))
    monkeypatch.delenv(SUITES_ENV)
    # The file is withdrawn before the next run; a rebuild must not bring it back.
    source = Warehouse.at(warehouse)
    assert arrivals(source.layout).filter(pl.col("processed"))["source_name"].to_list() == [SAMPLES[0].name, SAMPLES[1].name]
    rebuilt = Warehouse.at(tmp_path / "rebuilt")
    assert rebuild(source, rebuilt).equal
    assert rebuilt.current().fingerprints == source.current().fingerprints  # type: ignore[union-attr]
