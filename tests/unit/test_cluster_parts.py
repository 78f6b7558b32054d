"""The parts of paperfeed.ops.cluster that need no cluster: how a batch is cut into tasks, what is refused before connecting."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import SAMPLES, abstract, prepared, raw_snapshot
from paperfeed.model.prepared import RECORD_SCHEMA
from paperfeed.ops.cluster import ClusterError, Packed, connected, file_groups
from paperfeed.prepare.snapshot import prepare_snapshot


@given(st.lists(st.integers(1, 5_000), min_size=1, max_size=40), st.integers(100, 20_000), st.integers(1, 8))
def test_groups_keep_every_file_in_order_and_are_as_many_as_asked(sizes: list[int], task_bytes: int, at_least: int) -> None:
    items = [(raw_snapshot(bytes([n % 256]) * size, name=f"{n}.txt"), 2025) for n, size in enumerate(sizes)]
    groups = list(file_groups(items, task_bytes, at_least))
    assert [item for group in groups for item in group] == items  # each file once, in order
    assert all(groups)
    total = sum(sizes)
    assert len(groups) == min(len(items), max(at_least, -(-total // task_bytes)))
    # No group holds much more than its share: at most one file past it.
    share = total / len(groups)
    assert all(sum(len(raw.raw) for raw, _ in group) <= share + max(sizes) for group in groups)


@pytest.mark.parametrize("address", ["http://127.0.0.1:8787", "tcp://127.0.0.1:notaport", "ftp://host"])
def test_an_address_that_is_no_scheduler_is_refused_in_one_line(address: str) -> None:
    with pytest.raises(ClusterError, match=rf"^'{address}' is not a Dask scheduler address \(tcp://HOST:8786\): "):
        with connected(address):
            pass


def test_what_workers_ship_back_is_received_as_it_was_prepared() -> None:
    """A task's results travel compressed, their records as one frame, and arrive as they were
    prepared: files without records among them (one that cannot be decoded, whose empty frame has
    the parser's columns only; one with none left, of all the columns) keep theirs."""
    snapshots = [prepare_snapshot(raw_snapshot(path.read_bytes(), path.name), 2025) for path in SAMPLES]
    snapshots.insert(2, prepare_snapshot(raw_snapshot(b"\xff\xfe\x00\xd8 not text", "broken.txt"), 2025))
    assert snapshots[2].records.height == 0 and snapshots[2].detail
    snapshots.append(prepared("Mar 14", [
        ("Spaced   Out\tTitle", "An abstract  with \\textbf{LaTeX} and\ttabs. " + abstract("latex")),
        ("A Title Whose Abstract Was Lost", None),
        ("Plain Title", abstract("plain")),
    ]))  # fmt: skip
    snapshots.append(replace(snapshots[1], records=snapshots[1].records.clear()))
    for n in (0, 3):  # quarantined records on one, an empty frame of them on another, None on the others
        snapshots[n] = replace(snapshots[n], quarantined=snapshots[n].records.head(n).with_columns(reason=pl.lit("why")))
    # Records of two shapes, both with rows (not made so today), travel with their snapshots instead.
    mixed = [*snapshots, replace(snapshots[0], records=snapshots[0].records.select(RECORD_SCHEMA.names()))]
    for sent, pooled in ((snapshots, {"records", "quarantined"}), (mixed, {"quarantined"})):
        packed = Packed.of(sent)
        assert set(packed.pools) == pooled
        for name, pool in packed.pools.items():  # the frames with rows, and only those
            assert pool.heights == [f.height if (f := getattr(s, name)) is not None and f.height else None for s in sent]
        travelling = len(packed.data) + sum(len(pool.data) for pool in packed.pools.values())
        assert travelling < sum(s.records.estimated_size() for s in sent) / 2  # compressed
        for snapshot, back in zip(sent, packed.unpacked(), strict=True):
            assert same(back.records, snapshot.records) and same(back.quarantined, snapshot.quarantined)
            assert replace(back, records=snapshot.records, quarantined=None) == replace(snapshot, quarantined=None)


def same(frame: pl.DataFrame | None, was: pl.DataFrame | None) -> bool:
    if frame is None or was is None:
        return frame is was
    return frame.equals(was) and frame.schema == was.schema
