"""The command line: help everywhere, the same flags meaning the same thing, errors in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
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
        "--batch-mb": ["run", "serve"],
    }.items():
        assert all(flag in helps[c] for c in commands), flag


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["versions", "-w", str(tmp_path)])
    assert result.exit_code == 2
    assert "nothing is published" in result.output and "Traceback" not in result.output


def test_a_batch_size_below_one_mib_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "-w", str(tmp_path), "--batch-mb", "0"])
    assert result.exit_code == 2 and "--batch-mb" in result.output and "Traceback" not in result.output


def test_the_ingest_flow_takes_files_batch_mb_at_a_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What `--batch-mb` (and PAPERFEED_BATCH_MB, and a deployment's parameter) reaches: the run's batch size."""
    from paperfeed.config import PREPARE_BATCH_BYTES
    from paperfeed_flows import ingest

    asked: list[int] = []
    monkeypatch.setattr(ingest, "run_ingest", lambda *args, batch_bytes, **kwargs: asked.append(batch_bytes))
    monkeypatch.setattr(ingest, "report", lambda summary: None)
    for batch_mb in (8, None):
        ingest.ingest.fn(landing=str(tmp_path), warehouse=str(tmp_path / "w"), batch_mb=batch_mb)
    assert asked == [8 * 2**20, PREPARE_BATCH_BYTES]


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--cron", "not a cron"], "is not a schedule"), (["--timezone", "Mars/Olympus"], "is not a time zone")],
)
def test_serve_checks_its_schedule_before_anything_starts(tmp_path: Path, options: list[str], message: str) -> None:
    result = runner.invoke(app, ["serve", "-w", str(tmp_path), *options], env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_run_names_its_report_and_release_whole_in_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths are there to be copied: never cut with '…', whatever the width."""
    from rich.console import Console

    from paperfeed.cli import console
    from paperfeed.model.status import RunStatus
    from paperfeed.publish.summary import RunSummary

    report = "/srv/data/paperfeed/warehouse/reports/20261201T222958Z-b1f31d84.html"
    release = "/srv/data/paperfeed/warehouse/releases/version=0001"
    narrow = Console(width=60, record=True)
    monkeypatch.setattr(console, "out", narrow)
    console.print_run(RunSummary("r", RunStatus.PUBLISHED, 1, "w", "l", message="published", run_report=report, release=release))
    lines = narrow.export_text().splitlines()
    assert any(line.split() == ["run", "report", report] for line in lines)
    assert any(line.split() == ["release", release] for line in lines)
    assert "…" not in narrow.export_text()


def test_a_run_counts_and_lists_entity_resolutions_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console counts them; the run summary (markdown, the flow's artifact) and the run report list them."""
    from rich.console import Console

    from paperfeed.cli import console
    from paperfeed.model.status import RunStatus
    from paperfeed.publish.pages import run_report
    from paperfeed.publish.summary import MatchDecision, RunSummary

    matches = [
        MatchDecision("videoarena a benchmark for video", "videoarena a benchmark and evaluation for video", "joined", "similar_title_corroborated", 0.91, 0.62),
        MatchDecision("d5rl diverse datasets", "d4rl datasets", "kept_apart", "numbers_differ", 0.84, None),
    ]  # fmt: skip
    summary = RunSummary(
        "r", RunStatus.PUBLISHED, 2, "w", "l", message="published", n_matched=1, n_candidates=1, matches=matches, n_merged_papers=1
    )
    assert (summary.as_dict()["n_matched"], summary.as_dict()["n_candidates"]) == (1, 1)
    assert summary.matches_not_listed() == ""  # all listed
    wide = Console(width=200, record=True)
    monkeypatch.setattr(console, "out", wide)
    console.print_run(summary)
    assert "1 joined under another title or abstract, 1 paper merged, 1 pair for review (paper_matches)" in wide.export_text()
    markdown = summary.to_markdown()
    assert "| 1 / 1 / 1 |" in markdown
    assert "| joined | similar_title_corroborated | videoarena a benchmark for video | videoarena a benchmark and evaluation for video | 0.91 | 0.62 |" in markdown
    assert "| kept_apart | numbers_differ | d5rl diverse datasets | d4rl datasets | 0.84 | — |" in markdown
    html = run_report(summary, [], {})
    assert "<td>numbers_differ</td>" in html and "<td>similar_title_corroborated</td>" in html


def test_a_ctrl_c_that_prefect_turned_into_another_error_is_still_a_ctrl_c() -> None:
    """Prefect's task engine, hit by Ctrl-C before its task run exists, raises ValueError while it
    handles the KeyboardInterrupt; the command must say "interrupted" (exit 130), not "run failed"."""
    from paperfeed.cli.ingest import orchestrated

    def prefect_hit_while_creating_a_task_run() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("Task run is not set")  # noqa: B904 - what Prefect does

    with pytest.raises(KeyboardInterrupt):
        orchestrated(prefect_hit_while_creating_a_task_run)


def test_a_failed_run_is_one_line_and_exit_5(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from paperfeed.cli.ingest import orchestrated

    def fails() -> None:
        raise ValueError("a bad day")

    with pytest.raises(typer.Exit) as exit_:
        orchestrated(fails)
    assert exit_.value.exit_code == 5
    assert "run failed: ValueError: a bad day" in capsys.readouterr().err


@pytest.mark.parametrize("operators", [None, 60])
def test_a_commands_flow_run_sends_no_heartbeats_unless_the_operator_set_them(operators: int | None) -> None:
    """Prefect's heartbeat thread costs a run up to a second as it ends (README, Performance); a
    frequency the operator set (environment, profile, prefect.toml) is kept."""
    from contextlib import nullcontext

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from paperfeed.cli.ingest import orchestrated

    assert get_current_settings().flows.heartbeat_frequency is not None  # Prefect's default: on
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: operators}) if operators else nullcontext():
        assert orchestrated(lambda: get_current_settings().flows.heartbeat_frequency) == operators


def test_a_ctrl_c_that_a_library_swallowed_is_still_a_ctrl_c(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DuckDB, hit by Ctrl-C during a query, ends it with its own error ("Query interrupted"),
    which a run reports as a problem after publishing: the command still says "interrupted"
    and exits 130 (here the warehouse is empty: nothing was published)."""
    import signal
    import time

    import typer

    from paperfeed.cli.ingest import interruptible, orchestrated

    def a_query_that_swallows_ctrl_c() -> str:
        try:
            signal.raise_signal(signal.SIGINT)  # to this thread, as a terminal's Ctrl-C reaches the main one
            time.sleep(5)  # Python runs the handler here at the latest
        except KeyboardInterrupt:
            return "published, but the DuckDB file was not rewritten: Query interrupted"
        raise AssertionError("the Ctrl-C did not arrive")

    # Python's own handler, as in a terminal: pytest started in the background by a shell without
    # job control (`cmd &` in a script) inherits SIGINT ignored, and a command then rightly ignores it.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(typer.Exit) as exit_, interruptible(str(tmp_path / "warehouse")):
            orchestrated(a_query_that_swallows_ctrl_c)
    finally:
        restored = signal.signal(signal.SIGINT, inherited)
    assert restored is signal.default_int_handler  # the command put Python's own handler back
    assert exit_.value.exit_code == 130
    assert "interrupted: nothing was published" in capsys.readouterr().err
    assert orchestrated(lambda: "rebuilt") == "rebuilt"  # the next command (rebuild, say) is not interrupted


def test_a_ctrl_c_the_process_was_told_to_ignore_stays_ignored(tmp_path: Path) -> None:
    """`trap '' INT`, a background job: the command does not put a handler of its own in place."""
    import signal

    from paperfeed.cli.ingest import interruptible

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interruptible(str(tmp_path / "warehouse")):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


class Cycle:
    """An object in a reference cycle: only the garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_while_a_command_starts_a_full_collection_freezes_what_is_alive_and_after_it_collects() -> None:
    import gc
    import weakref

    from paperfeed.cli import startup
    from paperfeed.cli.ingest import orchestrated

    frozen = gc.get_freeze_count()
    try:
        startup.begin()
        gc.collect()
        assert startup.starting() and gc.get_freeze_count() > frozen  # frozen, not walked
        assert orchestrated(lambda: 1) == 1  # the flow's work begins: collections are Python's own
        assert not startup.starting()
        garbage = Cycle()
        gone = weakref.ref(garbage)
        del garbage
        gc.collect()
        assert gone() is None  # the work's garbage is collected
    finally:
        startup.done()
        gc.unfreeze()  # the test process's objects as they were (Python's own collections again)


def test_the_start_lasts_until_what_loads_in_the_background_has_loaded() -> None:
    import gc
    import threading

    from paperfeed.cli import startup

    release = threading.Event()
    loader = threading.Thread(target=release.wait, daemon=True)
    loader.start()
    frozen = gc.get_freeze_count()
    try:
        startup.begin()
        startup.loading(loader)  # Great Expectations importing, say
        startup.done()  # the flow begins meanwhile
        gc.collect()
        assert startup.starting() and gc.get_freeze_count() > frozen
        release.set()
        loader.join()
        assert not startup.starting()
        frozen = gc.get_freeze_count()
        gc.collect()
        assert gc.get_freeze_count() == frozen  # collections are Python's own again
    finally:
        release.set()
        startup.done()
        gc.unfreeze()
