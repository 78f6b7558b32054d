"""The site's files on object storage: for a warehouse at `s3://bucket/prefix`, what a run writes
for people into its local site folder (releases, their index and feeds, run reports, the DuckDB
file) is put under the same prefix, at the same relative path, so that downloaders and analysts
read it from the store as they would from the folder. Does nothing for a warehouse on a local disk.

A release goes up file by file with its manifest last: on the store, as on disk, a release whose
manifest is there is complete (a writer killed halfway leaves one without, which the next
`write_release` of that version, a run's or `paperfeed export`'s, completes). Files a release
shares with the previous one (hard links on disk) are copied inside the store, not uploaded again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from paperfeed.storage.faults import crash_point
from paperfeed.storage.layout import MANIFEST, WarehouseLayout
from paperfeed.storage.objects import S3Prefix


def put_file(layout: WarehouseLayout, path: Path) -> None:
    """A site file (a report, a pointer, an index page, the DuckDB file) to the store."""
    if layout.remote is not None:
        layout.remote.put(_key(layout, path), path.read_bytes())


def put_release(layout: WarehouseLayout, folder: Path, previous: Path | None) -> bool:
    """A complete release folder to the store, unless its manifest is there already; True if put.
    `previous`: the previous version's release folder, whose files on the store are copied."""
    remote = layout.remote
    if remote is None or remote.size(_key(layout, folder / MANIFEST)) is not None:
        return False
    shared = _shared_files(folder, previous, remote, layout)
    for entry in _entries(folder):
        if entry["path"] == MANIFEST:
            continue
        key = _key(layout, folder / entry["path"])
        if previous is not None and entry["path"] in shared:
            remote.copy(_key(layout, previous / entry["path"]), key)
        else:
            remote.put(key, (folder / entry["path"]).read_bytes())
        crash_point("during_release_put")
    remote.put(_key(layout, folder / MANIFEST), (folder / MANIFEST).read_bytes())
    return True


def stored_release_problems(layout: WarehouseLayout) -> dict[str, list[str]]:
    """Per release on the store, what differs from its manifest there (missing objects, other
    bytes), as a downloader would check it; a release without its manifest is incomplete."""
    remote = layout.remote
    if remote is None:
        return {}
    keys = set(remote.keys("releases/"))
    releases = sorted({key.split("/")[1] for key in keys if key.startswith("releases/version=")})
    problems: dict[str, list[str]] = {}
    for release in releases:
        manifest = remote.get(f"releases/{release}/{MANIFEST}")
        if manifest is None:
            problems[release] = [f"{release} on the store has no {MANIFEST} (incomplete: `paperfeed export` puts it whole)"]
            continue
        found = []
        for entry in json.loads(manifest.data)["files"]:
            stored = remote.get(f"releases/{release}/{entry['path']}")
            if stored is None:
                found.append(f"{release}/{entry['path']} is missing on the store")
            elif len(stored.data) != entry["bytes"] or hashlib.sha256(stored.data).hexdigest() != entry["sha256"]:
                found.append(f"{release}/{entry['path']} on the store no longer matches its size and sha256 in the manifest")
        problems[release] = found
    return problems


def _entries(folder: Path) -> list[dict[str, Any]]:
    """Every file of a release (its manifest's list), and the manifest itself."""
    listed: list[dict[str, Any]] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    return [*listed, {"path": MANIFEST}]


def _shared_files(folder: Path, previous: Path | None, remote: S3Prefix, layout: WarehouseLayout) -> set[str]:
    """The files this release has with the same bytes as the previous one, if that one is on the store."""
    if previous is None or not (previous / MANIFEST).is_file() or remote.size(_key(layout, previous / MANIFEST)) is None:
        return set()
    theirs = {e["path"]: e.get("sha256") for e in _entries(previous)}
    return {e["path"] for e in _entries(folder) if e["path"] != MANIFEST and theirs.get(e["path"]) == e.get("sha256")}


def _key(layout: WarehouseLayout, path: Path) -> str:
    return path.relative_to(layout.root).as_posix()
