"""Ingest flow: one landing folder -> one dataset version. It only composes library steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from paperfeed.storage import archive as archive_io
from paperfeed.ops import run as pipeline
from paperfeed.config import DEFAULT_LOCK_WAIT_SECONDS
from paperfeed.storage.landing import list_landing, read_snapshot, select
from paperfeed.prepare.snapshot import prepare_snapshot
from paperfeed.storage.warehouse import warehouse_lock

# Inputs are frames and file bytes: never cache or persist them as task results.
list_files = task(name="list landing folder", retries=2, retry_delay_seconds=2, cache_policy=NONE)(list_landing)
read_file = task(
    name="read snapshot",
    task_run_name="read {file.source_name}",
    retries=3,
    retry_delay_seconds=[1, 2, 4],
    cache_policy=NONE,
)(read_snapshot)
prepare = task(name="parse and normalise", task_run_name="parse {snapshot.file.source_name}", cache_policy=NONE)(
    prepare_snapshot
)
load_state = task(name="load published state", retries=2, retry_delay_seconds=2, cache_policy=NONE)(pipeline.load_state)
keep = task(name="archive raw files", retries=2, retry_delay_seconds=2, cache_policy=NONE)(pipeline.archive)
replay = task(name="replay raw archive", cache_policy=NONE)(archive_io.replay)
check = task(name="quality gate", cache_policy=NONE)(pipeline.check_snapshots)
plan = task(name="curate", cache_policy=NONE)(pipeline.plan_run)
publish = task(name="publish", cache_policy=NONE)(pipeline.publish_run)
finish = task(name="release and report", retries=1, retry_delay_seconds=2, cache_policy=NONE)(pipeline.finish_run)

# Retried as a whole when it fails (a scheduled run that met a full disk, a lock held too long);
# the command line turns this off, to answer at once.
@flow(name="paperfeed-ingest", log_prints=False, retries=2, retry_delay_seconds=300)
def ingest(
    landing: str,
    warehouse: str,
    year: int | None = None,
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    retry_rejected: bool = False,
    replay_from: str | None = None,
    replay_run: str | None = None,
    only: list[str] | None = None,
    settle_seconds: float = 0,
) -> dict[str, Any]:
    """Ingest the new files of `landing` into `warehouse` as one dataset version (only the files
    named in `only`, if given); or, with `replay_from` and `replay_run`, the files that published
    run of that warehouse processed, from its raw archive (what `paperfeed rebuild` runs, once per
    version). A file modified less than `settle_seconds` ago is left for a later run."""
    logger = get_run_logger()
    ctx = pipeline.start_run(Path(replay_from or landing), Path(warehouse), year)
    with warehouse_lock(
        ctx.warehouse, ctx.run_id, lock_wait_seconds, on_wait=lambda holder: logger.warning("waiting for %s", holder)
    ):
        gate = pipeline.open_gate(ctx)
        state = load_state(ctx.warehouse)
        if replay_from is None:
            found = select(list_files(ctx.landing, settle_seconds), only)
            raws, refused, waiting = read_file.map(found.files).result(), found.refused, found.waiting
        elif replay_run is not None:
            # Every replayed file was processed by the run replayed, a retried rejection included.
            raws, refused, waiting, retry_rejected = replay(Path(replay_from), replay_run), [], [], True
        else:
            raise ValueError("replay_from needs replay_run: the published run to replay")
        new, known = pipeline.split_known(raws, state, retry_rejected)
        keep(ctx, raws, new)
        prepared = prepare.map(new, pipeline.years(new, year)).result()
        checked = check(gate, prepared)
        summary = finish(ctx, publish(ctx, state, plan(ctx, state, checked, known, refused, waiting), gate))
    create_markdown_artifact(summary.to_markdown(), key="paperfeed-run", description=summary.message)
    logger.info(summary.message)
    return summary.as_dict()
