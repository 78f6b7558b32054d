"""Landing folder I/O: which snapshot files arrived, and their bytes. The landing is only read.

Files are taken as data whatever their names (spaces, Unicode, leading dashes). Directory links
are not followed, and a file link that points outside the landing folder is refused: a run never
reads, and so never archives, what lies elsewhere on the machine.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from paperfeed.model.inputs import Landing, LandingFile, RawSnapshot, Refused, Waiting
from paperfeed.storage.faults import crash_point


class LandingError(OSError):
    """The landing folder cannot be used as given."""


def list_landing(landing: Path, settle_seconds: float = 0) -> Landing:
    """Every visible regular file below `landing`, in arrival order (time, then name); a file
    modified less than `settle_seconds` ago waits for a later run.

    A file copied into the landing folder while a run lists it would be read cut short and taken
    as a truncated snapshot (and the whole file, later, as another one): where files are written
    in place rather than moved in, a settle time keeps the half-written ones out."""
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
            modified = stat.st_mtime
            age = time.time() - modified
            if settle_seconds > 0 and age < settle_seconds:  # a time in the future (a clock ahead) proves no stillness
                when = f"{age:.0f} s ago" if age >= 0 else f"{-age:.0f} s in the future (a clock ahead?)"
                waiting.append(Waiting(source_name, f"changed {when}: taken once still for {settle_seconds:g} s"))
                continue
            files.append(LandingFile(path, source_name, dt.datetime.fromtimestamp(modified, tz=dt.UTC), size=stat.st_size))
    crash_point("after_list")
    return Landing(sorted(files, key=lambda f: (f.arrived_at, f.source_name)), refused, waiting)


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
    return RawSnapshot(file, file.path.read_bytes())
