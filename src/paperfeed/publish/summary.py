"""What a run did, for people: the CLI's closing summary and the Prefect markdown artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl


def quality_record(checks: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The data-quality record of a version: its publish gate's checks, and how many passed."""
    checks = checks or []
    return {"evaluated": len(checks), "passed": sum(1 for c in checks if c["success"]), "checks": checks}


@dataclass(frozen=True)
class SnapshotOutcome:
    source_name: str
    status: str  # accepted | duplicate | rejected | already ingested | refused | waiting
    snapshot_date: str | None = None
    n_records: int = 0
    reason: str | None = None
    n_quarantined: int = 0


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str  # published | noop | failed
    dataset_version: int | None
    warehouse: str
    landing: str
    outcomes: list[SnapshotOutcome] = field(default_factory=list)
    n_new_papers: int = 0
    n_updated_papers: int = 0
    n_papers: int = 0
    n_appearances: int = 0
    message: str = ""
    quality_report: str | None = None
    run_report: str | None = None
    release: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)  # the publish gate's, passed or not

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def n_quarantined(self) -> int:
        return sum(outcome.n_quarantined for outcome in self.outcomes)

    @property
    def had_input_problems(self) -> bool:
        return self.count("rejected") + self.count("refused") + self.n_quarantined > 0

    def checks_passed(self) -> str:
        record = quality_record(self.checks)
        return f"{record['passed']} of {record['evaluated']}" if self.checks else "—"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "n_quarantined": self.n_quarantined, "had_input_problems": self.had_input_problems}

    def to_markdown(self) -> str:
        lines = [
            f"# paperfeed run `{self.run_id}`",
            "",
            f"**{self.message}**",
            "",
            "| | |",
            "|---|---|",
            f"| dataset version | {self.dataset_version if self.dataset_version is not None else '—'} |",
            f"| snapshots accepted / duplicate / rejected / already ingested | {self.count('accepted')} / "
            f"{self.count('duplicate')} / {self.count('rejected')} / {self.count('already ingested')} |",
            f"| records quarantined | {self.n_quarantined} |",
            f"| papers new / updated / total | {self.n_new_papers} / {self.n_updated_papers} / {self.n_papers} |",
            f"| appearances | {self.n_appearances} |",
            f"| data-quality checks passed | {self.checks_passed()} |",
            f"| warehouse | `{self.warehouse}` |",
            f"| run report | {f'[{self.run_report}](file://{self.run_report})' if self.run_report else '—'} |",
            f"| release | {f'[{self.release}](file://{self.release})' if self.release else '—'} |",
            f"| data-quality report | {f'[Data Docs](file://{self.quality_report})' if self.quality_report else '—'} |",
            "",
            "| file | status | date | records | quarantined | reason |",
            "|---|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            name, reason = (text.replace("|", "\\|") for text in (o.source_name, o.reason or ""))
            lines.append(
                f"| `{name}` | {o.status} | {o.snapshot_date or ''} | {o.n_records} | {o.n_quarantined} | {reason} |"
            )
        return "\n".join(lines) + "\n"


def feed_by_date(appearances: pl.DataFrame) -> list[tuple[str, int, int]]:
    """Per snapshot date: papers on the feed that day for the first time, and papers returning."""
    days = (
        appearances.group_by("snapshot_date")
        .agg(
            new=pl.col("paper_id").filter(pl.col("is_new")).n_unique(),
            returning=pl.col("paper_id").filter(~pl.col("is_new")).n_unique(),
        )
        .sort("snapshot_date")
    )
    return [(str(d), int(n), int(r)) for d, n, r in days.iter_rows()]
