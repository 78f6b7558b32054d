"""The landing folder: which files a run takes now, and which wait for a later run."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers import write_landing
from paperfeed.storage.landing import list_landing, select


def test_a_file_changed_within_the_settle_time_waits_and_the_others_are_taken(tmp_path: Path) -> None:
    landing = write_landing(tmp_path / "landing", {"old.txt": b"old", "older.txt": b"older"})
    (landing / "fresh.txt").write_bytes(b"still being written")
    listed = list_landing(landing, settle_seconds=60)
    assert [f.source_name for f in listed.files] == ["old.txt", "older.txt"]
    assert [w.source_name for w in listed.waiting] == ["fresh.txt"]
    assert "taken once still for 60 s" in listed.waiting[0].reason


def test_without_a_settle_time_every_file_is_taken(tmp_path: Path) -> None:
    landing = write_landing(tmp_path / "landing", {"old.txt": b"old"})
    (landing / "fresh.txt").write_bytes(b"just copied in")
    ahead = landing / "ahead.txt"
    ahead.write_bytes(b"from a machine whose clock is ahead")
    os.utime(ahead, (time.time() + 600, time.time() + 600))
    listed = list_landing(landing)
    assert [f.source_name for f in listed.files] == ["old.txt", "fresh.txt", "ahead.txt"] and listed.waiting == []


def test_a_file_changed_in_the_future_waits_too(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    ahead = landing / "ahead.txt"
    ahead.write_bytes(b"written on a share whose clock is ahead")
    os.utime(ahead, (time.time() + 600, time.time() + 600))
    listed = list_landing(landing, settle_seconds=60)
    assert listed.files == [] and "in the future (a clock ahead?)" in listed.waiting[0].reason


def test_a_file_still_for_the_settle_time_is_taken(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "settled.txt"
    path.write_bytes(b"whole")
    stamp = time.time() - 61
    os.utime(path, (stamp, stamp))
    assert [f.source_name for f in list_landing(landing, settle_seconds=60).files] == ["settled.txt"]


def test_named_files_come_in_arrival_order_whatever_the_order_of_the_names(tmp_path: Path) -> None:
    # The order a run processes its files in decides which of two copies is the duplicate; a
    # rebuild replays them in arrival order, so a run given names must process them so too.
    landing = write_landing(tmp_path / "landing", {"a.txt": b"first", "b.txt": b"second", "c.txt": b"third"})
    assert [f.source_name for f in select(list_landing(landing), ["c.txt", "a.txt"]).files] == ["a.txt", "c.txt"]


def test_a_waiting_file_named_for_a_backfill_waits_rather_than_being_called_missing(tmp_path: Path) -> None:
    landing = write_landing(tmp_path / "landing", {"old.txt": b"old"})
    (landing / "fresh.txt").write_bytes(b"still being written")
    chosen = select(list_landing(landing, settle_seconds=60), ["old.txt", "fresh.txt"])
    assert [f.source_name for f in chosen.files] == ["old.txt"]
    assert [w.source_name for w in chosen.waiting] == ["fresh.txt"]
