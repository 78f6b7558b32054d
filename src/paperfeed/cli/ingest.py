"""Commands for the operator who ingests: run, backfill, serve on a schedule."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from paperfeed import config
from paperfeed.cli import startup
from paperfeed.cli.common import (
    DEFAULT_BATCH_MB,
    DEFAULT_WAIT,
    DEFAULT_WAREHOUSE,
    BatchOption,
    DaskOption,
    Exit,
    JsonOption,
    LandingOption,
    SettleOption,
    VerboseOption,
    WaitOption,
    WarehouseOption,
    YearOption,
    check_cluster,
    fail,
    prefect_defaults,
    resolve_landing,
    say,
)
from paperfeed.cli.console import emit_json, err, out, print_run, working
from paperfeed.storage.layout import absolute

R = TypeVar("R")


def run(
    landing: LandingOption = None,
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    year: YearOption = None,
    wait: WaitOption = DEFAULT_WAIT,
    settle: SettleOption = 0,
    retry_rejected: Annotated[
        bool, typer.Option("--retry-rejected", help="Process files rejected before again (after fixing, e.g., --year).")
    ] = False,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    dask_address: DaskOption = None,
    batch_mb: BatchOption = DEFAULT_BATCH_MB,
) -> None:
    """Ingest the new files of a landing folder as one new dataset version."""
    with interruptible(warehouse):
        place, year = resolve_landing(landing, year)
        check_cluster(dask_address)
        from paperfeed.ops.context import new_run_id

        run_id = new_run_id(dt.datetime.now(dt.UTC))
        with locked(warehouse, run_id, wait), working(f"ingesting {place}"), orchestrator(place, warehouse, settle, verbose):
            from paperfeed_flows.ingest import ingest

            flow = ingest.with_options(retries=0)  # the operator gets the answer at once
            with command_runs(warehouse):
                summary = orchestrated(lambda: flow(
                    landing=str(place), warehouse=absolute(warehouse), year=year, lock_wait_seconds=0,
                    retry_rejected=retry_rejected, settle_seconds=settle, run_id=run_id, dask_address=dask_address,
                    batch_mb=batch_mb,
                ))
    emit_json(summary.as_dict()) if as_json else print_run(summary)
    raise typer.Exit(Exit.INPUT_PROBLEMS if summary.had_input_problems else Exit.OK)


def backfill(
    names: Annotated[list[str] | None, typer.Argument(help="Files to ingest, relative to the landing folder. Default: all.")] = None,
    landing: LandingOption = None,
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    year: YearOption = None,
    since: Annotated[dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="Only snapshots dated on or after this day.")] = None,
    until: Annotated[dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Only snapshots dated on or before this day.")] = None,
    wait: WaitOption = DEFAULT_WAIT,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
    dask_address: DaskOption = None,
) -> None:
    """Ingest snapshot files one run each, in date order (files without a date last)."""
    with interruptible(warehouse):
        place, year = resolve_landing(landing, year)
        check_cluster(dask_address)
        if names:  # a name that is not there is a usage error, told before the orchestrator starts
            from paperfeed.storage.landing import LandingError, list_landing, select

            listed = list_landing(place)
            try:
                select(listed, [n for n in names if n not in {r.source_name for r in listed.refused}])
            except LandingError as error:
                fail(str(error), Exit.USAGE)
        with locked(warehouse, "backfill", wait), working(f"backfilling {place}"), orchestrator(place, warehouse, 0, verbose):
            from paperfeed_flows.ingest import backfill as flow

            with command_runs(warehouse):
                done = orchestrated(lambda: flow(
                    landing=str(place), warehouse=absolute(warehouse), names=names, year=year,
                    since=since.date() if since else None, until=until.date() if until else None, lock_wait_seconds=0,
                    dask_address=dask_address,
                ))
    for link in done.refused:
        err.print(f"[red]refused[/] {escape(link.source_name)}: {escape(link.reason)}", highlight=False)
    if not done.runs:
        fail("no snapshot file matches", Exit.INPUT_PROBLEMS if done.refused else Exit.USAGE)
    if as_json:
        emit_json([s.as_dict() for s in done.runs])
    else:
        table = Table("file", "status", "date", "dataset version", "message", title=f"backfill of {len(done.runs)} files")
        for s in done.runs:
            first = s.outcomes[0] if s.outcomes else None
            table.add_row(
                escape(first.source_name if first else ""), first.status if first else "", (first.snapshot_date or "") if first else "",
                str(s.dataset_version or ""), escape(s.message),
            )
        out.print(table)
    problems = done.refused or any(s.had_input_problems for s in done.runs)
    raise typer.Exit(Exit.INPUT_PROBLEMS if problems else Exit.OK)


def serve(
    landing: LandingOption = None,
    warehouse: WarehouseOption = DEFAULT_WAREHOUSE,
    year: YearOption = None,
    cron: Annotated[str, typer.Option(help="When to run (cron, in --timezone).")] = config.DEFAULT_CRON,
    timezone: Annotated[str, typer.Option(help="Time zone of --cron.")] = "UTC",
    name: Annotated[str, typer.Option(help="Name of the Prefect deployment.")] = config.DEFAULT_DEPLOYMENT,
    settle: SettleOption = config.DEFAULT_SERVE_SETTLE_SECONDS,
    dask_address: DaskOption = None,
    batch_mb: BatchOption = DEFAULT_BATCH_MB,
) -> None:
    """Serve the ingest flow as a scheduled Prefect deployment (needs a Prefect server: PREFECT_API_URL)."""
    place, year = resolve_landing(landing, year)
    check_cluster(dask_address)
    if not os.environ.get("PREFECT_API_URL"):
        fail("serve needs a Prefect server: start one with `prefect server start`, then "
             "export PREFECT_API_URL=http://127.0.0.1:4200/api", Exit.USAGE)
    prefect_defaults(verbose=True)
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType
    from pydantic import ValidationError

    try:
        zoneinfo.ZoneInfo(timezone)
        schedule = Cron(cron, timezone=timezone)
    except zoneinfo.ZoneInfoNotFoundError:
        fail(f"--timezone {timezone!r} is not a time zone (use an IANA name such as Europe/Berlin)", Exit.USAGE)
    except (ValueError, ValidationError) as error:
        fail(f"--cron {cron!r} is not a schedule: {str(error).splitlines()[0]}", Exit.USAGE)

    from paperfeed_flows.ingest import ingest

    parameters = {"landing": str(place), "warehouse": absolute(warehouse), "year": year, "settle_seconds": settle,
                  "dask_address": dask_address, "batch_mb": batch_mb}
    err.print(escape(f"serving deployment paperfeed-ingest/{name}: {cron} ({timezone}); Ctrl-C stops"), highlight=False)
    startup.done()  # serving runs for days: its garbage is collected as Python does
    try:
        ingest.serve(
            name=name,
            schedule=schedule,
            parameters=parameters,
            limit=1,  # one run at a time (the warehouse lock would make a second one wait anyway)
            entrypoint_type=EntrypointType.MODULE_PATH,  # runs import paperfeed_flows, wherever serve started
            print_starting_message=False,
        )
    except Exception as error:  # noqa: BLE001 - one line for people (an unreachable server, say)
        fail(f"serving failed: {type(error).__name__}: {str(error).splitlines()[0]}", Exit.FAILED)


@contextmanager
def orchestrator(landing: Path | str, warehouse: str, settle: float, verbose: bool) -> Iterator[None]:
    """Prefect ready for this command's flow: its API (a temporary server when none is configured,
    started first so that it boots on the other core while this process imports:
    cli/prefect_server.py), Great Expectations imported in the background when there are new files
    to check, and the flow runs of this warehouse's ended commands marked finished."""
    prefect_defaults(verbose)
    from paperfeed.cli.prefect_server import prefect_api, ready

    with prefect_api() as server:
        from paperfeed.ops.context import FromLanding
        from paperfeed.ops.run import has_new_files
        from paperfeed.storage.warehouse import Warehouse

        if has_new_files(Warehouse.at(warehouse), FromLanding(landing, settle)):
            from paperfeed.quality.gx import prewarm

            startup.loading(prewarm())  # a thread: it has the interpreter while this one waits for the server
        from paperfeed_flows.abandoned import finish_abandoned_runs

        ready(server)
        try:
            finish_abandoned_runs(warehouse)  # the lock is held: any such run's command has ended
        except Exception:  # noqa: BLE001 - a server that cannot be reached fails the flow next, in one line
            pass
        yield


@contextmanager
def interruptible(warehouse: str) -> Iterator[None]:
    """Ctrl-C: one line saying whether a version was published and which is current, this
    command's flow runs finished on the Prefect server (not left Pending or Running), exit 130.
    Enter it first thing: a Ctrl-C before it would end in click's bare "Aborted!"."""
    # A Ctrl-C that lands while Python runs a finaliser cannot stop anything: Python prints it as
    # "Exception ignored" with a traceback and goes on. Said in one line instead; the run goes on.
    default_hook = sys.unraisablehook
    late: list[sys.UnraisableHookArgs] = []

    def unraisable(event: sys.UnraisableHookArgs) -> None:
        if isinstance(event.exc_value, KeyboardInterrupt):
            _CTRL_C.clear()  # lost, as said: the run's own outcome decides the exit
            if not late:
                say("interrupted while Python was tidying up, too late to stop the run: it goes on to the end")
            late.append(event)
        else:
            default_hook(event)

    sys.unraisablehook = unraisable
    # Noted as well as raised: a library may turn the KeyboardInterrupt into an error of its own
    # (DuckDB: "Query interrupted") or into a result (see orchestrated).
    _CTRL_C.clear()

    def on_ctrl_c(signum: int, frame: object) -> None:
        _CTRL_C.set()
        signal.default_int_handler(signum, frame)  # type: ignore[arg-type]  # raises KeyboardInterrupt

    # Only in place of Python's own handler, and only where handlers may be set (the main thread):
    # a SIGINT the process was told to ignore (`trap '' INT`, a background job) stays ignored.
    ours = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if ours:
        signal.signal(signal.SIGINT, on_ctrl_c)
    before: list[int | None] = []  # the current version as the command started, once read
    try:
        before.append(_current_number(warehouse))
        yield
    except KeyboardInterrupt:
        from paperfeed.ops.finish import what_stays

        number = _current_number(warehouse)
        if number == _UNREADABLE:
            say("interrupted (the warehouse could not be read to say what was published: see `paperfeed versions`)")
        elif not before or number == before[0]:  # interrupted before reading it: before anything began
            say(f"interrupted: nothing was published; {what_stays(number)}")
        else:
            say(f"interrupted after publishing dataset version {number} (`paperfeed export` writes its release if it is missing)")
        raise typer.Exit(Exit.INTERRUPTED) from None
    finally:
        sys.unraisablehook = default_hook
        if ours:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _CTRL_C.clear()  # noted for this command only


_CTRL_C = threading.Event()  # set by a Ctrl-C inside `interruptible`
_UNREADABLE = -1  # what _current_number gives for a warehouse it cannot read


def _current_number(warehouse: str) -> int | None:
    """The current dataset version (None: nothing published), or _UNREADABLE: a damaged warehouse
    is the run's to report, in its own words."""
    from paperfeed.storage.objects import is_remote
    from paperfeed.storage.warehouse import Warehouse

    try:
        current = Warehouse.at(warehouse).current() if is_remote(warehouse) or Path(warehouse).is_dir() else None
    except Exception:  # noqa: BLE001
        return _UNREADABLE
    return current.number if current else None


@contextmanager
def command_runs(warehouse: str) -> Iterator[None]:
    """Around a command's flow call, with the lock held: its flow runs carry COMMAND_TAG, and on
    Ctrl-C those not final, or Failed by it, are marked Crashed before the lock is let go (best
    effort: Prefect's temporary server ends with a terminal's Ctrl-C too; then the next command
    marks those not final)."""
    from prefect import tags

    from paperfeed_flows.abandoned import COMMAND_TAG, finish_abandoned_runs

    since = dt.datetime.now(dt.UTC)
    try:
        with tags(COMMAND_TAG):
            yield
    except KeyboardInterrupt:
        try:
            finish_abandoned_runs(warehouse, since, "interrupted (Ctrl-C)", failed=True)
        except BaseException:  # noqa: BLE001 - a server gone, or a second Ctrl-C: the next command marks them
            pass
        raise


@contextmanager
def locked(warehouse: str, holder: str, wait: float) -> Iterator[None]:
    """The warehouse's writer lock, tried before the orchestrator starts: a locked warehouse
    answers within --wait seconds, naming the holder."""
    from paperfeed.storage.lock import WarehouseLocked
    from paperfeed.storage.warehouse import Warehouse

    store = Warehouse.at(warehouse)
    try:
        with store.lock(holder, wait, on_wait=say):
            yield
    except WarehouseLocked as error:
        fail(str(error), Exit.LOCKED)


def orchestrated(call: Callable[[], R]) -> R:
    """Run a flow here and now; its expected failures become one line and an exit code."""
    from paperfeed.ops.cluster import ClusterError
    from paperfeed.ops.rebuild import RebuildError
    from paperfeed.ops.run import PublishedWithProblems
    from paperfeed.quality.gate import PublishBlocked
    from paperfeed.storage.archive import ArchiveError
    from paperfeed.storage.landing import LandingError
    from paperfeed.storage.lock import LeaseLost, WarehouseLocked
    from paperfeed.storage.objects import ObjectStoreError

    startup.done()  # the flow is the work: its garbage is collected as Python does
    try:
        with without_heartbeats():
            return _noticing_ctrl_c(call)
    except WarehouseLocked as error:
        fail(str(error), Exit.LOCKED)
    except PublishBlocked as error:
        fail(str(error), Exit.BLOCKED)
    except PublishedWithProblems as error:
        print_run(error.summary)
        fail(f"dataset version {error.summary.dataset_version} is published, but: {error}", Exit.PUBLISHED_WITH_PROBLEMS)
    except (LandingError, RebuildError) as error:
        fail(str(error), Exit.USAGE)
    except (ArchiveError, ClusterError, ObjectStoreError, LeaseLost) as error:
        fail(str(error), Exit.FAILED)
    except Exception as error:  # noqa: BLE001 - one line for people; Prefect keeps the traceback
        fail(f"run failed: {type(error).__name__}: {error} (see the Prefect UI, or --verbose)", Exit.FAILED)


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """A command's flow run sends no heartbeats, unless the operator set their frequency. Prefect
    (since March 2026, PrefectHQ/prefect#21058) sends one every 180 s from a thread that sleeps
    in one-second steps, and the flow waits for that thread as it ends: up to a second on every
    run, whatever it did (0.5 s, median, on a `paperfeed run` with nothing new).
    Heartbeats let a server's automation mark a silent run Crashed after 9 minutes; a command's
    run is marked Crashed by paperfeed itself on Ctrl-C or by its next command (the writer's
    lock is held until then). Served deployment runs keep Prefect's default, and so does a
    command where the operator set the frequency (environment, profile or prefect.toml)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _noticing_ctrl_c(call: Callable[[], R]) -> R:
    """call(), where a Ctrl-C that a library turned into something else is a Ctrl-C again. Prefect's
    task engine, hit while it creates a task run, fails with ValueError("Task run is not set") as it
    marks the run it has not yet got Crashed; DuckDB ends its query with "Query interrupted", which
    a run reports as a problem after publishing. Either way the user pressed Ctrl-C: the command
    says what was published and exits 130, not "run failed" (5) or "published, but" (7)."""
    try:
        result = call()
    except Exception as error:
        if _CTRL_C.is_set() or _behind_it_a_ctrl_c(error):
            raise KeyboardInterrupt from error
        raise
    if _CTRL_C.is_set():
        raise KeyboardInterrupt
    return result


def _behind_it_a_ctrl_c(error: BaseException) -> bool:
    """Whether the error was raised while a KeyboardInterrupt was being handled."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False
