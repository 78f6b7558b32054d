"""One Prefect server for the whole end-to-end session, shared with `paperfeed` subprocesses, and
golden warehouses built once through the command line."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import SAMPLES, TwoVersions, paperfeed, run_forked, samples, write_landing


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        # The harness sets the URL in Prefect's settings context only; subprocesses need it too,
        # or each `paperfeed run` would start a temporary server of its own (~10 s).
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def two_versions(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> TwoVersions:
    """Built with `paperfeed run`, as an operator would: three snapshots, then all five."""
    root = tmp_path_factory.mktemp("two-versions")
    first = write_landing(root / "first", samples(*SAMPLES[:3]))
    landing = write_landing(root / "all", samples())
    base, full = root / "base", root / "full"
    run_forked("run", "-l", str(first), "-w", str(base), "--year", "2025")
    shutil.copytree(base, full, symlinks=True)
    run_forked("run", "-l", str(landing), "-w", str(full), "--year", "2025")
    return TwoVersions(base, full, landing)


@pytest.fixture(scope="session")
def sample_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's main job: `paperfeed run` with no landing folder ingests the bundled sample
    feed (the installed command, as a user runs it)."""
    path = tmp_path_factory.mktemp("sample") / "warehouse"
    result = paperfeed("run", "--warehouse", str(path))
    assert "published dataset version 1: 5 accepted, 0 duplicate, 0 rejected, 0 records quarantined; 281 new" in result.stdout
    return path
