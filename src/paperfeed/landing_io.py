"""Landing folder I/O: which snapshot files arrived, and their bytes. The landing is only read."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path


class LandingError(OSError):
    """The landing folder cannot be used as given."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source_name: str  # path relative to the landing folder, with '/' separators
    arrived_at: dt.datetime  # the file's modification time, UTC


@dataclass(frozen=True)
class RawSnapshot:
    file: LandingFile
    raw: bytes

    @property
    def snapshot_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def list_landing(landing: Path) -> list[LandingFile]:
    """Every visible regular file below `landing`, in arrival order (time, then name)."""
    if not landing.is_dir():
        raise LandingError(f"landing folder {landing} does not exist or is not a folder")
    files = []
    for path in landing.rglob("*"):
        relative = path.relative_to(landing)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        arrived = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
        files.append(LandingFile(path, relative.as_posix(), arrived))
    return sorted(files, key=lambda f: (f.arrived_at, f.source_name))


def read_snapshot(file: LandingFile) -> RawSnapshot:
    return RawSnapshot(file, file.path.read_bytes())
