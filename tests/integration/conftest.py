"""Golden warehouses, built once per session with the library's run function and shared read
only; a test that changes one works on a copy (helpers.copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import abstract, feed_bytes, ingest, samples

ONE = ("Paper One", abstract("one"))
TWO = ("Paper Two", abstract("two"))


@pytest.fixture(scope="session")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 1: one snapshot with Paper One (and a rejected HTML page); version 2: Paper One again
    and Paper Two."""
    warehouse = tmp_path_factory.mktemp("tiny") / "warehouse"
    ingest(warehouse, ("a.txt", feed_bytes("Mar 14", [ONE])), ("page.html", b"<html>not a feed</html>"))
    ingest(warehouse, ("b.txt", feed_bytes("Mar 15", [ONE, TWO])))
    return warehouse


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five real snapshots in one run: dataset version 1."""
    warehouse = tmp_path_factory.mktemp("sample") / "warehouse"
    ingest(warehouse, *samples().items())
    return warehouse
