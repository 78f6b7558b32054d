"""Concurrent runs, awkward file names, links out of the landing folder, and `paperfeed rebuild`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import SAMPLES, TwoVersions, ingest, paperfeed, paperfeed_forked, run_forked, samples, sql_csv, write_landing
from paperfeed.storage.warehouse import Warehouse

pytestmark = pytest.mark.slow


def test_two_runs_at_once_wait_for_each_other_and_end_as_one_after_the_other(prefect_api: str, tmp_path: Path) -> None:
    first = write_landing(tmp_path / "first", {p.name: p.read_bytes() for p in SAMPLES[:3]})
    second = write_landing(tmp_path / "second", {p.name: p.read_bytes() for p in SAMPLES[3:]})
    together, apart = tmp_path / "together", tmp_path / "apart"
    # Two `paperfeed run` processes started together.
    runs = [
        paperfeed_forked(["run", "-l", str(landing), "-w", str(together), "--year", "2025", "--json"], output=tmp_path / landing.name)
        for landing in (first, second)
    ]
    for run in runs:
        run.join(300)
    errors = [(tmp_path / f"{landing.name}.err").read_text() for landing in (first, second)]
    assert [run.exitcode for run in runs] == [0, 0], errors
    assert any("waiting for run" in text for text in errors)  # the second said whom it waited for
    for landing in (first, second):  # one after the other, with the same run function
        ingest(apart, *((p.name, p.read_bytes()) for p in sorted(landing.iterdir())))
    at_once, in_turn = Warehouse.at(together).current(), Warehouse.at(apart).current()
    assert at_once is not None and in_turn is not None
    assert at_once.number == 2 and at_once.fingerprints == in_turn.fingerprints


def test_a_run_that_cannot_get_the_lock_says_who_holds_it(prefect_api: str, tmp_path: Path) -> None:
    landing = write_landing(tmp_path / "landing", samples(SAMPLES[0]))
    warehouse = tmp_path / "warehouse"
    with Warehouse.at(warehouse).lock("the-holding-run", 0):
        started = time.monotonic()
        result = paperfeed("run", "-l", str(landing), "-w", str(warehouse), "--year", "2025", "--wait", "2", expect=3)
        waited = time.monotonic() - started
    # The lock is tried before Prefect starts: the answer comes after --wait, not after Prefect's start-up.
    assert 2 <= waited < 15, waited
    waiting, error = result.stderr.strip().splitlines()  # what it waited for, then why it gave up: two lines
    assert waiting.startswith(f"waiting for run the-holding-run (pid {os.getpid()} on ")
    assert error.startswith("error: warehouse ") and f"is locked by run the-holding-run (pid {os.getpid()} on " in error
    assert error.endswith("after waiting 2 s")
    assert Warehouse.at(warehouse).current() is None  # nothing was written by the refused run


AWKWARD = [" spaced name.txt", "ünïcödé — дата.txt", "-rf.txt", "--help.txt"]


def test_awkward_names_work_links_out_of_the_landing_are_refused_and_nothing_else_is_written(
    prefect_api: str, tmp_path: Path
) -> None:
    landing = write_landing(tmp_path / "land ing", {name: p.read_bytes() for name, p in zip(AWKWARD, SAMPLES[: len(AWKWARD)], strict=True)})
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for the warehouse")
    (landing / "link-out.txt").symlink_to(secret)
    (landing / "link-in.txt").symlink_to(landing / AWKWARD[0])  # inside: fine, and the same bytes
    before = _tree(landing)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    warehouse = tmp_path / "ware'house"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("paperfeed")), "run", "-l", str(landing), "-w", str(warehouse), "--year", "2025", "--json"],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stderr  # a refused file is an input problem
    outcomes = {o["source_name"]: o for o in json.loads(result.stdout)["outcomes"]}
    assert outcomes["link-out.txt"]["status"] == "refused"
    assert outcomes["link-out.txt"]["reason"] == f"a link to {secret.resolve()}, outside the landing folder"
    assert outcomes["link-in.txt"]["status"] == "already ingested"
    assert sorted(n for n, o in outcomes.items() if o["status"] == "accepted") == sorted(AWKWARD)
    names = {row[0] for row in sql_csv(warehouse, "SELECT source_name FROM snapshots")}
    assert names == set(AWKWARD)
    # The landing folder is only read; nothing is written beside the warehouse or where we ran.
    assert _tree(landing) == before
    assert list(workdir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["land ing", "outside", "cwd", "ware'house"])
    assert not any(hashlib.sha256(secret.read_bytes()).hexdigest() in str(p) for p in warehouse.rglob("*"))


def _tree(folder: Path) -> dict[str, tuple[int, float, str]]:
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "")
        for p in sorted(folder.rglob("*"))
    }


def test_paperfeed_rebuild_recreates_every_table_from_the_raw_archive(two_versions: TwoVersions, tmp_path: Path) -> None:
    warehouse = two_versions.full
    result = run_forked("rebuild", "-w", str(warehouse), "--into", str(tmp_path / "rebuilt"), "--json", output=tmp_path / "rebuild")
    comparison = json.loads(result.stdout)
    assert comparison["equal"] is True
    # Both versions are rebuilt, each with the counts it had: version 1 answers as version 1 did.
    assert [(v["version"], v["equal"]) for v in comparison["versions"]] == [(1, True), (2, True)]
    for number in ("1", "2"):
        query = "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM appearances)"
        assert sql_csv(tmp_path / "rebuilt", query, "--version", number) == sql_csv(warehouse, query, "--version", number)
    assert {row["table"] for row in comparison["tables"]} == {
        "snapshots", "appearances", "papers", "paper_versions", "paper_titles", "paper_matches", "quarantine"
    }  # fmt: skip
    assert sql_csv(tmp_path / "rebuilt", "SELECT count(*) FROM papers") == [["281"]]
    refused = paperfeed("rebuild", "-w", str(warehouse), "--into", str(warehouse), expect=2)
    assert "is not empty" in refused.stderr


def test_a_prefect_server_that_cannot_be_reached_is_one_line_and_exit_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens on port 9
    result = paperfeed("run", "-w", str(tmp_path / "warehouse"), expect=5)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: run failed: RuntimeError: Failed to reach API at http://127.0.0.1:9/api/"), line
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "warehouse" / "tables").exists()  # nothing was written
