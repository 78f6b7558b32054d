"""What arrives: a file found in the landing folder (or replayed from the raw archive), its bytes,
and the files a run leaves alone. Plain data, passed from the read step to the rest of the run."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class LandingFile:
    path: Path | str  # a file, or an object's s3:// address
    source_name: str  # path relative to the landing folder, with '/' separators
    arrived_at: dt.datetime  # the file's modification time, UTC
    year: int | None = None  # for a file replayed from the archive: the --year it was processed with
    size: int = 0  # bytes, as listed (what batches are sized by)


@dataclass(frozen=True)
class Refused:
    """A file that is never read: a link out of the landing folder."""

    source_name: str
    reason: str


@dataclass(frozen=True)
class Waiting:
    """A file changed too recently to be whole for sure: left for a later run."""

    source_name: str
    reason: str


@dataclass(frozen=True)
class Landing:
    """What a run found: files to read, in arrival order, and the files it leaves alone."""

    files: list[LandingFile]
    refused: list[Refused] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)


@dataclass(frozen=True)
class RawSnapshot:
    file: LandingFile
    raw: bytes

    @cached_property
    def snapshot_id(self) -> str:
        """sha256 of the bytes: a file's identity, whatever its name."""
        return hashlib.sha256(self.raw).hexdigest()
