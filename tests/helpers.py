"""Builders for synthetic feed snapshots, shaped like the real ones (see the sample feed)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from paperfeed.ops import run as pipeline
from paperfeed.config import SAMPLE_FEED
from paperfeed.storage.landing import LandingFile, RawSnapshot
from paperfeed.prepare.snapshot import PreparedSnapshot, prepare_snapshot
from paperfeed.publish.summary import RunSummary

HEADER = ["new", "Get trending papers in your email inbox!", "Subscribe", "byAK and the research community"]
ARRIVED = dt.datetime(2025, 3, 22, 12, 0, tzinfo=dt.timezone.utc)
SAMPLE_001 = SAMPLE_FEED / "001_c6691ec033e09146.txt"  # holds a non-ASCII letter (TÜLU)


def abstract(topic: str, sentences: int = 6) -> str:
    """An abstract as long as real ones (over 300 characters), about `topic`."""
    return " ".join(f"We study {topic} from angle {i} and report what we found in experiment {i}." for i in range(sentences))


def feed_text(date: str | None, records: list[tuple[str, str | None]], header: list[str] | None = None) -> str:
    blocks = list(HEADER if header is None else header) + ([date] if date is not None else [])
    for title, text in records:
        blocks.append(title)
        if text is not None:
            blocks.append(text)
    return "\n\n".join(blocks)


def feed_bytes(
    date: str | None,
    records: list[tuple[str, str | None]],
    *,
    crlf: bool = False,
    bom: bool = False,
    final_newline: bool = False,
    trailing_spaces: bool = False,
) -> bytes:
    text = feed_text(date, records)
    if trailing_spaces:
        text = "\n".join(line + "  " if line else line for line in text.split("\n"))
    if final_newline:
        text += "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def raw_snapshot(raw: bytes, name: str = "feed.txt", arrived: dt.datetime = ARRIVED) -> RawSnapshot:
    return RawSnapshot(LandingFile(Path(name), name, arrived), raw)


def prepared(
    date: str | None,
    records: list[tuple[str, str | None]],
    name: str = "feed.txt",
    year: int | None = 2025,
    **variants: bool,
) -> PreparedSnapshot:
    return prepare_snapshot(raw_snapshot(feed_bytes(date, records, **variants), name), year)


def ingest(
    warehouse: Path, *files: tuple[str, bytes], year: int | None = 2025, retry_rejected: bool = False
) -> RunSummary:
    """One run without Prefect: the library steps the flow composes, quality gates included."""
    return run_steps(warehouse, [raw_snapshot(raw, name) for name, raw in files], year, retry_rejected)


def run_steps(warehouse: Path, raws: list[RawSnapshot], year: int | None = 2025, retry_rejected: bool = False) -> RunSummary:
    ctx = pipeline.start_run(warehouse / "landing", warehouse, year)
    gate = pipeline.open_gate(ctx)
    state = pipeline.load_state(warehouse)
    new, known = pipeline.split_known(raws, state, retry_rejected)
    pipeline.archive(ctx, raws, new)
    prepared_ = [prepare_snapshot(raw, y) for raw, y in zip(new, pipeline.years(new, year))]
    checked = pipeline.check_snapshots(gate, prepared_)
    summary = pipeline.publish_run(ctx, state, pipeline.plan_run(ctx, state, checked, known), gate)
    return pipeline.finish_run(ctx, summary)


def write_landing(folder: Path, files: dict[str, bytes]) -> Path:
    """Write files into a landing folder; their modification times follow the dict's order."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, raw) in enumerate(files.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        stamp = ARRIVED.timestamp() + i
        os.utime(path, (stamp, stamp))
    return folder


def paperfeed(*args: str, expect: int = 0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `paperfeed` command as a user would (`stdin` piped in); check its exit status."""
    command = [str(Path(sys.executable).with_name("paperfeed")), *args]
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"}
    )
    if result.returncode != expect:
        raise AssertionError(
            f"{command} exited {result.returncode}, expected {expect}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def sql_csv(warehouse: Path, query: str, *options: str) -> list[list[str]]:
    """`paperfeed sql --format csv` -> rows without the header."""
    lines = paperfeed("sql", "--warehouse", str(warehouse), "--format", "csv", *options, query).stdout.splitlines()
    return [line.split(",") for line in lines[1:]]
