"""Builders for synthetic feed snapshots shaped like the real ones (see the sample feed), and the
ways tests run paperfeed: the library's one run function, or the installed command."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.process
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from paperfeed.cli.app import app
from paperfeed.config import SAMPLE_FEED
from paperfeed.model.inputs import LandingFile, RawSnapshot
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.ops.context import FromLanding, IngestRequest
from paperfeed.ops.run import run_ingest
from paperfeed.prepare.snapshot import prepare_snapshot
from paperfeed.publish.summary import RunSummary
from paperfeed.storage.duckdb import connect
from paperfeed.storage.layout import DUCKDB_FILE
from paperfeed.storage.warehouse import Warehouse

HEADER = ["new", "Get trending papers in your email inbox!", "Subscribe", "byAK and the research community"]
ARRIVED = dt.datetime(2025, 3, 22, 12, 0, tzinfo=dt.UTC)
SAMPLES = sorted(SAMPLE_FEED.glob("*.txt"))
SAMPLE_001 = SAMPLE_FEED / "001_c6691ec033e09146.txt"  # holds a non-ASCII letter (TÜLU)
_landings = itertools.count(1)


@dataclass(frozen=True)
class TwoVersions:
    """The end-to-end golden warehouses (tests/e2e/conftest.py), built with `paperfeed run`."""

    base: Path  # dataset version 1: the first three snapshots (do not change it: copy it)
    full: Path  # the same warehouse after a second run over all five: version 2 (do not change it)
    landing: Path  # all five snapshots


# Abstracts of different works, as real ones read (entity resolution tells works apart by them).
VIDEO = (
    "We present a method that turns a single photograph into an interactive video. A diffusion model predicts motion "
    "fields from user strokes, and a renderer animates the scene while keeping the identity of every object. On three "
    "benchmarks, users prefer our clips over the baselines in most comparisons."
)
# One sentence reworded: a revision (abstract score ~0.7, between similar_abstract and same_abstract).
VIDEO_REVISED = VIDEO.replace("predicts motion fields from user strokes", "predicts dense motion tracks from sparse user drags")
SCALING = (
    "We measure how the loss of transformer language models falls as parameters, data and compute grow. The loss "
    "follows a power law over seven orders of magnitude, and larger models are markedly more sample efficient than "
    "smaller ones, so the best use of a fixed budget is a very large model stopped early."
)
GAMES = (
    "We study how the playing strength of search based agents on board games changes with search depth and network "
    "width. Doubling the search budget buys a constant gain in rating, which lets us predict the strength of an agent "
    "before it is trained, and tells when to spend compute on search instead of on training."
)

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


def samples(*paths: Path) -> dict[str, bytes]:
    """Sample feed files by name, ready for write_landing or ingest."""
    return {p.name: p.read_bytes() for p in paths or SAMPLES}


def ingest(
    warehouse: Path, *files: tuple[str, bytes], year: int | None = 2025, retry_rejected: bool = False
) -> RunSummary:
    """One run of the library's run function (no Prefect) on a new landing folder holding `files`.
    A run the gate blocks raises PublishBlocked, as `run_ingest` does."""
    landing = write_landing(warehouse.parent / f"{warehouse.name}-landing-{next(_landings)}", dict(files))
    return run_ingest(Warehouse.at(warehouse), IngestRequest(FromLanding(landing), year, retry_rejected))


def copied(warehouse: Path, into: Path) -> Path:
    """A copy of a golden warehouse, for a test that changes or damages it."""
    copy = into / "warehouse"
    shutil.copytree(warehouse, copy, symlinks=True)
    return copy


BUCKET = "paperfeed"  # the S3 test server's one bucket (tests/e2e/conftest.py)


@dataclass(frozen=True)
class S3:
    """An S3-compatible store on 127.0.0.1 with one bucket, and the variables that reach it."""

    env: dict[str, str]

    def warehouse(self) -> str:
        """A warehouse address of its own under the bucket (tests share the store, not prefixes)."""
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def started(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A server `command` in a session of its own (a process and its children, stopped together
    by killing the group), its output to `log`; `env` added to this process's environment."""
    with log.open("w") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True, env=os.environ | (env or {})
        )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process's group, the last started first (SIGKILL if it takes over 30 s)."""
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def paperfeed(*args: str, expect: int = 0, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `paperfeed` command as a user would (`stdin` piped in); check its exit status."""
    command = [str(Path(sys.executable).with_name("paperfeed")), *args]
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=300, cwd=cwd, env={**os.environ, "COLUMNS": "200"}
    )
    if result.returncode != expect:
        raise AssertionError(
            f"{command} exited {result.returncode}, expected {expect}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


# Processes forked from a server that imported paperfeed, Prefect and Great Expectations once: a
# `paperfeed` command in a process of its own (which a SIGKILL can end) without paying an
# interpreter start and those imports, seconds each, every time.
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["helpers", "preload"])


def _fork_server() -> None:
    """Start the fork server if it is not running. Python 3.11's imports its preload with the
    interpreter's own sys.path (the one it is handed is ignored, an ImportError swallowed): it
    starts with tests/ on PYTHONPATH, which nothing else here gets."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), before]))
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


@dataclass(frozen=True)
class Finished:
    """A `paperfeed` command that ran in a process of its own: its exit status and what it printed."""

    returncode: int | None
    stdout: str
    stderr: str


def paperfeed_forked(
    args: list[str], env: dict[str, str] | None = None, output: Path | None = None
) -> multiprocessing.process.BaseProcess:
    """Start `paperfeed ARGS` in a forked process (see FORKS), with `env` added to its environment;
    its stdout and stderr go to `output`.out and `output`.err, if given."""
    # The fork server keeps the environment it started with, maybe from before the session's Prefect
    # server was up: hand the child this process's, or it would start a temporary server of its own.
    env = {"PREFECT_API_URL": os.environ.get("PREFECT_API_URL", "")} | (env or {})
    _fork_server()
    process = FORKS.Process(target=_command_main, args=(args, env, output), daemon=True)
    process.start()
    return process


def run_forked(*args: str, expect: int = 0, output: Path | None = None, env: dict[str, str] | None = None) -> Finished:
    """`paperfeed ARGS` in a forked process of its own (see FORKS); check its exit status. Give
    `output` (a path prefix) to get what it printed back."""
    process = paperfeed_forked(list(args), env, output)
    process.join(300)
    printed = [output.with_suffix(s).read_text() if output else "" for s in (".out", ".err")]
    assert process.exitcode == expect, (
        f"paperfeed {' '.join(args)} exited {process.exitcode}, expected {expect}\nstdout:\n{printed[0]}\nstderr:\n{printed[1]}"
    )
    return Finished(process.exitcode, *printed)


def _command_main(args: list[str], env: dict[str, str], output: Path | None) -> None:
    os.environ.update(env | {"COLUMNS": "200"})
    if output is not None:
        for fd, suffix in ((1, ".out"), (2, ".err")):
            os.dup2(os.open(output.with_suffix(suffix), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    assert "preload" in sys.modules, "the fork server did not preload tests/preload.py"
    from prefect.settings import PREFECT_API_URL, temporary_settings  # imported by the fork server already

    code = 0
    # Prefect read its settings when the fork server imported it: give it this environment's server.
    api = {PREFECT_API_URL: os.environ["PREFECT_API_URL"]} if os.environ["PREFECT_API_URL"] else {}
    try:
        with temporary_settings(api, restore_defaults=set() if api else {PREFECT_API_URL}):
            if output is not None:  # the command starts now: what a test times a signal from
                output.with_suffix(".started").touch()
            app(args, prog_name="paperfeed")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: the forked process shares the server's state


def sql_csv(warehouse: Path, query: str, *options: str) -> list[list[str]]:
    """`paperfeed sql --format csv` -> rows without the header. In process: the same command, without
    paying an interpreter start per query (`paperfeed(...)` runs the installed command itself)."""
    result = CliRunner().invoke(app, ["sql", "--warehouse", str(warehouse), "--format", "csv", *options, query])
    if result.exit_code != 0:
        raise AssertionError(f"paperfeed sql exited {result.exit_code}: {result.output}")
    return [line.split(",") for line in result.output.splitlines()[1:]]


def duckdb_file_sql(warehouse: Path, query: str) -> list[tuple[object, ...]]:
    """`query` on the warehouse's DuckDB file, opened as the README says: from the warehouse folder
    (its views name the tables relative to it), with the delta extension loaded."""
    with contextlib.chdir(warehouse):
        con = connect(DUCKDB_FILE, read_only=True)
        try:
            return con.sql(query).fetchall()
        finally:
            con.close()


def unfinished_flow_runs(warehouse: Path | str) -> list[str]:
    """The names of the Prefect flow runs of `warehouse` that are not in a final state (on the
    server of PREFECT_API_URL)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

    from paperfeed_flows.abandoned import NOT_FINAL

    state = FlowRunFilterState(type=FlowRunFilterStateType(any_=NOT_FINAL))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=state))
    return [f"{r.name} ({r.state_name})" for r in runs if r.parameters.get("warehouse") == str(warehouse)]
