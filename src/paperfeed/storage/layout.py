"""Where everything of a warehouse lives: the one place that spells its paths.

    <root>/tables/<table>/        Delta Lake tables (snapshots, appearances, papers, ..., runs)
    <root>/raw/<ab>/<sha256>      the raw archive: every file that arrived, byte for byte
    <root>/raw/arrivals/          Delta table: which file arrived when, under which name
    <root>/quality/               data-quality results and pages
    <root>/reports/<run id>.html  a report page per run
    <root>/releases/              Parquet releases for download, their index page and feeds, `latest`
    <root>/paperfeed.duckdb       the views of the current version, for DuckDB users
    <root>/.lock                  the writer's lock

Built once per command and handed to every step that reads or writes the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DUCKDB_FILE = "paperfeed.duckdb"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class WarehouseLayout:
    root: Path

    @classmethod
    def at(cls, folder: Path | str) -> WarehouseLayout:
        return cls(Path(folder).resolve())

    # --- tables ---------------------------------------------------------------------------
    @property
    def tables(self) -> Path:
        return self.root / "tables"

    def table(self, name: str) -> Path:
        return self.tables / name

    # --- the raw archive ------------------------------------------------------------------
    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def raw_file(self, snapshot_id: str) -> Path:
        return self.raw / snapshot_id[:2] / snapshot_id

    @property
    def arrivals(self) -> Path:
        return self.raw / "arrivals"

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
        return [self.root, self.reports, self.releases, *sorted(self.raw.glob("??"))]
