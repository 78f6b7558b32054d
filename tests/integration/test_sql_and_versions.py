"""The command line over a warehouse, in process: SQL, versions, wide results, values as text."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperfeed.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize(
    "query", ["COPY (SELECT 1) TO '{out}'", "SELECT 1; COPY (SELECT 1) TO '{out}'", "CREATE TABLE t AS SELECT 1"]
)
def test_sql_runs_one_query_and_refuses_commands_before_running_anything(
    tiny_warehouse: Path, tmp_path: Path, query: str
) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["sql", "-w", str(tiny_warehouse), query.format(out=out)])
    assert result.exit_code == 2 and "runs one query" in result.output
    assert not out.exists()


def test_a_result_too_wide_for_the_terminal_is_printed_one_row_per_block(tiny_warehouse: Path) -> None:
    narrow = runner.invoke(app, ["versions", "-w", str(tiny_warehouse)], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0
    # every column name is printed whole, each beside its value, instead of cut to "n_a…"
    assert "…" not in narrow.output
    for name, value in [("dataset_version", "1"), ("n_accepted", "1"), ("n_rejected", "1"), ("n_papers", "1"), ("n_new_papers", "1")]:
        assert any(line.split() == [name, value] for line in narrow.output.splitlines()), name
    wide = runner.invoke(app, ["versions", "-w", str(tiny_warehouse)], env={"COLUMNS": "400"})
    assert wide.exit_code == 0 and "row 1" not in wide.output
    header = next(line for line in wide.output.splitlines() if "dataset_version" in line)
    assert "n_accepted" in header and "n_appearances" in header


def test_sql_without_a_query_says_how_to_give_one(tiny_warehouse: Path) -> None:
    result = runner.invoke(app, ["sql", "-w", str(tiny_warehouse)], input="")
    assert result.exit_code == 2 and "give a query" in result.output
    piped = runner.invoke(app, ["sql", "-w", str(tiny_warehouse), "--format", "csv", "-"], input="SELECT count(*) AS n FROM papers\n")
    assert piped.exit_code == 0 and piped.output.splitlines() == ["n", "2"]


@pytest.mark.parametrize("columns", ["300", "80"])  # the table, and the block per row
def test_values_print_as_they_are_not_as_markup(tiny_warehouse: Path, columns: str) -> None:
    wide = ", ".join(f"{i} AS a_column_name_long_enough_{i}" for i in range(3))
    query = f"SELECT '[bold]BERT[/bold] and [mask] [/]' AS \"[t]\", {wide}"
    result = runner.invoke(app, ["sql", "-w", str(tiny_warehouse), query], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert ("row 1" in result.output) == (columns == "80")
    assert "[bold]BERT[/bold] and [mask] [/]" in result.output and "[t]" in result.output


@pytest.mark.parametrize("format", ["table", "csv", "json"])
def test_a_reader_that_stops_early_ends_the_query_quietly(tiny_warehouse: Path, format: str) -> None:
    """`paperfeed sql ... | head -1`, the installed command in a shell: status 141 (SIGPIPE) or 0,
    as Unix tools end, and not a word on stderr."""
    command = [str(Path(sys.executable).with_name("paperfeed")), "sql", "-w", str(tiny_warehouse), "--format", format,
               "SELECT range AS n, repeat('x', 80) AS pad FROM range(5000)"]
    shell = f"{shlex.join(command)} | head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() in {"0", "141"} and done.stderr == ""


@pytest.mark.parametrize(
    "args", [["sql", "SELECT count(*) FROM papers"], ["versions"], ["export"], ["verify"]], ids=lambda a: a[0]
)
def test_a_command_ends_its_start_where_its_work_begins(tiny_warehouse: Path, args: list[str]) -> None:
    """Until a command's work begins, full garbage collections freeze instead of collecting
    (cli/startup.py): every command must end that, or its cyclic garbage would never be freed."""
    from paperfeed.cli import startup

    try:
        startup.begin()
        result = runner.invoke(app, [*args, "--warehouse", str(tiny_warehouse)])
        assert result.exit_code == 0, result.output
        assert not startup.starting()
    finally:
        startup.done()


def test_serve_ends_its_start_before_it_serves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from paperfeed.cli import startup
    from paperfeed_flows.ingest import ingest

    served = []
    monkeypatch.setattr(ingest, "serve", lambda **options: served.append(startup.starting()))
    try:
        startup.begin()
        result = runner.invoke(app, ["serve", "--warehouse", str(tmp_path / "w")], env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
        assert result.exit_code == 0, result.output
        assert served == [False]
    finally:
        startup.done()
