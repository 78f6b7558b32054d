"""The operator's path on a real Prefect server: `prefect server start`, `paperfeed serve` (a cron
deployment), a run triggered through the API, the warehouse checked, everything shut down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import abstract, feed_bytes, free_port, write_landing
from paperfeed.config import SAMPLE_FEED
from paperfeed.storage.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.server]
BIN = Path(sys.executable).parent


def wait_until(check: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)  # its own session: the whole group (server workers, flow runs)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",  # the UI would copy its build into the virtualenv
        "DO_NOT_TRACK": "1",
        "TMPDIR": str(tmp_path / "tmp"),
    }
    (tmp_path / "tmp").mkdir()
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_until(lambda: json.loads(urllib.request.urlopen(f"{api}/health", timeout=2).read()) is True, "server health")
        yield api, env | {"PREFECT_API_URL": api, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    finally:
        stop(process, signal.SIGTERM)
        log.close()


def test_a_served_deployment_runs_on_a_real_server(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    api, env = server
    warehouse = tmp_path / "warehouse"
    landing = write_landing(tmp_path / "landing", {p.name: p.read_bytes() for p in sorted(SAMPLE_FEED.glob("*.txt"))})
    log = open(tmp_path / "serve.log", "wb")
    serving = subprocess.Popen(
        [str(BIN / "paperfeed"), "serve", "-l", str(landing), "-w", str(warehouse), "--year", "2025",
         "--cron", "0 6 * * *", "--name", "test"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            wait_until(lambda: client.read_deployment_by_name("paperfeed-ingest/test"), "deployment registered")
            deployment = client.read_deployment_by_name("paperfeed-ingest/test")
            assert [s.schedule.cron for s in deployment.schedules] == ["0 6 * * *"]  # type: ignore[union-attr]
            assert deployment.parameters["warehouse"] == str(warehouse.resolve())
            assert deployment.entrypoint == "paperfeed_flows.ingest.ingest"
            assert deployment.parameters["settle_seconds"] == 60  # a scheduled run leaves fresh files alone

            # A file still being copied in when the run starts waits for a later run.
            (landing / "arriving.txt").write_bytes(feed_bytes("Mar 25", [("A Paper Still Arriving", abstract("arrival"))]))
            run = run_deployment(name="paperfeed-ingest/test", timeout=300, poll_interval=1)
            assert run.state is not None and run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text())
            artifacts = client.request(
                "POST", "/artifacts/filter", json={"flow_runs": {"id": {"any_": [str(run.id)]}}, "limit": 5}
            ).json()
            assert any("published dataset version 1" in str(a["data"]) for a in artifacts)
            assert any("| `arriving.txt` | waiting |" in str(a["data"]) for a in artifacts)
    finally:
        stop(serving, signal.SIGINT)
        log.close()
    store = Warehouse.at(warehouse)
    current = store.current()
    assert current is not None and current.number == 1
    tables = store.read(current)
    assert (tables.papers.height, tables.appearances.height) == (281, 374)
    assert "arriving.txt" not in tables.snapshots["source_name"].to_list()
    assert (warehouse / "releases" / "version=0001" / "manifest.json").is_file()


def test_serve_without_a_server_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    result = subprocess.run([str(BIN / "paperfeed"), "serve", "-w", str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "prefect server start" in result.stderr and "Traceback" not in result.stderr
