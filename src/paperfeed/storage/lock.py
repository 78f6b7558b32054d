"""The writer's lock: one run (or export) at a time writes a warehouse.

An OS file lock (flock) dies with its process, so a killed run never leaves the warehouse
locked. The lock file's text only describes the holder, for the message a waiting run prints.
The lock is re-entrant within a process: the command line takes it before the orchestrator
starts (a locked warehouse answers at once), and the run it starts takes it again for free.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from paperfeed.storage.faults import crash_point

POLL_SECONDS = 0.2


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


# Lock files this process holds, with how deep: re-entry only counts.
_held: dict[Path, int] = {}


@contextmanager
def writer_lock(
    path: Path, run_id: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lock at `path`; wait for it up to `wait_seconds`, then raise WarehouseLocked naming
    the holder. `on_wait` is told once, in words, whom the run waits for."""
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait_seconds, on_wait)
        me = Holder(os.getpid(), socket.gethostname(), run_id, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode("utf-8"), 0)
        _held[path] = 1
        try:
            crash_point("after_lock")
            yield
        finally:
            del _held[path]
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
