"""A run's work on one batch of files: read, keep, prepare, check, curate, check again, write.

A run takes its new files a batch at a time (about PREPARE_BATCH_BYTES of them), so it holds one
batch of parsed text at a time. Its memory still grows from batch to batch, as each batch's
matching reads every known title and abstract (measured on a million records: the README's
Performance section, "A long backfill's memory"), above the 1.5 GB aimed at. Each batch's changes are written to the tables as
Delta versions that no dataset version names yet; the run's `runs` commit, after its last batch,
publishes them all at once (ops/finish.py). `Progress` is what a run carries from batch to batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import polars as pl

from paperfeed.config import PREPARE_BATCH_BYTES
from paperfeed.curate.increment import Increment, increment
from paperfeed.curate.match import JOINED, KEPT_APART
from paperfeed.model.contracts import INTAKE_TABLES, SNAPSHOTS
from paperfeed.model.inputs import LandingFile, RawSnapshot
from paperfeed.model.prepared import PreparedSnapshot
from paperfeed.model.status import FileStatus, SnapshotStatus
from paperfeed.prepare.snapshot import prepare_snapshots
from paperfeed.publish.release import part
from paperfeed.publish.summary import MATCHES_LISTED, FileOutcome, MatchDecision
from paperfeed.quality.findings import Check
from paperfeed.quality.gate import Gate, check_publish
from paperfeed.storage.faults import crash_point
from paperfeed.storage.warehouse import Warehouse, Written


@dataclass(frozen=True)
class Progress:
    """What a run has done so far: carried from batch to batch, summed up when it commits."""

    snapshots: pl.DataFrame  # every snapshot row: the committed ones, then this run's
    written: Written  # where each table stands
    # Whether the run started from the current version's tables; not so after runs that recorded
    # rejected or duplicate files since: then `parts` lacks what those runs wrote.
    from_published: bool = True
    outcomes: list[FileOutcome] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)  # the publish gate's, over every batch
    failures: str = ""  # what the publish gate refused, in words ('' while nothing was)
    new_papers: frozenset[str] = frozenset()
    updated_papers: frozenset[str] = frozenset()
    n_matched: int = 0  # records that joined a paper under another title or abstract
    n_candidates: int = 0  # pairs kept apart, listed for review
    matches: tuple[MatchDecision, ...] = ()  # the first MATCHES_LISTED of those decisions, over all batches
    merged_papers: frozenset[str] = frozenset()  # ids merged into another or renamed
    parts: dict[str, frozenset[str]] = field(default_factory=dict)  # per table, the release parts (weeks) it changed

    @property
    def changed(self) -> bool:
        """Whether the run wrote any snapshot row (a file accepted, a duplicate, a rejection)."""
        return bool(self.parts.get(SNAPSHOTS.name))

    @property
    def data_changed(self) -> bool:
        """Whether the run changed the feed's data, not only the record of what came in
        (rejected and duplicate files): what makes a new dataset version."""
        intake = {t.name for t in INTAKE_TABLES}
        return any(parts for name, parts in self.parts.items() if name not in intake)


def in_batches(files: list[LandingFile], max_bytes: int = PREPARE_BATCH_BYTES) -> Iterator[list[LandingFile]]:
    """Consecutive files, about `max_bytes` of them at a time (at least one file each)."""
    batch: list[LandingFile] = []
    size = 0
    for file in files:
        if batch and size + file.size > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += file.size
    if batch:
        yield batch


def split_known(
    raws: list[RawSnapshot], snapshots: pl.DataFrame, retry_rejected: bool = False
) -> tuple[list[RawSnapshot], list[RawSnapshot]]:
    """(files to process, files whose exact bytes were ingested before or came earlier in this
    run). With `retry_rejected`, files rejected before are processed again (after a fix of the
    configuration, say --year); otherwise a rejection stands."""
    if retry_rejected:
        snapshots = snapshots.filter(pl.col("status") != SnapshotStatus.REJECTED)
    seen = set(snapshots["snapshot_id"].to_list())
    new: list[RawSnapshot] = []
    known: list[RawSnapshot] = []
    for raw in raws:
        (known if raw.snapshot_id in seen else new).append(raw)
        seen.add(raw.snapshot_id)
    return new, known


def years_of(raws: list[RawSnapshot], year: int | None) -> dict[str, int | None]:
    """The --year each file is processed with: a replayed file keeps the year it was processed with."""
    return {raw.snapshot_id: raw.file.year if raw.file.year is not None else year for raw in raws}


def prepare_batch(batch: list[tuple[RawSnapshot, int | None]]) -> list[PreparedSnapshot]:
    """Decode, parse, date, normalise and identify a batch of files (each with its --year), as one frame."""
    return prepare_snapshots(batch)


def curate_batch(
    warehouse: Warehouse, run_id: str, now: dt.datetime, progress: Progress, checked: list[PreparedSnapshot], known: list[RawSnapshot]
) -> tuple[Increment, Progress]:
    """What the batch changes in the tables (reading only the rows it may change), and what
    became of each of its files."""
    change = increment(warehouse, checked, run_id, now)
    rows = change.touched.snapshots
    outcomes = [
        FileOutcome(
            r["source_name"], FileStatus(r["status"]), r["snapshot_date"].isoformat() if r["snapshot_date"] else None,
            r["n_records"], r["reason"], r["n_quarantined"], r["date_source"],
        )
        for r in rows.iter_rows(named=True)
    ]
    before = {r["snapshot_id"]: r for r in pl.concat([progress.snapshots, rows]).iter_rows(named=True)}
    outcomes += [FileOutcome(raw.file.source_name, FileStatus.ALREADY_INGESTED, reason=_seen_before(before.get(raw.snapshot_id))) for raw in known]
    renewed = set(rows["snapshot_id"])
    outcomes += [  # retried, and rejected again for the same reason: its row stands, unchanged
        FileOutcome(s.source_name, FileStatus.REJECTED, reason=f"rejected again: {s.verdict.reason}")
        for s in checked
        if s.verdict is not None and s.snapshot_id not in renewed
    ]
    # A paper an earlier batch of this run made may have merged or taken another id since.
    renamed = change.merged
    new = {renamed.get(p, p) for p in progress.new_papers} | set(change.new_papers)
    parts = dict(progress.parts)
    for name, table_change in change.changes.items():
        touched = pl.concat([table_change.upserts, table_change.removed()]).with_columns(_part=part(table_change.table))
        parts[name] = parts.get(name, frozenset()) | set(touched["_part"].to_list())
    progress = replace(
        progress,
        snapshots=pl.concat([progress.snapshots.filter(~pl.col("snapshot_id").is_in(list(renewed))), rows]),
        outcomes=[*progress.outcomes, *outcomes],
        new_papers=frozenset(new),
        updated_papers=frozenset(({renamed.get(p, p) for p in progress.updated_papers} | set(change.updated_papers)) - new),
        n_matched=progress.n_matched + int((change.evidence["decision"] == JOINED).sum()),
        n_candidates=progress.n_candidates + int((change.evidence["decision"] == KEPT_APART).sum()),
        matches=tuple(sorted([*progress.matches, *match_decisions(change.evidence)], key=MatchDecision.listing_order)[:MATCHES_LISTED]),
        # Only ids that were published before this run count as merged away.
        merged_papers=progress.merged_papers | (set(renamed) - progress.new_papers),
        parts=parts,
    )
    crash_point("after_plan")
    return change, progress


def match_decisions(evidence: pl.DataFrame) -> list[MatchDecision]:
    """paper_matches rows -> the first MATCHES_LISTED of the run summary's decisions, joins first,
    then by title score."""
    columns = ["title_key", "other_title_key", "decision", "rule", "title_score", "abstract_score"]
    ordered = evidence.sort("decision", "title_score", "title_key", descending=[False, True, False]).head(MATCHES_LISTED)
    return [MatchDecision(**row) for row in ordered.select(columns).iter_rows(named=True)]


def _seen_before(row: dict[str, object] | None) -> str:
    """Why a file is not processed again: the file with its bytes, and that file's rejection if it was."""
    if row is None:
        return "same bytes as a file earlier in this run"
    said = f"same bytes as {row['source_name']}"
    if row["status"] == SnapshotStatus.REJECTED:
        said += f", which was rejected: {row['reason']} (run with --retry-rejected once that is fixed)"
    return said


def check_batch(gate: Gate, change: Increment, progress: Progress) -> Progress:
    """The publish gate on the rows the batch writes (the `runs` suite comes once, at the commit)."""
    verdict = check_publish(gate, change.touched, None, change.snapshots, change.referenced)
    crash_point("after_publish_gate")
    return replace(
        progress,
        checks=combine_checks(progress.checks, verdict.checks),
        failures="\n".join(f for f in (progress.failures, verdict.failures) if f),
    )


def write_batch(warehouse: Warehouse, change: Increment, progress: Progress, run_id: str, number: int) -> Progress:
    """The batch's changes into the tables, as Delta versions no dataset version names yet."""
    return replace(progress, written=warehouse.write(change.changes, progress.written, run_id, number))


def combine_checks(before: list[Check], after: list[Check]) -> list[Check]:
    """One check per expectation over all batches: passed if it passed on each, with the failing
    rows added up."""
    if not before:
        return after
    merged = {(c.suite, c.expectation, c.column, c.description): c for c in before}
    for c in after:
        key = (c.suite, c.expectation, c.column, c.description)
        if key in merged:
            old = merged[key]
            unexpected = None if old.unexpected is None and c.unexpected is None else (old.unexpected or 0) + (c.unexpected or 0)
            merged[key] = replace(old, success=old.success and c.success, unexpected=unexpected, observed=c.observed or old.observed)
        else:
            merged[key] = c
    return list(merged.values())
