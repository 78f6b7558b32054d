"""Atomic file writes: readers see the old file or the new one, never a part of either."""

from __future__ import annotations

import os
from pathlib import Path

from paperfeed.storage.faults import crash_point


def write_atomic(path: Path, data: bytes | str, crash_at: str | None = None) -> None:
    """Write `data` to a scratch name beside `path`, flush it to disk, then rename it into place.
    `crash_at` names the crash point between the two (kill test)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(scratch, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
    if crash_at:
        crash_point(crash_at)
    os.replace(scratch, path)


# Where scratch files live: the raw archive, releases, reports and the warehouse folder itself.
SCRATCH_PLACES = ("raw/*/", "releases/", "reports/", "")


def clean_scratch(root: Path) -> list[Path]:
    """Remove the scratch files a killed writer left (call with the warehouse lock held)."""
    removed = []
    for place in SCRATCH_PLACES:
        for pattern in (".*.tmp", ".latest-*"):
            for path in root.glob(place + pattern):
                if path.is_file() or path.is_symlink():
                    path.unlink()
                    removed.append(path)
    return removed
