"""Crash points for the kill test (the end-to-end test of kills): with PAPERFEED_CRASH_AT=<point> set,
the process kills itself with SIGKILL when it reaches that point, as `kill -9` would, leaving
whatever it had written half done. Unset (always, outside tests), a crash point does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "PAPERFEED_CRASH_AT"

# Every point, in the order a run reaches them; the kill test kills a run at each one.
POINTS = (
    "after_lock",
    "after_recover",
    "after_load_state",
    "after_list",
    "during_raw_copy",
    "after_raw_files",
    "after_arrivals",
    "after_snapshot_gate",
    "after_record_gate",
    "after_plan",
    "after_publish_gate",
    "after_write:snapshots",
    "after_write:appearances",
    "after_write:papers",
    "after_write:paper_versions",
    "after_write:paper_titles",
    "after_write:paper_matches",
    "after_write:quarantine",
    "after_runs_commit",
    "during_duckdb_file",
    "after_duckdb_file",
    "during_release",
)

# Points only a warehouse on object storage reaches (its end-to-end test kills a run there).
STORE_POINTS = ("during_release_put",)


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
