"""The `paperfeed` command, one group of commands per user: the operator who ingests (run,
backfill, serve), the analyst (sql, versions), and the operator who looks after the warehouse
(export, rebuild, verify). Each command imports what it needs when it runs, so `--help` is quick."""

from __future__ import annotations

import typer

from paperfeed.cli import ingest, maintain, query

app = typer.Typer(
    name="paperfeed",
    help="A curated, versioned dataset of the Hugging Face trending-papers feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (ingest.run, ingest.backfill, ingest.serve, query.sql, query.versions, maintain.export, maintain.rebuild, maintain.verify):
    app.command()(command)
