"""The vocabularies of statuses, as enums: what became of a file, a snapshot and a run.

They are StrEnums, so each member is its own text: tables store the text ('accepted'), code
compares members, and a typo is a type error instead of a silently empty filter.
"""

from __future__ import annotations

from enum import StrEnum


class SnapshotStatus(StrEnum):
    """A snapshot's status in the `snapshots` table."""

    ACCEPTED = "accepted"  # its records are on the feed
    DUPLICATE = "duplicate"  # the same records as an accepted snapshot (another encoding, name, ...)
    REJECTED = "rejected"  # the quality gate refused it, or none of its records was usable


class FileStatus(StrEnum):
    """What a run did with one file it found: a snapshot status, or why it was not processed."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    ALREADY_INGESTED = "already ingested"  # its exact bytes were processed by an earlier run
    REFUSED = "refused"  # a link out of the landing folder: never read
    WAITING = "waiting"  # changed within the settle time: left for a later run

    @property
    def is_problem(self) -> bool:
        """Input the operator should look at (the `paperfeed run` exit code 1)."""
        return self in (FileStatus.REJECTED, FileStatus.REFUSED)


class RunStatus(StrEnum):
    """A run's status in the `runs` table."""

    PUBLISHED = "published"  # it published a new dataset version
    # Its files changed no data (each was rejected, or a duplicate): their snapshot and quarantine
    # rows are written and recorded, the current version stays, and the next version carries them.
    RECORDED = "recorded"
    NOOP = "noop"  # nothing new: the current version stays
    FAILED = "failed"  # the publish gate blocked it: nothing was published
