"""The `paperfeed` command, one group of commands per user: the operator who ingests (run,
backfill, serve), the analyst (sql, versions), and the operator who looks after the warehouse
(export, rebuild, verify). Each command imports what it needs when it runs, so `--help` is quick."""

from __future__ import annotations

import atexit
import gc
import os
import sys

import typer

from paperfeed.cli import ingest, maintain, query, startup
from paperfeed.cli.common import Exit, print_error, storage_failure
from paperfeed.storage.landing import LandingError
from paperfeed.storage.objects import ObjectStoreError

DEBUG_ENV = "PAPERFEED_DEBUG"  # set: a store or disk error shows its traceback, for a bug report

app = typer.Typer(
    name="paperfeed",
    help="A curated, versioned dataset of the Hugging Face trending-papers feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (ingest.run, ingest.backfill, ingest.serve, query.sql, query.versions, maintain.export, maintain.rebuild, maintain.verify):
    app.command()(command)


def main() -> None:
    """The `paperfeed` command."""
    # Python's last garbage collection at exit walks every object Prefect, Great Expectations and
    # pandas made, for memory the OS takes back anyway: 3-4 s after a run, measured. Registered
    # first, this runs after every other exit handler (Prefect stopping its temporary server and
    # sending its last logs); frozen objects are left out of that collection.
    atexit.register(gc.freeze)
    startup.begin()  # imports until the work begins (cli/startup.py)
    try:
        app()
    except (OSError, ObjectStoreError) as error:  # a store or disk that cannot be reached or written, from any command
        if os.environ.get(DEBUG_ENV):
            raise
        print_error(storage_failure(error) if isinstance(error, OSError) else str(error))
        sys.exit(Exit.USAGE if isinstance(error, LandingError) else Exit.FAILED)
