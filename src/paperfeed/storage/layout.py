"""Where everything of a warehouse lives: the one place that spells its paths.

    <root>/tables/<table>/        Delta Lake tables (snapshots, appearances, papers, ..., runs)
    <root>/index/<name>/          Delta tables that speed up a run, not part of the dataset
    <root>/raw/<ab>/<sha256>      the raw archive: every file that arrived, byte for byte
    <root>/raw/arrivals/          Delta table: which file arrived when, under which name
    <root>/reports/<run id>.html  a report page per run
    <root>/releases/              Parquet releases for download, their index page and feeds, `latest.json`
    <root>/paperfeed.duckdb       the views of the current version, for DuckDB users
    <root>/.lock                  the writer's lock

A warehouse on object storage (`s3://bucket/prefix`, storage/objects.py) keeps its tables, raw
archive and lock (a lease) under that prefix; what a run writes as files for people (reports,
releases, the DuckDB file) goes to a local folder, its site: `<sites>/<bucket>/<prefix>`, where
<sites> is PAPERFEED_SITE, by default `$XDG_DATA_HOME/paperfeed/site` (~/.local/share/...).

Built once per command and handed to every step that reads or writes the warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from paperfeed.storage.objects import S3Prefix, is_remote

DUCKDB_FILE = "paperfeed.duckdb"
MANIFEST = "manifest.json"
SITE_ENV = "PAPERFEED_SITE"


def default_site(remote: S3Prefix) -> Path:
    """The warehouse's own folder under the sites folder (PAPERFEED_SITE, or a per-user default):
    two warehouses never share a site, whatever the variable says."""
    base = os.environ.get(SITE_ENV)
    if not base:
        base = str(Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "paperfeed" / "site")
    return Path(base) / remote.url.removeprefix("s3://")


def absolute(location: str) -> str:
    """A warehouse's location as flows are given it (and Prefect records it): an absolute folder,
    or its s3:// address as it is."""
    return location if is_remote(location) else str(Path(location).resolve())


@dataclass(frozen=True)
class WarehouseLayout:
    root: Path  # the warehouse folder; for a warehouse on object storage, its local site
    remote: S3Prefix | None = None  # where tables, raw archive and lock live, if not in `root`

    @classmethod
    def at(cls, location: Path | str, site: Path | str | None = None) -> WarehouseLayout:
        """The warehouse at a folder, or at `s3://bucket/prefix` with its site folder (see above)."""
        if is_remote(str(location)):
            remote = S3Prefix.parse(str(location))
            return cls(Path(site if site is not None else default_site(remote)).resolve(), remote)
        return cls(Path(location).resolve())

    @property
    def location(self) -> str:
        """Where the warehouse is, for people: its folder or its s3:// address."""
        return self.remote.url if self.remote else str(self.root)

    def _uri(self, key: str) -> str:
        return self.remote.uri(key) if self.remote else str(self.root / key)

    # --- tables ---------------------------------------------------------------------------
    def table(self, name: str) -> str:
        """The Delta table's URI: a path, or an s3:// address."""
        return self._uri(f"tables/{name}")

    def index(self, name: str) -> str:
        """An index table's URI (storage/key_index.py): kept beside the tables, never released."""
        return self._uri(f"index/{name}")

    # --- the raw archive ------------------------------------------------------------------
    @property
    def raw(self) -> Path:
        """The local archive's folder (scratch places)."""
        return self.root / "raw"

    @staticmethod
    def raw_key(snapshot_id: str) -> str:
        return f"raw/{snapshot_id[:2]}/{snapshot_id}"

    def raw_file(self, snapshot_id: str) -> Path:
        """The archived copy's path; on object storage the key, a relative path (its name is the hash)."""
        return Path(self.raw_key(snapshot_id)) if self.remote else self.root / self.raw_key(snapshot_id)

    @property
    def arrivals(self) -> str:
        """The arrival log's Delta table URI."""
        return self._uri("raw/arrivals")

    # --- what people read -----------------------------------------------------------------
    @property
    def quality(self) -> Path:
        return self.root / "quality"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report(self, run_id: str) -> Path:
        return self.reports / f"{run_id}.html"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    def release(self, name: str) -> Path:
        return self.releases / name

    @property
    def duckdb_file(self) -> Path:
        return self.root / DUCKDB_FILE

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def scratch_places(self) -> list[Path]:
        """Folders where a writer that died may have left scratch files (see storage/files.py)."""
        return [self.root, self.reports, self.releases, *([] if self.remote else sorted(self.raw.glob("??")))]
