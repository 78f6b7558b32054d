"""Atomic file writes, the one mechanism: build under a scratch name beside the target, flush it
to disk, then rename it into place. Readers see the old file (or folder) or the new one, never a
part of either; a writer that dies leaves only a scratch name, which `clean_scratch` removes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paperfeed.storage.faults import crash_point

SCRATCH_SUFFIX = ".tmp"


def scratch_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}{SCRATCH_SUFFIX}")


@contextmanager
def replacing(target: Path, crash_at: str | None = None) -> Iterator[Path]:
    """Yield a scratch path to build `target` at (a file, a folder or a link); on success, flush it
    and rename it over `target`. A folder can only be renamed onto a missing or empty one.
    `crash_at` names the crash point between the flush and the rename (kill test)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_name(target)
    _remove(scratch)
    try:
        yield scratch
        _flush(scratch)
    except BaseException:
        _remove(scratch)
        raise
    if crash_at:
        crash_point(crash_at)
    os.replace(scratch, target)


def write_atomic(path: Path, data: bytes | str, crash_at: str | None = None) -> None:
    with replacing(path, crash_at) as scratch:
        scratch.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def clean_scratch(places: list[Path]) -> list[Path]:
    """Remove the scratch files and folders a killed writer left (call with the writer's lock held)."""
    removed = []
    for place in places:
        for path in place.glob(f".*{SCRATCH_SUFFIX}"):
            _remove(path)
            removed.append(path)
    return removed


def _flush(path: Path) -> None:
    """fsync each file of `path` that has no other hard link: one that has is a link to a file of a
    folder flushed before (a release's unchanged parts, storage/releases.py), on disk already."""
    if path.is_symlink():
        return
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.stat().st_nlink == 1]
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
