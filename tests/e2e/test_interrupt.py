"""Ctrl-C on `paperfeed run`, at moments from Prefect's start-up to the end of the run: one line
saying whether a version was published and which one is current, exit status 130, no flow run of
the warehouse left Pending or Running on the Prefect server, and the next run converges."""

from __future__ import annotations

import os
import shutil
import signal
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from helpers import TwoVersions, paperfeed_forked, run_forked, sql_csv, unfinished_flow_runs

pytestmark = pytest.mark.slow


def _start(two_versions: TwoVersions, folder: Path) -> tuple[list[str], Path, BaseProcess]:
    """`paperfeed run` (version 1 -> 2) on a copy of the version-1 warehouse, forked, once the
    command has started: the args, the warehouse and the process. Waiting for the command's start,
    not the fork's: on a busy machine the forked process takes a while to get there, and a signal
    before it would hit the test's harness."""
    warehouse = folder / "warehouse"
    shutil.copytree(two_versions.base, warehouse, symlinks=True)
    args = ["run", "-l", str(two_versions.landing), "-w", str(warehouse), "--year", "2025"]
    process = paperfeed_forked(args, output=folder / "interrupted")
    started = folder / "interrupted.started"
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return args, warehouse, process


@pytest.fixture(scope="module")
def run_seconds(prefect_api: str, two_versions: TwoVersions, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long that run takes here, uninterrupted, from the command's start: the Ctrl-C moments
    below are fractions of it, so that they stay within the run as it gets faster."""
    _, _, process = _start(two_versions, tmp_path_factory.mktemp("timed"))
    began = time.monotonic()
    process.join(120)
    assert process.exitcode == 0
    return time.monotonic() - began


# From Prefect's start-up to the end of the run.
@pytest.mark.parametrize("moment", [0.05, 0.3, 0.6, 0.9])
def test_ctrl_c_says_what_was_published_and_leaves_no_flow_run_unfinished(
    prefect_api: str, two_versions: TwoVersions, tmp_path: Path, run_seconds: float, moment: float
) -> None:
    # The moment is a fraction of a run timed once; on this shared machine a run may be quicker
    # this time and end before a late moment. Then it is tried again on a fresh copy, the moment
    # taken as that fraction of the run that just ended (up to 3 tries).
    seconds = run_seconds
    for attempt in range(3):
        folder = tmp_path / f"try-{attempt}"
        args, warehouse, process = _start(two_versions, folder)
        began = time.monotonic()
        while process.is_alive() and time.monotonic() - began < moment * seconds:
            time.sleep(0.01)
        if process.is_alive():
            break
        seconds = time.monotonic() - began
    assert process.pid is not None and process.is_alive()  # a run takes seconds: the signal reaches it
    os.kill(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    process.join(120)
    lines = (folder / "interrupted.err").read_text().strip().splitlines()
    if process.exitcode == 0:  # it finished first, or the Ctrl-C came while Python ran a finaliser
        assert "Traceback" not in "\n".join(lines)
        assert [line for line in lines if line.startswith("interrupted")] in (
            [], ["interrupted while Python was tidying up, too late to stop the run: it goes on to the end"]
        )
    else:
        assert process.exitcode == 130, lines
        assert "Traceback" not in "\n".join(lines)
        current = int(sql_csv(warehouse, "SELECT max(dataset_version) FROM runs")[0][0])
        said = "interrupted: nothing was published; dataset version 1 stays current"
        if current == 2:
            said = "interrupted after publishing dataset version 2 (`paperfeed export` writes its release if it is missing)"
        assert lines[-1] == said, lines
        # Its flow run, if Prefect had made it before the Ctrl-C, ended Crashed, or Completed if the
        # Ctrl-C came after the flow returned, having published. (This was asked only when the output
        # held "Beginning flow run", which Prefect prints only with -v: never.)
        states = flow_run_states(warehouse)
        assert set(states) <= ({"Crashed", "Completed"} if current == 2 else {"Crashed"}), (states, lines)
    assert unfinished_flow_runs(warehouse) == []
    run_forked(*args)  # and the next run ends where an uninterrupted one would
    assert sql_csv(warehouse, "SELECT count(*) FROM papers") == [["281"]]
    assert unfinished_flow_runs(warehouse) == []


def flow_run_states(warehouse: Path) -> list[str]:
    """The state of each flow run of `warehouse` on the Prefect server (among the newest 200: the
    server's page, and the session's server holds more)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)
    return [r.state_name or "" for r in runs if r.parameters.get("warehouse") == str(warehouse)]
