"""What a run is asked to do, and the facts it carries from start to end."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from paperfeed.storage.landing import landing_at
from paperfeed.storage.layout import WarehouseLayout


@dataclass(frozen=True)
class FromLanding:
    """The new files of a landing folder (only the named ones, if `only` is given); a file changed
    less than `settle_seconds` ago is left for a later run."""

    folder: Path | str  # or an s3://bucket/prefix address (storage/landing.py)
    settle_seconds: float = 0
    only: list[str] | None = None


@dataclass(frozen=True)
class FromArchive:
    """The files the published run `run_id` of another warehouse processed, from its raw archive
    (what `paperfeed rebuild` replays, run by run)."""

    warehouse: WarehouseLayout
    run_id: str


Source = FromLanding | FromArchive


@dataclass(frozen=True)
class IngestRequest:
    source: Source
    year: int | None = None  # for snapshots whose header and path give no year
    retry_rejected: bool = False  # process files rejected before again (after fixing, e.g., --year)
    run_id: str | None = None  # given by the command line, which names it when it takes the lock


@dataclass(frozen=True)
class RunContext:
    run_id: str
    started_at: dt.datetime
    warehouse: str
    landing: str  # the folder the files came from, for the record
    year: int | None


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start_run(request: IngestRequest, warehouse: str) -> RunContext:
    """warehouse: where the run writes, its folder or s3:// address."""
    now = dt.datetime.now(dt.UTC)
    source = request.source
    landing = str(landing_at(source.folder)) if isinstance(source, FromLanding) else source.warehouse.location
    return RunContext(request.run_id or new_run_id(now), now, warehouse, landing, request.year)
