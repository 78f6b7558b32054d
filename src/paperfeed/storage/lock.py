"""The writer's lock: one run (or export) at a time writes a warehouse.

On a local disk, an OS file lock (flock): it dies with its process, so a killed run never leaves
the warehouse locked. The lock file's text only describes the holder, for the message a waiting
run prints.

On object storage there is no file lock: the lock is a lease, one object (`.lock`) written only
by compare-and-swap. A writer takes it by creating the object (If-None-Match) or by replacing a
released or expired lease (If-Match the tag it read): of two writers racing, exactly one write
succeeds. The holder renews the lease every third of its term, and once more just before the
publish commit (`confirm`): a holder that stalled past its term and lost the lease to another
writer stops there and publishes nothing. A killed holder's lease runs out after its term
(LEASE_SECONDS, PAPERFEED_LEASE_SECONDS to change it); expiry is judged by the waiting writer's
clock, so writers' clocks must agree to within a fraction of the term (NTP does).

Either lock is re-entrant within a process: the command line takes it before the orchestrator
starts (a locked warehouse answers at once), and the run it starts takes it again for free.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from paperfeed.storage.faults import crash_point
from paperfeed.storage.objects import ObjectStoreError, S3Prefix, Tagged

POLL_SECONDS = 0.2
LEASE_SECONDS = 60.0
LEASE_ENV = "PAPERFEED_LEASE_SECONDS"
LEASE_KEY = ".lock"


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    run_id: str
    since: str  # ISO time, UTC

    def describe(self, now: dt.datetime | None = None) -> str:
        """'run 2026…-ab12cd34 (pid 4242 on host1, since 12:01:07 UTC, 3 min ago)'."""
        try:
            started = dt.datetime.fromisoformat(self.since)
        except ValueError:
            return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.since})"
        age = ((now or dt.datetime.now(dt.UTC)) - started).total_seconds()
        ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min" if age < 7200 else f"{age / 3600:.1f} h"
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {started:%Y-%m-%d %H:%M:%S} UTC, {ago} ago)"


class LeaseLost(RuntimeError):
    """The writer's lock did not hold: the lease on an object-storage warehouse ran out and another
    writer took it, or another writer committed to a table while this one held the lock."""


# Locks this process holds (a lock file's path, a lease's address), with how deep: re-entry only counts.
_held: dict[str, int] = {}


@contextmanager
def _reentered(place: str) -> Iterator[bool]:
    """True (and counted) if this process holds the lock at `place` already."""
    if place not in _held:
        yield False
        return
    _held[place] += 1
    try:
        yield True
    finally:
        _held[place] -= 1


def _me(run_id: str) -> Holder:
    return Holder(os.getpid(), socket.gethostname(), run_id, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


@contextmanager
def writer_lock(
    path: Path, run_id: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lock at `path`; wait for it up to `wait_seconds`, then raise WarehouseLocked naming
    the holder. `on_wait` is told once, in words, whom the run waits for."""
    with _reentered(str(path)) as again:
        if again:
            yield
            return
        with _file_lock(path, run_id, wait_seconds, on_wait):
            yield


@contextmanager
def _file_lock(path: Path, run_id: str, wait_seconds: float, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait_seconds, on_wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me(run_id).__dict__).encode("utf-8"), 0)
        _held[str(path)] = 1
        try:
            crash_point("after_lock")
            yield
        finally:
            del _held[str(path)]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def holder(path: Path) -> str:
    """Who holds the lock at `path`, in words (as far as its file says)."""
    try:
        return Holder(**json.loads(path.read_text(encoding="utf-8"))).describe()
    except (OSError, ValueError, TypeError):
        return "another process"


def _acquire(fd: int, path: Path, wait_seconds: float, on_wait: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
                raise WarehouseLocked(f"warehouse {path.parent} is locked by {holder(path)}{waited}") from None
            if on_wait is not None and not told:
                on_wait(f"waiting for {holder(path)} to finish with {path.parent}")
                told = True
            time.sleep(POLL_SECONDS)


# --- the lease on object storage ---------------------------------------------------------------
def lease_seconds() -> float:
    return float(os.environ.get(LEASE_ENV) or LEASE_SECONDS)


@dataclass
class Lease:
    """A held lease: renewed in the background every third of its term until released."""

    prefix: S3Prefix
    holder: Holder
    tag: str
    term: float
    lost: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_stopped, name="paperfeed-lease", daemon=True)
        self._renewer.start()

    def confirm(self) -> None:
        """Renew now (just before a commit that must not race another writer); LeaseLost if it is gone."""
        if not self._renew():
            raise LeaseLost(
                f"the lock on {self.prefix.url} ran out (a stall longer than its {self.term:g} s lease?) "
                "and another writer took it: this run stops and publishes nothing"
            )

    def release(self) -> None:
        """Mark the lease released (it stays as an object: the next writer replaces it by tag). A
        store that cannot be reached now only delays the next writer until the lease runs out: it
        must not replace what the run is ending with."""
        self._stop.set()
        self._renewer.join()
        with self._lock:
            if not self.lost:
                try:
                    _write_lease(self.prefix, _lease_bytes(self.holder, expires=None), self.tag)
                except ObjectStoreError:
                    pass

    def _renew(self) -> bool:
        with self._lock:
            if not self.lost:
                tag = _write_lease(self.prefix, _lease_bytes(self.holder, _expiry(self.term)), self.tag)
                self.lost = tag is None
                self.tag = tag or self.tag
            return not self.lost

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.term / 3):
            try:
                if not self._renew():
                    return
            except Exception:  # noqa: BLE001 - the store unreachable for a moment: the next renewal or confirm() tells
                continue


# Leases this process holds, by the warehouse's address (what Warehouse.commit confirms).
_leases: dict[str, Lease] = {}


def held_lease(prefix: S3Prefix) -> Lease | None:
    return _leases.get(prefix.url)


@contextmanager
def lease_lock(
    prefix: S3Prefix, run_id: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lease on the warehouse at `prefix`, as writer_lock holds a lock file."""
    with _reentered(prefix.url) as again:
        if again:
            yield
            return
        lease = _take_lease(prefix, _me(run_id), lease_seconds(), wait_seconds, on_wait)
        _held[prefix.url] = 1
        _leases[prefix.url] = lease
        try:
            crash_point("after_lock")
            yield
        finally:
            del _held[prefix.url], _leases[prefix.url]
            lease.release()


def _take_lease(
    prefix: S3Prefix, me: Holder, term: float, wait_seconds: float, on_wait: Callable[[str], None] | None
) -> Lease:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        mine = _lease_bytes(me, _expiry(term))
        tag = prefix.create(LEASE_KEY, mine)
        if tag is None:
            current = prefix.get(LEASE_KEY)  # read once: whose it is, and whether our create landed after all
            if current is None:  # gone between the two calls: try again at once
                continue
            tag = _ours(current, mine)
            holder, expires = _read_lease(current.data)
            if tag is None and (expires is None or expires <= dt.datetime.now(dt.UTC)):
                tag = _write_lease(prefix, mine, current.tag)  # of racing takers, one wins
        if tag is not None:
            return Lease(prefix, me, tag, term)
        who = holder.describe() if holder is not None else "another process"
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
            raise WarehouseLocked(f"warehouse {prefix.url} is locked by {who}{waited}")
        if on_wait is not None and not told:
            on_wait(f"waiting for {who} to finish with {prefix.url}")
            told = True
        time.sleep(POLL_SECONDS)


def _write_lease(prefix: S3Prefix, data: bytes, tag: str | None) -> str | None:
    """Create the lease (no tag) or replace the one with `tag`; the new tag, or None if another
    write came first. A conditional PUT the store applied but whose answer was lost is retried by
    the client and then refused (412) for the very change it made: the lease then holds exactly
    these bytes (they name this holder and an expiry to the microsecond), so it is ours."""
    written = prefix.create(LEASE_KEY, data) if tag is None else prefix.replace(LEASE_KEY, data, tag)
    return written if written is not None else _ours(prefix.get(LEASE_KEY), data)


def _ours(found: Tagged | None, data: bytes) -> str | None:
    """The lease's tag if it holds exactly `data` (a write of ours the store applied), else None."""
    return found.tag if found is not None and found.data == data else None


def _expiry(term: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=term)


def _lease_bytes(holder: Holder, expires: dt.datetime | None) -> bytes:
    """The lease's text: who holds it and until when (no expiry: released)."""
    return json.dumps({**holder.__dict__, "expires": expires.isoformat() if expires else None}).encode("utf-8")


def _read_lease(data: bytes) -> tuple[Holder | None, dt.datetime | None]:
    """The holder and expiry a lease names; (None, None), free, if it is released or unreadable."""
    try:
        fields = json.loads(data)
        expires = fields.pop("expires")
        return (Holder(**fields), dt.datetime.fromisoformat(expires)) if expires else (None, None)
    except (ValueError, TypeError, KeyError):
        return None, None
