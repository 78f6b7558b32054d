"""Flow runs a `paperfeed` command left unfinished on the Prefect server: one interrupted with Ctrl-C
while Prefect was starting it (its run stays Pending), or killed (it stays Running). Each is marked
Crashed, with a message saying so, so that no run of the warehouse stays in a state that is not final.

Only the runs of `paperfeed run` and `paperfeed backfill` are touched: they carry the tag
COMMAND_TAG, and such a command holds the warehouse's lock for as long as its flow runs. So while
this process holds the lock, every tagged run of the warehouse that is not final belongs to a
command that has ended. Scheduled runs (`serve`) and flows called from Python carry no tag.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Crashed
from prefect.types import DateTime

from paperfeed.storage.layout import absolute
from paperfeed.storage.objects import is_remote

# Not paperfeed-rebuild: its `warehouse` is the one it reads, whose lock it does not hold.
FLOWS = ["paperfeed-ingest", "paperfeed-backfill"]
COMMAND_TAG = "paperfeed-command"  # on the flow runs of `paperfeed run` and `paperfeed backfill`
NOT_FINAL = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED, StateType.CANCELLING]


def finish_abandoned_runs(warehouse: str, since: dt.datetime | None = None, message: str = "", failed: bool = False) -> int:
    """Mark Crashed the command-started flow runs of `warehouse` that are not final (only those
    expected to start after `since`, if given), and with `failed` those that ended Failed too (a
    Ctrl-C that a library turned into an error fails the flow before the command sees the Ctrl-C).
    Call with the warehouse's lock held. The count."""
    runs_filter = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[*NOT_FINAL, StateType.FAILED] if failed else NOT_FINAL)),
        deployment_id=FlowRunFilterDeploymentId(is_null_=True),
        tags=FlowRunFilterTags(all_=[COMMAND_TAG]),
        # Prefect's filter types its times as its own DateTime; pydantic converts a datetime.
        expected_start_time=FlowRunFilterExpectedStartTime(after_=cast(DateTime, since)) if since else None,
    )
    mine = absolute(warehouse)
    finished = 0
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=FLOWS)), flow_run_filter=runs_filter):
            named = run.parameters.get("warehouse")  # the commands pass it as `absolute` gives it
            if not isinstance(named, str) or not (is_remote(named) or Path(named).is_absolute()) or absolute(named) != mine:
                continue  # (an s3:// address is no absolute Path: it was never matched before)
            reason = message or "its paperfeed command ended before the run finished (interrupted or killed)"
            client.set_flow_run_state(run.id, Crashed(message=reason), force=True)
            finished += 1
    return finished
