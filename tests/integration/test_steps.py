"""The Prefect flow retries steps by name: each name it retries is a step a run takes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import SAMPLES, write_landing
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.ops.steps import Steps
from paperfeed.storage.warehouse import Warehouse
from paperfeed_flows.tasks import RETRIES


class Named(Steps):
    """Plain steps that note their names."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.names.append(name)
        return fn(*args, **kwargs)


def test_every_retried_step_is_a_step_a_run_takes(tmp_path: Path) -> None:
    steps = Named()
    landing = write_landing(tmp_path / "landing", {p.name: p.read_bytes() for p in SAMPLES[:1]})
    run_ingest(Warehouse.at(tmp_path / "warehouse"), IngestRequest(FromLanding(landing), 2025), steps=steps)
    assert set(RETRIES) <= set(steps.names), sorted(set(RETRIES) - set(steps.names))
