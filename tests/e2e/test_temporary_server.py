"""A `paperfeed run` started by hand with no Prefect server to report to (no PREFECT_API_URL): it
starts Prefect's temporary server itself (cli/prefect_server.py). The run reports to it as to any
server (flow run, task runs, log lines, artifact), the server stops when the command ends, and a
command killed with SIGKILL does not leave it running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from paperfeed.storage.faults import CRASH_ENV
from paperfeed.storage.warehouse import Warehouse
from paperfeed_flows.abandoned import COMMAND_TAG

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.xdist_group("temporary-server")]
BIN = Path(sys.executable).parent
SERVER_APP = "prefect.server.api.server:create_app"

# What the run reported, read back through Prefect's client (which starts a temporary server of its own).
READ_BACK = """
import json
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, LogFilter, LogFilterFlowRunId
with get_client(sync_client=True) as client:
    runs = client.read_flow_runs()
    found = []
    for run in runs:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
        artifacts = client.request("POST", "/artifacts/filter", json={"flow_runs": {"id": {"any_": [str(run.id)]}}}).json()
        found.append({
            "flow": run.parameters.get("warehouse"), "state": run.state_name, "tasks": sorted({t.state_name for t in tasks}),
            "n_tasks": len(tasks), "logs": [log.message for log in logs], "artifacts": [a["description"] for a in artifacts],
            "tags": sorted(run.tags), "task_tags": sorted({tag for t in tasks for tag in t.tags}),
        })
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def no_server(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment with no Prefect API and a Prefect home of its own (its first server migrates it)."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # The read-back's own temporary server (Prefect's) waits as long as paperfeed's for a busy machine.
    return env | {
        "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }  # fmt: skip


def servers_of(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in process.children(recursive=True) if SERVER_APP in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def test_a_run_reports_to_the_temporary_server_it_starts_and_stops_it(no_server: dict[str, str], tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    command = subprocess.Popen(
        [str(BIN / "paperfeed"), "run", "-w", str(warehouse), "--json"], env=no_server, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    watched, seen, deadline = psutil.Process(command.pid), dict[int, psutil.Process](), time.monotonic() + 240
    try:
        while command.poll() is None and time.monotonic() < deadline:
            seen |= {p.pid: p for p in servers_of(watched)}
            time.sleep(0.1)
        out, err = command.communicate(timeout=30)
        left = wait_ended(list(seen.values()), 10)
    finally:
        end(command, list(seen.values()))
    assert command.returncode == 0, err.decode()
    summary = json.loads(out)
    assert (summary["status"], summary["n_papers"], summary["dataset_version"]) == ("published", 281, 1)
    assert b"Error" not in err and b"Traceback" not in err, err.decode()

    assert len(seen) == 1, "one temporary server, started by paperfeed"
    assert not left, "stopped when the command ended"

    read = subprocess.run([sys.executable, "-c", READ_BACK], env=no_server, capture_output=True, text=True, timeout=300, check=True)
    (run,) = json.loads(read.stdout.splitlines()[-1])
    assert (run["flow"], run["state"], run["tasks"], run["n_tasks"]) == (str(warehouse), "Completed", ["Completed"], 11)
    # The command's tag marks its flow run, not its task runs (each tag costs a task a request for concurrency slots).
    assert (run["tags"], run["task_tags"]) == ([COMMAND_TAG], [])
    assert any("published dataset version 1" in line for line in run["logs"]), "the last log lines reached the server before it stopped"
    assert any("published dataset version 1" in (a or "") for a in run["artifacts"])
    assert Warehouse.at(warehouse).current().number == 1  # type: ignore[union-attr]


def test_a_ctrl_c_ends_the_run_at_once_its_flow_run_marked_crashed_and_the_server_stopped(
    no_server: dict[str, str], tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    command = subprocess.Popen(
        [str(BIN / "paperfeed"), "run", "-w", str(warehouse)], env=no_server, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    servers = started_server(command)
    try:
        deadline = time.monotonic() + 120
        while not (warehouse / "raw" / "arrivals").exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # until the flow runs (it archives the files first)
        os.killpg(command.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the command's whole group
        _, err = command.communicate(timeout=60)
        assert command.returncode == 130, err.decode()
        assert "interrupted" in err.decode() and b"Error" not in err and b"Traceback" not in err, err.decode()
        assert not wait_ended(servers, 10), "stopped when the command ended"
    finally:
        end(command, servers)
    read = subprocess.run([sys.executable, "-c", READ_BACK], env=no_server, capture_output=True, text=True, timeout=300, check=True)
    states = {run["state"] for run in json.loads(read.stdout.splitlines()[-1]) if run["flow"] == str(warehouse)}
    assert states == {"Crashed"}, "the interrupted run was reported to the server before it stopped"


def test_a_run_killed_with_sigkill_does_not_leave_its_temporary_server_running(no_server: dict[str, str], tmp_path: Path) -> None:
    # Killed in the middle of its flow, after the publish gate (the kill tests' crash point).
    command = subprocess.Popen(
        [str(BIN / "paperfeed"), "run", "-w", str(tmp_path / "warehouse")], env=no_server | {CRASH_ENV: "after_publish_gate"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    servers = started_server(command)
    try:
        assert command.wait(timeout=240) == -signal.SIGKILL
        alive = wait_ended(servers, 30)
        assert not alive, f"left running: {[p.pid for p in alive]}"
    finally:
        end(command, servers)


def running(process: psutil.Process) -> bool:
    """Not ended (a zombie has: only who reaps orphans here decides when it goes)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_ended(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of `processes` still running after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while any(running(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in processes if running(p)]


def started_server(command: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The temporary server `command` starts, once it has."""
    watched, deadline, servers = psutil.Process(command.pid), time.monotonic() + 120, []
    while not servers and time.monotonic() < deadline and command.poll() is None:
        servers = servers_of(watched)
        time.sleep(0.05)
    assert servers, "the command started no temporary server"
    return servers


def end(command: subprocess.Popen[bytes], servers: list[psutil.Process]) -> None:
    """Whatever a failed test left running (the servers first: they hold the command's pipes too)."""
    for server in servers:
        if running(server):
            server.kill()
    if command.poll() is None:
        command.kill()
        command.communicate()
