"""What every command shares: options that mean the same everywhere, exit codes, one-line errors.

Exit codes (also in the README): 0 done; 1 done, but some input was rejected, set aside or
refused; 2 bad usage, bad SQL or unknown version; 3 the warehouse is locked by another run; 4 the
publish gate failed and nothing was published; 5 the run failed otherwise; 6 a rebuild differs
from the warehouse it was rebuilt from, or verify found a problem; 7 a version was published, but
its release, run report or DuckDB file was not written (the version stays published).
"""

from __future__ import annotations

import os
from enum import IntEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from paperfeed import config
from paperfeed.cli.console import Format, err


class Exit(IntEnum):
    OK = 0
    INPUT_PROBLEMS = 1
    USAGE = 2
    LOCKED = 3
    BLOCKED = 4
    FAILED = 5
    DIFFERS = 6
    PUBLISHED_WITH_PROBLEMS = 7
    INTERRUPTED = 130  # Ctrl-C, as shells report a process ended by SIGINT


# The same option means the same thing in every command.
WarehouseOption = Annotated[
    str,
    typer.Option(
        "--warehouse", "-w", envvar="PAPERFEED_WAREHOUSE",
        help="Warehouse folder, or s3://bucket/prefix on S3-compatible object storage (README: On object storage).",
    ),
]
LandingOption = Annotated[
    str | None,
    typer.Option("--landing", "-l", help="Folder (or s3://bucket/prefix) of snapshot files. Default: the bundled sample feed."),
]
YearOption = Annotated[int | None, typer.Option("--year", help="Year of snapshots whose header and path give none.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON, for machines.")]
SettleOption = Annotated[
    float,
    typer.Option("--settle", min=0, help="Leave files changed less than this many seconds ago for a later run."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")]
WaitOption = Annotated[float, typer.Option("--wait", help="Seconds to wait for another run's lock on the warehouse.")]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address", envvar="PAPERFEED_DASK_ADDRESS",
        help="Dask scheduler (tcp://HOST:8786) whose workers do each batch's per-file work. Default: all on this machine.",
    ),
]
BatchOption = Annotated[
    int,
    typer.Option(
        "--batch-mb", envvar="PAPERFEED_BATCH_MB", min=1,
        help="Take new files about this many MiB at a time: a run's peak memory follows it (README, Performance).",
    ),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
DEFAULT_WAREHOUSE = str(config.DEFAULT_WAREHOUSE)
DEFAULT_WAIT = config.DEFAULT_LOCK_WAIT_SECONDS
DEFAULT_BATCH_MB = config.PREPARE_BATCH_BYTES // 2**20


def fail(message: str, code: Exit) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


def print_error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def storage_failure(error: OSError) -> str:
    """An OSError that reached the command line, in one line: deltalake reports a store it cannot
    reach as an OSError with a chain of causes; a disk, with the path it could not use."""
    from paperfeed.storage.objects import in_one_line

    if error.filename is not None:
        return f"{error.strerror or in_one_line(error)}: {error.filename}"
    return in_one_line(error)


def say(message: str) -> None:
    """A line for the operator on stderr (waiting for the lock, say)."""
    err.print(escape(message), highlight=False, soft_wrap=True)


def resolve_landing(landing: str | None, year: int | None) -> tuple[Path | str, int | None]:
    """The landing folder, absolute (the bundled sample feed, with its year, by default), which
    must exist; or an s3:// address, as it is."""
    from paperfeed.storage.landing import landing_at

    if landing is None:
        landing, year = str(config.SAMPLE_FEED), config.SAMPLE_FEED_YEAR if year is None else year
    place = landing_at(landing)
    if isinstance(place, Path) and not place.is_dir():  # fail fast, before Prefect starts
        fail(f"landing folder {landing} does not exist or is not a folder", Exit.USAGE)
    return place, year


def prefect_defaults(verbose: bool) -> None:
    """Prefect settings for a command-line run, unless the operator set them already (before
    Prefect is imported: it reads them at import)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A temporary server on a fresh PREFECT_HOME needs 12-15 s to migrate; the default limit is 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if not verbose:
        # Only the terminal is quietened: Prefect's API (and UI) still receives every log line.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def check_cluster(address: str | None) -> None:
    """Fail at once, in one line, when the Dask scheduler cannot be reached or its workers cannot
    run this paperfeed (before the orchestrator starts: the run would fail the same way later)."""
    if address is None:
        return
    from paperfeed.ops.cluster import ClusterError, connected

    try:
        with connected(address):
            pass
    except ClusterError as error:
        fail(str(error), Exit.FAILED)
