"""One Prefect server for the whole end-to-end session, shared by the test workers and with `paperfeed`
subprocesses, and golden warehouses built once through the command line."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import SAMPLES, TwoVersions, paperfeed, run_forked, samples, write_landing
from prefect_server import URL_FILE


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """The session's Prefect server: this process's own without pytest-xdist; with it, one server
    that every worker shares (tests/prefect_server.py), started by the first that asks."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    if worker_id == "master":
        with prefect_test_harness(server_startup_timeout=120):
            yield from _reported_to(str(PREFECT_API_URL.value()))
        return
    url = _shared_server(tmp_path_factory.getbasetemp().parent)
    with temporary_settings({PREFECT_API_URL: url}):
        yield from _reported_to(url)


def _reported_to(url: str) -> Iterator[str]:
    # Prefect's settings hold the URL in this process only; subprocesses need it too, or each
    # `paperfeed run` would start a temporary server of its own (~10 s).
    os.environ["PREFECT_API_URL"] = url
    try:
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def _shared_server(folder: Path) -> str:
    """The URL of the session's shared server, starting it if no worker has (the workers' common
    temporary folder holds its URL; a lock file makes one of them the starter)."""
    url_file = folder / URL_FILE
    with (folder / "prefect-server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not url_file.exists():
            # Detached, so that it outlives this worker; it ends with the controller (the parent).
            server = subprocess.Popen([sys.executable, str(Path(__file__).parent.parent / "prefect_server.py"),
                                       str(folder), str(os.getppid())], start_new_session=True)
            deadline = time.monotonic() + 180
            while not url_file.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the shared Prefect test server did not start (exit status {server.returncode})")
                time.sleep(0.2)
        return url_file.read_text()


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
