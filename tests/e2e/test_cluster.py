"""A run's per-file work on a real Dask cluster: a `dask scheduler` and two `dask worker` processes
on 127.0.0.1, started here and stopped after the module; the run reports to the session's
Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ARRIVED, S3, SAMPLES, free_port, paperfeed, started, stop
from paperfeed.model.inputs import RawSnapshot
from paperfeed.ops import cluster as cluster_module
from paperfeed.ops.cluster import ClusterError, connected
from paperfeed.storage.layout import SITE_ENV, WarehouseLayout
from paperfeed.storage.objects import S3Prefix
from paperfeed.storage.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]
BIN = Path(sys.executable).parent


LOCAL = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]  # --no-dashboard still binds 0.0.0.0


def worker_command(address: str) -> list[str]:
    """A `dask worker` of one single-threaded process on 127.0.0.1."""
    return [str(BIN / "dask"), "worker", address, *LOCAL, "--nworkers", "1", "--nthreads", "1"]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: S3) -> Iterator[str]:
    """The address of a scheduler with two single-threaded workers (each its own process), which
    have the object store's credentials, as a deployment's workers would."""
    logs = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(started([str(BIN / "dask"), "scheduler", "--port", address.rsplit(":", 1)[1], *LOCAL], logs / "scheduler.log"))
        processes += [started(worker_command(address), logs / f"worker-{n}.log", s3_server.env) for n in range(2)]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        stop(processes)


def tasks_run(address: str) -> dict[str, int]:
    """How many tasks of paperfeed's per-file work (prepared_*) have finished on the cluster so far
    (computed or failed), by function. The scheduler counts each entry into a state, and only up:
    files scattered to the workers (`list`) and tasks let go afterwards do not count."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        counted: dict[str, int] = client.run_on_scheduler(
            lambda dask_scheduler: {
                name: p.state_counts["memory"] + p.state_counts["erred"] for name, p in dask_scheduler.task_prefixes.items()
            }
        )
    return {name: n for name, n in counted.items() if name.startswith("prepared_")}


def more(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The tasks of each function that finished between two counts."""
    return {name: n - before.get(name, 0) for name, n in after.items() if n > before.get(name, 0)}


def test_a_run_on_the_cluster_publishes_what_a_run_on_one_machine_does(dask_cluster: str, sample_run: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    before = tasks_run(dask_cluster)
    result = paperfeed("run", "--warehouse", str(warehouse), "--dask-address", dask_cluster)
    assert "published dataset version 1: 5 accepted, 0 duplicate, 0 rejected, 0 records quarantined; 281 new" in result.stdout
    on_cluster, alone = Warehouse.at(warehouse).current(), Warehouse.at(sample_run).current()
    assert on_cluster is not None and alone is not None
    assert on_cluster.fingerprints == alone.fingerprints and on_cluster.rows == alone.rows
    # The work was done by the workers, and they read the files from the warehouse's raw archive
    # themselves (it is on their disk): no bytes were sent.
    assert more(before, tasks_run(dask_cluster)).keys() == {"prepared_from_archive"}


def test_an_unreachable_scheduler_fails_the_command_at_once_in_one_line(tmp_path: Path) -> None:
    nobody = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = paperfeed("run", "--warehouse", str(tmp_path / "warehouse"), "--dask-address", nobody, expect=5)
    assert f"cannot reach the Dask scheduler at {nobody}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert time.monotonic() - started < 30  # the connect timeout (10 s), not Prefect's start and a failed run
    assert not (tmp_path / "warehouse").exists() or Warehouse.at(tmp_path / "warehouse").current() is None


def test_workers_with_other_code_or_suites_are_refused(dask_cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers prepare files with their own paperfeed: one that differs would publish other rows."""
    with connected(dask_cluster):  # the same code as here
        pass
    monkeypatch.setattr(cluster_module, "code_digest", lambda: "0" * 64)  # here only: the workers keep theirs
    with pytest.raises(ClusterError, match=r"Dask worker tcp://127\.0\.0\.1:\d+ runs other paperfeed code or suites than this run"):
        with connected(dask_cluster):
            pass


def test_a_worker_that_joins_during_a_run_is_checked_before_it_gets_work(
    dask_cluster: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from distributed import Client

    from helpers import SAMPLES, raw_snapshot
    from paperfeed.quality.gx import QualityGate

    items = [(raw_snapshot(path.read_bytes(), path.name), 2025) for path in SAMPLES]
    with connected(dask_cluster) as cluster:
        assert cluster is not None and len(cluster.checked) == 2
        third = started(worker_command(dask_cluster), tmp_path / "third.log")
        try:
            with Client(dask_cluster, timeout=30) as client:
                client.wait_for_workers(3, timeout=120)
            # Here only: the two workers checked at connecting pass; the new one is compared now, and differs.
            monkeypatch.setattr(cluster_module, "code_digest", lambda: "0" * 64)
            with pytest.raises(ClusterError, match=r"Dask worker tcp://127\.0\.0\.1:\d+ runs other paperfeed code"):
                cluster.prepare_and_check(items, QualityGate())
            assert len(cluster.checked) == 2
        finally:
            stop([third])


def test_a_run_on_the_cluster_from_and_into_object_storage_publishes_what_a_local_run_does(
    dask_cluster: str, s3: S3, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "site"))
    landing = S3Prefix.parse(f"{s3.warehouse()}-landing")
    for path in SAMPLES:  # in name order, as the sample's files arrived
        landing.put(path.name, path.read_bytes())
    warehouse = s3.warehouse()
    before = tasks_run(dask_cluster)
    paperfeed("run", "-l", landing.url, "-w", warehouse, "--year", "2025", "--dask-address", dask_cluster)
    # The workers read the run's files from the store's raw archive themselves.
    assert more(before, tasks_run(dask_cluster)).keys() == {"prepared_from_archive"}
    # The same files, arrived when the store says they did, on one machine and a local disk.
    local = tmp_path / "landing"
    local.mkdir()
    for key, modified, _ in landing.listing():
        (local / key).write_bytes(landing.get(key).data)  # type: ignore[union-attr]
        os.utime(local / key, (modified.timestamp(), modified.timestamp()))
    paperfeed("run", "-l", str(local), "-w", str(tmp_path / "local"), "--year", "2025")
    everywhere, alone = Warehouse.at(warehouse).current(), Warehouse.at(tmp_path / "local").current()
    assert everywhere is not None and alone is not None and everywhere.rows["papers"] == 281
    assert everywhere.fingerprints == alone.fingerprints and everywhere.rows == alone.rows


def test_files_the_workers_cannot_read_from_the_archive_are_sent_to_them(dask_cluster: str, tmp_path: Path) -> None:
    """A raw archive the workers cannot see is not used; one they can see but that lacks a task's
    files (the worker cannot read them) has that task's files sent. The snapshots are those one
    machine prepares and checks, in the files' order, either way."""
    from helpers import raw_snapshot
    from paperfeed.ops.cluster import prepare_and_check
    from paperfeed.quality.gx import QualityGate
    from paperfeed.storage import archive

    items: list[tuple[RawSnapshot, int | None]] = [(raw_snapshot(path.read_bytes(), path.name), 2025) for path in SAMPLES]
    gate = QualityGate()
    alone = [(s.snapshot_id, s.records, s.quarantined) for s in prepare_and_check(items, gate)]
    layout = WarehouseLayout.at(tmp_path / "warehouse")
    with connected(dask_cluster) as cluster:
        assert cluster is not None
        # Five files, two workers: two tasks. Nothing archived: both sent. All but the last file
        # archived: both tried from the archive, the one holding the last file then sent.
        for archived, sent in ((0, {"prepared_on_worker": 2}), (len(items) - 1, {"prepared_from_archive": 2, "prepared_on_worker": 1})):
            archive.archive(layout, [raw for raw, _ in items[:archived]], {}, "test", ARRIVED)
            before = tasks_run(dask_cluster)
            snapshots = cluster.prepare_and_check(items, gate, layout)
            assert more(before, tasks_run(dask_cluster)) == sent, archived
            assert len(snapshots) == len(alone)
            for snapshot, (snapshot_id, records, quarantined) in zip(snapshots, alone, strict=True):
                assert snapshot.snapshot_id == snapshot_id and snapshot.records.equals(records)
                assert snapshot.quarantined is not None and quarantined is not None and snapshot.quarantined.equals(quarantined)
