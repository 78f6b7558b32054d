"""Landing folder I/O: which snapshot files arrived, and their bytes. The landing is only read.

Files are taken as data whatever their names (spaces, Unicode, leading dashes). Directory links
are not followed, and a file link that points outside the landing folder is refused: a run never
reads, and so never archives, what lies elsewhere on the machine.

A landing may also be a prefix on object storage (`s3://bucket/prefix`, storage/objects.py): its
objects are the files, named by their keys below the prefix, arrived when they were last written.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from paperfeed.model.inputs import Landing, LandingFile, RawSnapshot, Refused, Waiting
from paperfeed.storage.faults import crash_point
from paperfeed.storage.objects import ObjectStoreError, S3Prefix, is_remote, read_object

# A landing folder, or an s3://bucket/prefix address.
LandingPlace = Path | str


class LandingError(OSError):
    """The landing folder cannot be used as given."""


def landing_at(location: str | Path) -> LandingPlace:
    """The landing a command or flow names: an absolute folder, or an s3:// address."""
    text = str(location)
    return text.rstrip("/") if is_remote(text) else Path(text).resolve()


def list_landing(landing: LandingPlace, settle_seconds: float = 0) -> Landing:
    """Every visible regular file below `landing`, in arrival order (time, then name); a file
    modified less than `settle_seconds` ago waits for a later run.

    A file copied into the landing folder while a run lists it would be read cut short and taken
    as a truncated snapshot (and the whole file, later, as another one): where files are written
    in place rather than moved in, a settle time keeps the half-written ones out."""
    if isinstance(landing, str):
        return _list_objects(landing, settle_seconds)
    if not landing.is_dir():
        raise LandingError(f"landing folder {landing} does not exist or is not a folder")
    root = landing.resolve()
    files, refused, waiting = [], [], []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")):
            path = Path(folder) / name
            source_name = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    refused.append(Refused(source_name, f"a link to {target}, outside the landing folder"))
                    continue
            if not path.is_file():
                continue
            stat = path.stat()
            modified = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC)
            if (still := _unsettled(source_name, modified, settle_seconds)) is not None:
                waiting.append(still)
                continue
            files.append(LandingFile(path, source_name, modified, size=stat.st_size))
    crash_point("after_list")
    return Landing(sorted(files, key=lambda f: (f.arrived_at, f.source_name)), refused, waiting)


def _list_objects(url: str, settle_seconds: float) -> Landing:
    """list_landing of a prefix on object storage (keys with a part starting with '.' left out)."""
    try:
        listed = S3Prefix.parse(url).listing()
    except ObjectStoreError as error:
        raise LandingError(f"landing {url} cannot be listed: {error}") from None
    files, waiting = [], []
    for key, modified, size in listed:
        if any(part.startswith(".") for part in key.split("/")):
            continue
        if (still := _unsettled(key, modified, settle_seconds)) is not None:
            waiting.append(still)
            continue
        files.append(LandingFile(f"{url}/{key}", key, modified, size=size))
    crash_point("after_list")
    return Landing(sorted(files, key=lambda f: (f.arrived_at, f.source_name)), [], waiting)


def _unsettled(source_name: str, modified: dt.datetime, settle_seconds: float) -> Waiting | None:
    """Waiting, if the file changed less than `settle_seconds` ago."""
    age = time.time() - modified.timestamp()
    if settle_seconds > 0 and age < settle_seconds:  # a time in the future (a clock ahead) proves no stillness
        when = f"{age:.0f} s ago" if age >= 0 else f"{-age:.0f} s in the future (a clock ahead?)"
        return Waiting(source_name, f"changed {when}: taken once still for {settle_seconds:g} s")
    return None


def select(landing: Landing, names: list[str] | None) -> Landing:
    """Only the named files (names relative to the landing folder); all of them without names."""
    if names is None:
        return landing
    wanted = set(names)
    missing = wanted - {f.source_name for f in landing.files} - {w.source_name for w in landing.waiting}
    if missing:
        raise LandingError(f"not in the landing folder: {', '.join(sorted(missing))}")
    return Landing(
        [f for f in landing.files if f.source_name in wanted],  # in arrival order, as a rebuild replays them
        [r for r in landing.refused if r.source_name in wanted],
        [w for w in landing.waiting if w.source_name in wanted],
    )


def read_snapshot(file: LandingFile) -> RawSnapshot:
    return RawSnapshot(file, read_object(file.path) if isinstance(file.path, str) else file.path.read_bytes())
