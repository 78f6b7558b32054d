"""What a run did, for people and machines: the run summary every renderer takes (the command
line, the Prefect markdown artifact, the run report page, `--json`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from paperfeed.model.status import FileStatus, RunStatus
from paperfeed.quality.findings import Check


@dataclass(frozen=True)
class QualityRecord:
    """The data-quality record of a version: its publish gate's checks, and how many passed."""

    checks: list[Check]

    @property
    def evaluated(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.success)

    def as_dict(self) -> dict[str, Any]:
        return {"evaluated": self.evaluated, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class FileOutcome:
    """One file a run found, and what became of it."""

    source_name: str
    status: FileStatus
    snapshot_date: str | None = None
    n_records: int = 0
    reason: str | None = None
    n_quarantined: int = 0
    date_source: str | None = None  # where the date's year came from: header, path, config or arrival

    @property
    def dated_by_guess(self) -> bool:
        """The header had no year, nor the path, nor --year: the year is the arrival's, a guess."""
        return self.date_source == "arrival"


# How many of a run's matching decisions its summary, report and Prefect artifact list.
MATCHES_LISTED = 200


@dataclass(frozen=True)
class MatchDecision:
    """One decision of entity resolution in the run that was not an exact repeat (paper_matches)."""

    title_key: str
    other_title_key: str
    decision: str  # joined or kept_apart
    rule: str  # the joining rule, or why the pair was kept apart
    title_score: float
    abstract_score: float | None

    def listing_order(self) -> tuple[str, float, str]:
        """Joins first (decision names sort so), then by title score, highest first."""
        return (self.decision, -self.title_score, self.title_key)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: RunStatus
    dataset_version: int | None
    warehouse: str
    landing: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    n_new_papers: int = 0
    n_updated_papers: int = 0
    n_papers: int = 0
    n_appearances: int = 0
    # Entity resolution: how many records joined a paper under another title or abstract, how many
    # pairs were kept apart and listed for review, and how many papers were merged into another or
    # took another id (the old id resolves through paper_aliases); the first MATCHES_LISTED of those
    # decisions, joins first (a backfill makes hundreds of thousands: all are in paper_matches).
    n_matched: int = 0
    n_candidates: int = 0
    matches: list[MatchDecision] = field(default_factory=list)
    n_merged_papers: int = 0
    message: str = ""
    run_report: str | None = None  # with every data-quality check of the run
    release: str | None = None
    checks: list[Check] = field(default_factory=list)  # the publish gate's, passed or not
    # What failed after the version was published (release, run report, DuckDB file), one line
    # each: the version stays published, and the command exits 7.
    problems: list[str] = field(default_factory=list)

    def count(self, status: FileStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status is status)

    @property
    def n_quarantined(self) -> int:
        return sum(outcome.n_quarantined for outcome in self.outcomes)

    def matches_not_listed(self) -> str:
        """A line saying where the decisions not listed are ('' when all are)."""
        total = self.n_matched + self.n_candidates
        if total <= len(self.matches) or self.status is not RunStatus.PUBLISHED:  # else its rows were rolled back
            return ""
        return (f"The first {len(self.matches):,} of {total:,} decisions; every one is in paper_matches: "
                f"paperfeed sql \"SELECT * FROM paper_matches WHERE run_id = '{self.run_id}'\"")

    @property
    def had_input_problems(self) -> bool:
        return any(o.status.is_problem for o in self.outcomes) or self.n_quarantined > 0

    @property
    def quality(self) -> QualityRecord:
        return QualityRecord(self.checks)

    def checks_passed(self) -> str:
        return f"{self.quality.passed} of {self.quality.evaluated}" if self.checks else "—"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (statuses are strings): what `--json` prints and the flow returns."""
        return {
            **asdict(self),
            "n_quarantined": self.n_quarantined,
            "had_input_problems": self.had_input_problems,
        }

    def to_markdown(self) -> str:
        lines = [
            f"# paperfeed run `{self.run_id}`",
            "",
            f"**{self.message}**",
            *[f"- **problem:** {problem}" for problem in self.problems],
            "",
            "| | |",
            "|---|---|",
            f"| dataset version | {self.dataset_version if self.dataset_version is not None else '—'} |",
            f"| snapshots accepted / duplicate / rejected / already ingested | {self.count(FileStatus.ACCEPTED)} / "
            f"{self.count(FileStatus.DUPLICATE)} / {self.count(FileStatus.REJECTED)} / {self.count(FileStatus.ALREADY_INGESTED)} |",
            f"| records quarantined | {self.n_quarantined} |",
            f"| papers new / updated / total | {self.n_new_papers} / {self.n_updated_papers} / {self.n_papers} |",
            f"| appearances | {self.n_appearances} |",
            f"| matching: joined under another title or abstract / papers merged / pairs for review | "
            f"{self.n_matched} / {self.n_merged_papers} / {self.n_candidates} |",
            f"| data-quality checks passed | {self.checks_passed()} |",
            f"| warehouse | `{self.warehouse}` |",
            f"| run report | {f'[{self.run_report}](file://{self.run_report})' if self.run_report else '—'} |",
            f"| release | {f'[{self.release}](file://{self.release})' if self.release else '—'} |",
            "",
            "| file | status | date | records | quarantined | reason |",
            "|---|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            name, reason = (text.replace("|", "\\|") for text in (o.source_name, o.reason or ""))
            lines.append(
                f"| `{name}` | {o.status} | {o.snapshot_date or ''} | {o.n_records} | {o.n_quarantined} | {reason} |"
            )
        if self.matches:
            lines += ["", "| decision | rule | title | other title | title score | abstract score |", "|---|---|---|---|---|---|"]
            lines += [f"| {m.decision} | {m.rule} | {m.title_key} | {m.other_title_key} | {m.title_score:.2f} | {_score(m.abstract_score)} |" for m in self.matches]
            if self.matches_not_listed():
                lines += ["", self.matches_not_listed()]
        return "\n".join(lines) + "\n"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


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
