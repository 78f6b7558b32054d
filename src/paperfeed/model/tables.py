"""The data tables of one dataset version, as one bundle of frames (see model/contracts.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import polars as pl

from paperfeed.model.contracts import (
    APPEARANCES,
    PAPER_MATCHES,
    PAPER_TITLES,
    PAPER_VERSIONS,
    PAPERS,
    QUARANTINE,
    SNAPSHOTS,
    TableContract,
)


@dataclass(frozen=True)
class Tables:
    """The data tables of one dataset version, named as their contracts (DATA_TABLES)."""

    snapshots: pl.DataFrame
    appearances: pl.DataFrame
    papers: pl.DataFrame
    paper_versions: pl.DataFrame
    paper_titles: pl.DataFrame
    paper_matches: pl.DataFrame
    quarantine: pl.DataFrame

    @classmethod
    def empty(cls) -> Tables:
        return cls(*(t.empty() for t in (SNAPSHOTS, APPEARANCES, PAPERS, PAPER_VERSIONS, PAPER_TITLES, PAPER_MATCHES, QUARANTINE)))

    def as_dict(self) -> dict[str, pl.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def frame(self, table: TableContract) -> pl.DataFrame:
        return self.as_dict()[table.name]
