"""A failure after publishing, as the operator meets it: `paperfeed run` exits 7 with one line, the
version stays published, and the Prefect flow run's log says what failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import abstract, feed_bytes, paperfeed, run_forked, sql_csv, write_landing

pytestmark = pytest.mark.slow


def test_paperfeed_run_exits_7_with_one_line_the_version_stays_and_prefect_logs_it(prefect_api: str, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    first = write_landing(tmp_path / "first", {"a.txt": feed_bytes("Mar 14", [("Paper One", abstract("one"))])})
    run_forked("run", "-l", str(first), "-w", str(warehouse), "--year", "2025")
    shutil.rmtree(warehouse / "reports")
    (warehouse / "reports").write_text("a file where the reports folder should be")
    second = write_landing(tmp_path / "second", {"b.txt": feed_bytes("Mar 15", [("Paper Two", abstract("two"))])})

    result = paperfeed("run", "-l", str(second), "-w", str(warehouse), "--year", "2025", expect=7)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: dataset version 2 is published, but: the run report was not written: ")
    assert "Traceback" not in result.stdout + result.stderr
    assert "published dataset version 2" in result.stdout  # the summary is printed all the same
    assert sql_csv(warehouse, "SELECT dataset_version FROM runs ORDER BY finished_at") == [["1"], ["2"]]
    assert (warehouse / "releases" / "version=0002" / "manifest.json").is_file()  # attempted all the same

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        # The session's server also holds other tests' runs: this one is the newest into this warehouse.
        recent = client.read_flow_runs(flow_run_filter=FlowRunFilter(), sort=FlowRunSort.START_TIME_DESC, limit=200)
        run = next(r for r in recent if r.parameters.get("warehouse") == str(warehouse))
        assert run.state is not None and run.state.is_failed()
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    assert any(log.message.startswith("the run report was not written: ") for log in logs), [log.message for log in logs]
