"""What the command line prints: tables for people, CSV or JSON for machines, progress on stderr.

Results go to stdout; progress, waiting and errors go to stderr, so `--json` output pipes cleanly.
"""

from __future__ import annotations

import enum
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from paperfeed.model.status import FileStatus, RunStatus

if TYPE_CHECKING:  # the command line starts without the data stack (`paperfeed --help` stays quick)
    import polars as pl

    from paperfeed.publish.summary import RunSummary

out = Console()
err = Console(stderr=True)
STATUS_STYLE = {
    FileStatus.ACCEPTED: "green", FileStatus.DUPLICATE: "yellow", FileStatus.REJECTED: "red",
    FileStatus.REFUSED: "red", FileStatus.ALREADY_INGESTED: "dim", FileStatus.WAITING: "cyan",
}


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def emit(frame: pl.DataFrame, format: Format) -> None:
    """A result on stdout: a table for people, CSV or JSON (one object per row) for machines. A
    reader that stops early (`| head`) ends the command as it ends Unix tools: quietly, by SIGPIPE
    (status 141), not with Click's silent exit 1, which reads as "published with rejections".
    For the query commands only: they hold no socket that the signal could also end."""
    import polars as pl

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if format is Format.json:
        sys.stdout.write(frame.write_json() + "\n")
        return
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    flat = frame.with_columns(pl.col(name).map_elements(_to_json, return_dtype=pl.String) for name in nested)
    if format is Format.csv:
        sys.stdout.write(flat.write_csv())
        return
    # Values as Text, never markup: a title holding "[mask]" or "[/]" prints as it is.
    cells = [[Text("" if v is None else str(v)) for v in row] for row in flat.iter_rows()]
    if _header_width(flat.columns) <= out.width:
        table = Table(show_lines=False)
        for name in flat.columns:
            table.add_column(Text(name))
        for row in cells:
            table.add_row(*row)
        out.print(table)
    else:
        _print_rows_vertically(flat.columns, cells)
    out.print(f"{frame.height} row{'s' if frame.height != 1 else ''}", style="dim")


def _header_width(columns: list[str]) -> int:
    """Width of a table whose every column is just wide enough for its name (Rich pads 1 + 1 and draws a border)."""
    return sum(cell_len(name) + 3 for name in columns) + 1


def _print_rows_vertically(columns: list[str], cells: list[list[Text]]) -> None:
    # When not even the column names fit across the terminal, Rich would cut every header and value
    # to a few letters; one "name  value" block per row (DuckDB's `.mode line`) stays readable.
    for number, row in enumerate(cells, start=1):
        out.rule(f"row {number}", style="dim")
        block = Table(show_header=False, box=None, padding=(0, 1))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for name, value in zip(columns, row, strict=True):
            block.add_row(Text(name), value)
        out.print(block, highlight=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str, ensure_ascii=False, indent=2) + "\n")


def _to_json(value: object) -> str:
    return json.dumps(value.to_list() if isinstance(value, pl.Series) else value, ensure_ascii=False, default=str)


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner with the elapsed time on stderr while something takes a moment."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True) as bar:
        bar.add_task(message, total=None)
        yield


@contextmanager
def counting(message: str, total: int) -> Iterator[Progress]:
    """A progress bar over `total` steps on stderr; advance it with `.advance(bar.task_ids[0])`."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        bar.add_task(message, total=total)
        yield bar


def print_run(summary: RunSummary) -> None:
    """The end of a run: every file and what became of it, then the totals and where to look."""
    if summary.outcomes:
        table = Table(title=f"run {summary.run_id}")
        table.add_column("file", overflow="fold")
        table.add_column("status", no_wrap=True)
        table.add_column("date", no_wrap=True)
        table.add_column("records", justify="right")
        table.add_column("set aside", justify="right")
        table.add_column("reason", ratio=1)
        for o in summary.outcomes:
            table.add_row(
                Text(o.source_name), Text(o.status, style=STATUS_STYLE[o.status]), o.snapshot_date or "",
                str(o.n_records), str(o.n_quarantined or ""), Text(o.reason or ""),
            )
        out.print(table)
    for o in summary.outcomes:
        if o.dated_by_guess:
            err.print(
                Text(f"warning: {o.source_name} is dated {o.snapshot_date}: its header gives no year, so the year is "
                     "the one it arrived in; pass --year to say which year its snapshots are from"),
                style="yellow",
            )
    out.print(Text(summary.message, style="bold"))
    totals = Table(show_header=False, box=None, padding=(0, 2))
    counts = {status: summary.count(status) for status in FileStatus}
    totals.add_row("snapshots", ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none")
    totals.add_row("papers", f"{summary.n_new_papers} new, {summary.n_updated_papers} updated, {summary.n_papers} in all")
    if summary.n_matched or summary.n_candidates or summary.n_merged_papers:
        totals.add_row(
            "matching",
            f"{summary.n_matched} joined under another title or abstract, {_count(summary.n_merged_papers, 'paper')} merged, "
            f"{_count(summary.n_candidates, 'pair')} for review (paper_matches)",
        )
    totals.add_row("dataset version", str(summary.dataset_version or "none yet"))
    if summary.checks:
        totals.add_row("quality checks", f"{summary.quality.passed} of {summary.quality.evaluated} passed")
    out.print(totals, highlight=False)
    for label, value in (("run report", summary.run_report), ("release", summary.release)):
        if value:  # a path on a line of its own, never cut or wrapped: it is there to be copied
            out.print(f"  {label:<17}  {value}", soft_wrap=True, highlight=False, markup=False)
    if summary.n_quarantined and summary.status is RunStatus.PUBLISHED:
        out.print(f"{summary.n_quarantined} records set aside: paperfeed sql \"SELECT * FROM quarantine\"", highlight=False)
    elif summary.n_quarantined:  # recorded, not published: the run report lists them until the next version does
        out.print(f"{summary.n_quarantined} records set aside: see the run report", highlight=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
