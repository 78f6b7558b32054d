"""A warehouse on S3-compatible object storage (a real SeaweedFS server on 127.0.0.1, see conftest):
the same tables as on a local disk, every command reads it, two writers racing end as one after
the other, and a SIGKILL mid-publish leaves the previous version current."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import pytest

from helpers import (
    S3,
    SAMPLES,
    TwoVersions,
    free_port,
    ingest,
    paperfeed,
    paperfeed_forked,
    run_forked,
    samples,
    unfinished_flow_runs,
    write_landing,
)
from paperfeed.storage.faults import CRASH_ENV, STORE_POINTS
from paperfeed.storage.layout import SITE_ENV
from paperfeed.storage.lock import LEASE_ENV, LEASE_KEY, LeaseLost, WarehouseLocked, _write_lease, held_lease
from paperfeed.storage.objects import S3Prefix, read_object
from paperfeed.storage.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("s3")]


def test_a_run_on_s3_publishes_what_a_local_run_does_and_every_command_reads_it(
    s3: S3, sample_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "sites"))
    warehouse = s3.warehouse()
    site = tmp_path / "sites" / warehouse.removeprefix("s3://")  # each warehouse's own folder under the sites
    result = paperfeed("run", "--warehouse", warehouse)
    assert "published dataset version 1: 5 accepted, 0 duplicate, 0 rejected, 0 records quarantined; 281 new" in result.stdout
    on_s3, local = Warehouse.at(warehouse).current(), Warehouse.at(sample_run).current()
    assert on_s3 is not None and local is not None
    assert on_s3.fingerprints == local.fingerprints and on_s3.rows == local.rows

    # The tables, the raw archive and the lease are objects under the prefix; nothing of them on disk.
    store = S3Prefix.parse(warehouse)
    keys = store.keys()
    assert sum(k.startswith("raw/") and "/arrivals/" not in k for k in keys) == 5  # the five files, by hash
    assert {k.split("/")[1] for k in keys if k.startswith("tables/")} == {*local.delta_versions, "runs"}
    assert LEASE_KEY in keys and not (site / "tables").exists()
    # What people read as files is in the site folder, and on the store at the same paths: a
    # downloader checks the release there against its manifest.
    assert (site / "releases" / "version=0001" / "manifest.json").is_file()
    for name in ("releases/latest.json", "releases/index.html", "paperfeed.duckdb", f"reports/{on_s3.run_id}.html"):
        stored = store.get(name)
        assert stored is not None and stored.data == (site / name).read_bytes(), name
    _check_release_on_store(store, "releases/version=0001")

    csv = paperfeed("sql", "--warehouse", warehouse, "--format", "csv", "SELECT count(*), count(DISTINCT paper_id) FROM papers")
    assert csv.stdout.splitlines()[1] == "281,281"
    versions = json.loads(paperfeed("versions", "--warehouse", warehouse, "--json").stdout)
    assert [v["dataset_version"] for v in versions] == [1] and versions[0]["n_papers"] == 281
    assert "all good: checked 7 tables, 5 archived files, 2 releases" in paperfeed("verify", "--warehouse", warehouse).stdout
    store.put("releases/version=0001/README.md", b"changed on the store")  # what verify finds there
    damaged = paperfeed("verify", "--warehouse", warehouse, expect=6).stdout
    assert "version=0001 (on the store)" in damaged and "README.md on the store no longer matches" in damaged
    store.put("releases/version=0001/README.md", (site / "releases" / "version=0001" / "README.md").read_bytes())
    again = paperfeed("run", "--warehouse", warehouse)  # nothing new: the same version stays
    assert "nothing new" in again.stdout, again.stdout
    rebuilt = tmp_path / "rebuilt"  # from the raw archive on s3 into a local folder: the same version
    paperfeed("rebuild", "--warehouse", warehouse, "--into", str(rebuilt))
    copy = Warehouse.at(rebuilt).current()
    assert copy is not None and copy.fingerprints == local.fingerprints


def _check_release_on_store(store: S3Prefix, release: str) -> None:
    """What a downloader does: every file the manifest lists, with its size and sha256."""
    manifest = store.get(f"{release}/manifest.json")
    assert manifest is not None
    files = json.loads(manifest.data)["files"]
    assert files
    for entry in files:
        stored = store.get(f"{release}/{entry['path']}")
        assert stored is not None, entry["path"]
        assert len(stored.data) == entry["bytes"] and hashlib.sha256(stored.data).hexdigest() == entry["sha256"]


def test_two_writers_racing_on_s3_end_as_one_after_the_other(s3: S3, prefect_api: str, tmp_path: Path) -> None:
    first = write_landing(tmp_path / "first", {p.name: p.read_bytes() for p in SAMPLES[:3]})
    second = write_landing(tmp_path / "second", {p.name: p.read_bytes() for p in SAMPLES[3:]})
    warehouse = s3.warehouse()
    env = s3.env | {SITE_ENV: str(tmp_path / "site")}
    runs = [
        paperfeed_forked(["run", "-l", str(landing), "-w", warehouse, "--year", "2025"], env=env, output=tmp_path / landing.name)
        for landing in (first, second)
    ]
    for run in runs:
        run.join(300)
    errors = [(tmp_path / f"{landing.name}.err").read_text() for landing in (first, second)]
    assert [run.exitcode for run in runs] == [0, 0], errors
    assert any("waiting for run" in text for text in errors)  # the lease kept one waiting
    apart = tmp_path / "apart"
    for landing in (first, second):
        ingest(apart, *((p.name, p.read_bytes()) for p in sorted(landing.iterdir())))
    at_once, in_turn = Warehouse.at(warehouse).current(), Warehouse.at(apart).current()
    assert at_once is not None and in_turn is not None
    assert at_once.number == 2 and at_once.fingerprints == in_turn.fingerprints
    for release in ("releases/version=0001", "releases/version=0002"):
        _check_release_on_store(S3Prefix.parse(warehouse), release)


def test_a_run_killed_mid_publish_on_s3_leaves_the_previous_version_and_a_rerun_converges(
    s3: S3, two_versions: TwoVersions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = s3.warehouse()
    first = write_landing(tmp_path / "first", samples(*SAMPLES[:3]))
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "site"))
    env = s3.env | {SITE_ENV: str(tmp_path / "site"), LEASE_ENV: "4"}  # a dead holder's lease runs out in 4 s
    run_forked("run", "-l", str(first), "-w", warehouse, "--year", "2025", env=env)
    command = ("run", "-l", str(two_versions.landing), "-w", warehouse, "--year", "2025")
    # Tables half written; then the publish done (its release not written); then the run after it
    # (nothing new: it writes that release) killed while putting the release on the store.
    for point in ("after_write:papers", "after_runs_commit", *STORE_POINTS):
        killed = run_forked(*command, env=env | {CRASH_ENV: point}, expect=-9)
        assert killed.returncode == -9
        expected = 1 if point == "after_write:papers" else 2
        current = Warehouse.at(warehouse).current()
        assert current is not None and current.number == expected, point
        if expected == 1:
            assert current.fingerprints == Warehouse.at(two_versions.base).version(1).fingerprints
    # What a downloader sees meanwhile: version 2's release on the store has no manifest yet.
    incomplete = paperfeed("verify", "--warehouse", warehouse, expect=6).stdout
    assert "version=0002 (on the store)" in incomplete, incomplete
    started = time.monotonic()
    run_forked(*command, env=env)  # waits for the dead run's lease to run out, then converges
    assert time.monotonic() - started < 60
    final = Warehouse.at(warehouse).current()
    assert final is not None and final.number == 2
    assert final.fingerprints == Warehouse.at(two_versions.full).version(2).fingerprints
    assert unfinished_flow_runs(warehouse) == []  # the killed runs' flow runs, marked Crashed by the re-run
    _check_release_on_store(S3Prefix.parse(warehouse), "releases/version=0002")  # put whole by the re-run
    assert "all good" in paperfeed("verify", "--warehouse", warehouse).stdout


def test_the_lease_is_taken_by_one_writer_waits_for_its_holder_and_expires(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LEASE_ENV, "2")
    store = Warehouse.at(s3.warehouse())
    remote = store.layout.remote
    assert remote is not None
    with store.lock("holder", 0):
        with store.lock("holder-again", 0):  # re-entrant within the process
            pass
        lease = held_lease(remote)
        assert lease is not None
        time.sleep(3)  # longer than the 2 s term: a live holder's lease is renewed meanwhile
        stored = remote.get(LEASE_KEY)
        assert stored is not None
        assert dt.datetime.fromisoformat(json.loads(stored.data)["expires"]) > dt.datetime.now(dt.UTC)
        lease.confirm()
    with store.lock("next", 0):  # released: taken at once
        pass
    # Held by another process's run: refused with its name (written as that process would).
    current = remote.get(LEASE_KEY)
    assert current is not None
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).isoformat()
    other = {"pid": 1, "host": "elsewhere", "run_id": "the-other-run", "since": "2026-12-01T00:00:00+00:00", "expires": expires}
    assert remote.replace(LEASE_KEY, json.dumps(other).encode(), current.tag) is not None
    with pytest.raises(WarehouseLocked, match="locked by run the-other-run \\(pid 1 on elsewhere"):
        with store.lock("refused", 0.5):
            pass
    started = time.monotonic()
    with store.lock("after-expiry", 10):  # the other process died: its lease runs out, then it is taken
        assert time.monotonic() - started >= 0.5
        lease = held_lease(remote)
        assert lease is not None
        # Stalled past its term: another writer takes the lease (by its tag, between this one's
        # renewals); this one must not commit.
        while (taken := remote.get(LEASE_KEY)) is None or remote.replace(LEASE_KEY, json.dumps(other).encode(), taken.tag) is None:
            pass
        with pytest.raises(LeaseLost, match="another writer took it"):
            lease.confirm()


def test_a_conditional_write_the_store_applied_but_answered_late_is_still_the_writers(s3: S3) -> None:
    """A lease write whose answer was lost is retried by the client and refused (412) for the
    change it made itself: the writer keeps the lease. Another writer's bytes stay refused."""
    remote = S3Prefix.parse(s3.warehouse())
    first = _write_lease(remote, b'{"mine": 1}', None)
    assert first is not None
    renewed = _write_lease(remote, b'{"mine": 2}', first)
    assert renewed is not None
    assert _write_lease(remote, b'{"mine": 2}', first) == renewed  # the retry: already applied
    assert _write_lease(remote, b'{"theirs": 1}', first) is None  # a stale tag: refused
    assert _write_lease(remote, b'{"mine": 1}', None) is None  # it exists: refused


def test_object_keys_are_read_as_they_are(s3: S3) -> None:
    """A landing's key may hold characters that mean something in a URL."""
    warehouse = s3.warehouse()
    S3Prefix.parse(warehouse).put("landing/2026-03-14 #1?.txt", b"Mar 14")
    assert read_object(f"{warehouse}/landing/2026-03-14 #1?.txt") == b"Mar 14"


def test_a_store_that_cannot_be_reached_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the operator or analyst sees when the store is down: the command, the address, the cause."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "sites"))
    for command in (("versions",), ("run", "--wait", "0")):  # deltalake's error; obstore's (the lease)
        failed = paperfeed(*command, "--warehouse", "s3://paperfeed/down", expect=5)
        assert failed.stderr.startswith("error:") and "Traceback" not in failed.stderr, failed.stderr
        assert "127.0.0.1" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr
