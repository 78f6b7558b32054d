"""The command line: help everywhere, the same flags meaning the same thing, errors in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import abstract, feed_bytes, ingest
from typer.testing import CliRunner

from paperfeed.cli.app import app

COMMANDS = ["run", "backfill", "serve", "sql", "versions", "export", "rebuild", "verify"]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_shared_flags_are_the_same_everywhere() -> None:
    helps = {c: runner.invoke(app, [c, "--help"], env={"COLUMNS": "200"}).output for c in COMMANDS}
    for flag, commands in {
        "--warehouse": COMMANDS,
        "--json": ["run", "backfill", "sql", "versions", "export", "rebuild", "verify"],
        "--landing": ["run", "backfill", "serve"],
        "--year": ["run", "backfill", "serve"],
    }.items():
        assert all(flag in helps[c] for c in commands), flag


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["versions", "-w", str(tmp_path)])
    assert result.exit_code == 2
    assert "nothing is published" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "query", ["COPY (SELECT 1) TO '{out}'", "SELECT 1; COPY (SELECT 1) TO '{out}'", "CREATE TABLE t AS SELECT 1"]
)
def test_sql_runs_one_query_and_refuses_commands_before_running_anything(tmp_path: Path, query: str) -> None:
    ingest(tmp_path / "w", ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["sql", "-w", str(tmp_path / "w"), query.format(out=out)])
    assert result.exit_code == 2 and "runs one query" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--cron", "not a cron"], "is not a schedule"), (["--timezone", "Mars/Olympus"], "is not a time zone")],
)
def test_serve_checks_its_schedule_before_anything_starts(tmp_path: Path, options: list[str], message: str) -> None:
    result = runner.invoke(app, ["serve", "-w", str(tmp_path), *options], env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_result_too_wide_for_the_terminal_is_printed_one_row_per_block(tmp_path: Path) -> None:
    ingest(tmp_path / "w", ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    narrow = runner.invoke(app, ["versions", "-w", str(tmp_path / "w")], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0
    # every column name is printed whole, each beside its value, instead of cut to "n_a…"
    assert "…" not in narrow.output
    for name, value in [("dataset_version", "1"), ("n_accepted", "1"), ("n_papers", "1"), ("n_new_papers", "1")]:
        assert any(line.split() == [name, value] for line in narrow.output.splitlines()), name
    wide = runner.invoke(app, ["versions", "-w", str(tmp_path / "w")], env={"COLUMNS": "400"})
    assert wide.exit_code == 0 and "row 1" not in wide.output
    header = next(line for line in wide.output.splitlines() if "dataset_version" in line)
    assert "n_accepted" in header and "n_appearances" in header


def test_sql_without_a_query_says_how_to_give_one(tmp_path: Path) -> None:
    ingest(tmp_path / "w", ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    result = runner.invoke(app, ["sql", "-w", str(tmp_path / "w")], input="")
    assert result.exit_code == 2 and "give a query" in result.output
    piped = runner.invoke(app, ["sql", "-w", str(tmp_path / "w"), "--format", "csv", "-"], input="SELECT count(*) AS n FROM papers\n")
    assert piped.exit_code == 0 and piped.output.splitlines() == ["n", "1"]


@pytest.mark.parametrize("columns", ["300", "80"])  # the table, and the block per row
def test_values_print_as_they_are_not_as_markup(tmp_path: Path, columns: str) -> None:
    ingest(tmp_path / "w", ("a.txt", feed_bytes("Mar 14", [("Paper One", abstract("one"))])))
    wide = ", ".join(f"{i} AS a_column_name_long_enough_{i}" for i in range(3))
    query = f"SELECT '[bold]BERT[/bold] and [mask] [/]' AS \"[t]\", {wide}"
    result = runner.invoke(app, ["sql", "-w", str(tmp_path / "w"), query], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert ("row 1" in result.output) == (columns == "80")
    assert "[bold]BERT[/bold] and [mask] [/]" in result.output and "[t]" in result.output
