"""The command line: help everywhere, the same flags meaning the same thing, errors in one line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from paperfeed.cli import app

COMMANDS = ["run", "backfill", "serve", "sql", "versions", "export", "rebuild"]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_shared_flags_are_the_same_everywhere() -> None:
    helps = {c: runner.invoke(app, [c, "--help"], env={"COLUMNS": "200"}).output for c in COMMANDS}
    for flag, commands in {
        "--warehouse": COMMANDS,
        "--json": ["run", "backfill", "sql", "versions", "export", "rebuild"],
        "--landing": ["run", "backfill", "serve"],
        "--year": ["run", "backfill", "serve"],
    }.items():
        assert all(flag in helps[c] for c in commands), flag


def test_errors_are_one_line_with_an_exit_code(tmp_path: object) -> None:
    result = runner.invoke(app, ["versions", "-w", str(tmp_path)])
    assert result.exit_code == 2
    assert "nothing is published" in result.output and "Traceback" not in result.output
