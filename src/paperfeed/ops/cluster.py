"""A run's per-file work on an existing Dask cluster: read bytes in, prepared and checked snapshots out.

Only the parallel part travels: decode, parse, date, normalise and identify each file, then the
snapshot and record gates (every expectation of those two suites judges a row, a file or a record,
on its own: a group of files gets the verdicts the whole batch would). Archive, curate and publish
stay in the run's process, under the writer's lock, so the cluster never writes the warehouse.

Files reach the workers by the shortest way: workers that can read the warehouse's raw archive
(the run archives every file before this step) read their files there themselves, each checked
against the hash that names it, and only the files' names travel; a warehouse on object storage,
or a folder the workers share, is read so in parallel by every worker, not pushed through the run's
one connection. Workers that cannot read it (a local folder on another machine, no credentials for
the store) are sent the bytes.

Workers run plain functions, not Prefect tasks: a Prefect task on a Dask worker costs about 0.3
CPU-seconds of settings and client set-up (upstream PrefectHQ/prefect#17618), and a worker without
a Prefect API would start a temporary server of its own. So workers need no Prefect at all; the
run's Prefect flow shows the cluster step as one task. What they need is the same paperfeed: a
worker with other code would prepare other rows, so connecting compares a digest of the code and
the suites on every worker with the run's, and refuses the cluster if one differs.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import sys
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperfeed.model.inputs import LandingFile, RawSnapshot
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.prepare.snapshot import prepare_snapshots
from paperfeed.quality.gate import Gate, check_snapshots
from paperfeed.storage.archive import ArchiveError, read_archived
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.objects import ObjectStoreError

if TYPE_CHECKING:
    import polars as pl
    from distributed import Client

# How long connecting waits for the scheduler, and then for a first worker.
CONNECT_SECONDS = 10.0
# A batch is cut into tasks of about this many bytes of files, and at least one per worker thread.
# Each task pays a fixed cost (the two suites' Great Expectations validation, about 0.06 s) on
# top of about 0.045 s of work per MB: 16 MB is about 130 files, 0.7 s of work and more. 6 MB
# tasks overlap more but took longer in all (README, Performance, "(g)").
TASK_BYTES = 16 * 1024 * 1024

Item = tuple[RawSnapshot, int | None]  # a file's bytes and the --year it is dated with
Located = tuple[LandingFile, str, int | None]  # a file, its hash (its name in the raw archive), its --year


class ClusterError(RuntimeError):
    """The Dask cluster cannot do the run's per-file work; the message says why."""


@dataclass(frozen=True)
class Cluster:
    """A connection to a Dask scheduler whose workers run this paperfeed."""

    address: str
    client: Client
    checked: set[str]  # the workers whose code was compared with the run's
    task_bytes: int = TASK_BYTES

    def prepare_and_check(self, items: list[Item], gate: Gate, archive: WarehouseLayout | None = None) -> list[PreparedSnapshot]:
        """prepare_snapshots then check_snapshots, on the workers, a group of files per task; the
        snapshots in the items' order. Given the warehouse whose raw `archive` holds the files, and
        if every worker reads one of them there (tried at each batch), each task reads its files
        from the archive; otherwise the files are scattered to the workers first (not carried in
        the task graph through the scheduler). A task whose worker cannot read its files there
        (one that joined since) is sent them instead. A worker lost mid-task is replaced by Dask
        (the task runs again); a cluster lost altogether is a ClusterError. A worker that joined
        since the run connected has its code checked before its results are used (ClusterError if
        it runs other code): at the start of each batch, and for any that ran a task meanwhile."""
        if not items:
            return []
        nthreads = self.client.nthreads()
        self._check_joined(set(nthreads))
        threads = sum(nthreads.values())
        groups = list(file_groups(items, self.task_bytes, max(1, threads)))
        from distributed import as_completed

        files: list[Any] = []
        tasks: list[Any] = []
        done: dict[str, list[PreparedSnapshot]] = {}
        try:
            where = archive.location if archive is not None and self._all_read(archive, items[0][0], sorted(nthreads)) else None
            if where is not None:
                tasks = self.client.map(prepared_from_archive, [_located(g) for g in groups], warehouse=where, gate=gate, pure=False)
            else:  # a group for each worker thread first: work starts while the rest is sent (122 MB: 0.3-0.5 s)
                for part in (groups[:threads], groups[threads:]):
                    if part:
                        files += (sent := self.client.scatter(part, hash=False))  # hashing 64 MB of bytes for a key costs 0.2 s
                        tasks += self.client.map(prepared_on_worker, sent, gate=gate, pure=False)
            order = [task.key for task in tasks]
            group_of = dict(zip(order, groups, strict=True))
            # Each result unpacked as it comes, while the other tasks still run (0.06 s a task).
            finished = as_completed(tasks, loop=self.client.loop, with_results=True, raise_errors=False)  # this client, not a default one
            for task, result in finished:
                if isinstance(result, Packed):
                    done[task.key] = result.unpacked()
                    continue
                # A task that failed: (type, error, traceback); one cancelled (the scheduler lost): the error.
                error = result if isinstance(result, BaseException) else result[1].with_traceback(result[2])
                if not isinstance(error, ArchiveError) or task.key not in group_of:
                    raise error
                files += (sent := self.client.scatter([group_of[task.key]], hash=False))
                again = self.client.submit(prepared_on_worker, sent[0], gate=gate, pure=False)
                order[order.index(task.key)] = again.key
                tasks.append(again)
                finished.add(again)
            ran = self.client.who_has(tasks)
            self._check_joined({worker for workers in ran.values() for worker in workers})
        except (OSError, TimeoutError, CancelledError) as error:
            raise ClusterError(f"the Dask cluster at {self.address} failed during the run: {_first_line(error)}") from None
        finally:
            self.client.cancel(files + tasks)
        return [snapshot for key in order for snapshot in done[key]]

    def _all_read(self, archive: WarehouseLayout, item: RawSnapshot, workers: list[str]) -> bool:
        """Whether each of these workers reads this archived file, as it is."""
        read: dict[str, Any] = self.client.run(
            _reads_archived, archive.location, item.snapshot_id, item.file.source_name, workers=workers, on_error="return"
        )
        return all(found is True for found in read.values())

    def _check_joined(self, workers: set[str]) -> None:
        joined = sorted(workers - self.checked)
        if joined:
            check_code(self.client, self.address, joined)
            self.checked.update(joined)


def prepare_and_check(items: list[Item], gate: Gate) -> list[PreparedSnapshot]:
    """A group of files, prepared and checked (what a run does locally, in two steps)."""
    return check_snapshots(gate, prepare_snapshots(items))


def prepared_on_worker(items: list[Item], gate: Gate) -> Packed:
    """What a worker runs: prepare_and_check, the results made ready to ship."""
    return Packed.of(prepare_and_check(items, gate))


def prepared_from_archive(located: list[Located], warehouse: str, gate: Gate) -> Packed:
    """What a worker that reads the run's raw archive runs: its files' bytes from the `warehouse`
    (a folder or an s3:// address; checked against the hashes that name them: ArchiveError
    otherwise), then prepared_on_worker."""
    layout = _layout(warehouse)
    items = [(RawSnapshot(file, _read_here(layout, snapshot_id, file.source_name)), year) for file, snapshot_id, year in located]
    return prepared_on_worker(items, gate)


def _reads_archived(warehouse: str, snapshot_id: str, source_name: str) -> bool:
    """Whether this worker reads an archived file, as it is (run on each worker to decide)."""
    try:
        _read_here(_layout(warehouse), snapshot_id, source_name)
    except ArchiveError:
        return False
    return True


def _layout(warehouse: str) -> WarehouseLayout:
    """The warehouse as this worker reaches it: with the worker's own credentials for a store (the
    run's never travel); an ArchiveError at once if it has none."""
    try:
        return WarehouseLayout.at(warehouse)
    except ObjectStoreError as error:
        raise ArchiveError(f"the raw archive of {warehouse} cannot be read here: {_first_line(error)}") from None


def _read_here(layout: WarehouseLayout, snapshot_id: str, source_name: str) -> bytes:
    """read_archived on this worker; whatever keeps it from the file (a folder it cannot see, a
    store it has no credentials for) is an ArchiveError: the run then sends the bytes."""
    try:
        return read_archived(layout, snapshot_id, source_name)
    except (ObjectStoreError, OSError, ValueError) as error:
        raise ArchiveError(f"{source_name} cannot be read from the raw archive here: {_first_line(error)}") from None


def _located(group: list[Item]) -> list[Located]:
    return [(raw.file, raw.snapshot_id, year) for raw, year in group]


@dataclass(frozen=True)
class Packed:
    """A task's prepared snapshots, made ready for the trip back to the run: each of their frames
    (records, quarantined records) pooled into one frame sent as Arrow IPC with zstd-compressed
    buffers, the rest pickled and compressed beside them. Pooled, because each snapshot's records
    are a slice of its batch's frame, and pickled one by one each slice carries much of the
    batch's string buffers (29 MB for 100 files against 17 MB as one frame), and each frame, even
    an empty one, costs a serialisation of its own. A feed repeats itself (papers stay on it for
    days; a record's raw text mostly equals its normalised text), so the frames travel as 3.6 MB,
    bytes that every network between machines is slow for. For 100 files of the benchmark's feed:
    packed in 0.04 s on the worker and unpacked in 0.01 s in the run, against 0.14 and 0.04 s
    when each snapshot was pickled whole."""

    size: int  # of the pickled rest
    data: bytes  # the rest: the snapshots without their pooled frames, pickled, zstd-compressed
    pools: dict[str, _Pool]

    @classmethod
    def of(cls, snapshots: list[PreparedSnapshot]) -> Packed:
        import pyarrow as pa

        pools = {name: pool for name in _POOLED if (pool := _Pool.of([getattr(s, name) for s in snapshots])) is not None}
        bare = []
        for n, snapshot in enumerate(snapshots):  # a pooled frame travels in its pool, None in its place
            pooled: dict[str, Any] = {name: None for name, pool in pools.items() if pool.heights[n] is not None}
            bare.append(replace(snapshot, **pooled))
        pickled = pickle.dumps(bare, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(len(pickled), pa.Codec("zstd", compression_level=1).compress(pickled, asbytes=True), pools)

    def unpacked(self) -> list[PreparedSnapshot]:
        import pyarrow as pa

        bare: list[PreparedSnapshot] = pickle.loads(pa.decompress(self.data, self.size, codec="zstd", asbytes=True))
        frames: dict[str, list[Any]] = {name: pool.frames() for name, pool in self.pools.items()}
        return [replace(s, **{name: each[n] for name, each in frames.items() if each[n] is not None}) for n, s in enumerate(bare)]


# The frames of a PreparedSnapshot that Packed pools.
_POOLED = ("records", "quarantined")


@dataclass(frozen=True)
class _Pool:
    """The frames with rows, of one schema, as one Arrow IPC stream, and each frame's height (None:
    not pooled, the snapshot carries its own: no frame, or an empty one, whose schema may differ;
    a file that cannot be decoded has an empty frame of the parser's columns only). Through Arrow:
    for the dtypes of prepared records and quarantined rows, not any frame (an Int128 column
    fails, an Object one comes back as Binary, sortedness flags are dropped)."""

    data: bytes
    heights: list[int | None]

    @classmethod
    def of(cls, frames: list[pl.DataFrame | None]) -> _Pool | None:
        """None when there is no row, or the frames with rows are not all of one schema (never
        made so today): each frame then travels with its snapshot."""
        import polars as pl
        import pyarrow as pa

        present = [frame for frame in frames if frame is not None and frame.height]
        if not present or any(frame.schema != present[0].schema for frame in present):
            return None
        table = pl.concat(present, how="vertical", rechunk=True).to_arrow()  # one batch: compressed as a whole
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as stream:
            stream.write_table(table)
        return cls(sink.getvalue().to_pybytes(), [frame.height if frame is not None and frame.height else None for frame in frames])

    def frames(self) -> list[pl.DataFrame | None]:
        """Each frame in the pool; None for those not in it."""
        import polars as pl
        import pyarrow as pa

        frame = pl.from_arrow(pa.ipc.open_stream(self.data).read_all())
        assert isinstance(frame, pl.DataFrame)
        starts = itertools.accumulate((height or 0 for height in self.heights), initial=0)
        return [None if height is None else frame.slice(start, height) for start, height in zip(starts, self.heights, strict=False)]


def file_groups(items: list[Item], task_bytes: int, at_least: int) -> Iterator[list[Item]]:
    """Consecutive files in groups of about `task_bytes`, at least `at_least` groups (given as many
    files), cut where the bytes so far pass an even share."""
    total = sum(len(raw.raw) for raw, _ in items)
    groups = max(1, min(len(items), max(at_least, -(-total // task_bytes))))
    group: list[Item] = []
    size = made = 0
    for n, item in enumerate(items):
        group.append(item)
        size += len(item[0].raw)
        if made < groups - 1 and (size >= total * (made + 1) / groups or len(items) - n - 1 == groups - made - 1):
            yield group
            group, made = [], made + 1
    if group:
        yield group


@contextmanager
def connected(address: str | None, timeout: float = CONNECT_SECONDS) -> Iterator[Cluster | None]:
    """The cluster at `address` (None: no cluster, the run works alone), closed afterwards.
    ClusterError, at once, when the scheduler cannot be reached, has no worker, or a worker runs
    other code."""
    if address is None:
        yield None
        return
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:  # checked before a Client is made: one that fails to start complains again as Python exits
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as error:  # http://HOST:8787 is the dashboard's, say
        raise ClusterError(f"{address!r} is not a Dask scheduler address (tcp://HOST:8786): {_first_line(error)}") from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} (waited {timeout:g} s): {_first_line(error)}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {address} has no workers (waited {timeout:g} s)") from None
        workers = sorted(client.nthreads())
        check_code(client, address, workers)
        yield Cluster(address, client, set(workers))
    finally:
        client.close()


def check_code(client: Client, address: str, workers: list[str]) -> None:
    """ClusterError unless each of these workers runs the run's paperfeed (code_digest)."""
    ours = code_digest()
    theirs: dict[str, Any] = client.run(_worker_digest, workers=workers, on_error="return")
    for worker, digest in sorted(theirs.items()):
        if isinstance(digest, BaseException):
            raise ClusterError(f"Dask worker {worker} cannot run paperfeed: {type(digest).__name__}: {digest}")
        if digest != ours:
            raise ClusterError(
                f"Dask worker {worker} runs other paperfeed code or suites than this run "
                f"(digest {digest[:12]}, here {ours[:12]}): install the same paperfeed on every worker"
            )


def _worker_digest() -> str:
    """code_digest, as a worker computes it (sent by name: each worker runs its own paperfeed's)."""
    return code_digest()


# What else decides the rows a worker prepares: the libraries its work runs on.
_LIBRARIES = ("polars", "pyarrow", "pandas", "numpy", "great-expectations", "pylatexenc")


@cache
def code_digest() -> str:
    """sha256 over paperfeed's source, the expectation suites, the Python version and the versions
    of the libraries the per-file work uses: equal on two installs that prepare and check files alike
    (wherever they are installed, editable or not)."""
    import paperfeed
    from paperfeed.quality.gx import suites_dir

    digest = hashlib.sha256(f"python {sys.version_info[0]}.{sys.version_info[1]}".encode())
    for library in _LIBRARIES:
        digest.update(f"{library} {metadata.version(library)}".encode())
    package = Path(paperfeed.__file__).parent
    for root, pattern in ((package, "*.py"), (suites_dir(), "*.json")):
        for file in sorted(root.rglob(pattern)):
            if file.is_file() and not file.name.startswith("."):  # an editor's lock file is no source
                digest.update(file.relative_to(root).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
