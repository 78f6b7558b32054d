"""The parts of paperfeed.ops.cluster that need no cluster: how a batch is cut into tasks, what is refused before connecting."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import SAMPLES, abstract, prepared, raw_snapshot
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
    """A task's results travel compressed and arrive as they were prepared."""
    snapshots = [prepare_snapshot(raw_snapshot(path.read_bytes(), path.name), 2025) for path in SAMPLES]
    snapshots.append(prepared("Mar 14", [
        ("Spaced   Out\tTitle", "An abstract  with \\textbf{LaTeX} and\ttabs. " + abstract("latex")),
        ("A Title Whose Abstract Was Lost", None),
        ("Plain Title", abstract("plain")),
    ]))  # fmt: skip
    packed = Packed.of(snapshots)
    assert packed.size > 2 * len(packed.data)
    for snapshot, back in zip(snapshots, packed.unpacked(), strict=True):
        assert back.records.equals(snapshot.records) and back.records.schema == snapshot.records.schema
        assert replace(back, records=snapshot.records) == replace(snapshot, records=snapshot.records)
