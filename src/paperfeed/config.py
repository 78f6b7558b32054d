"""Defaults a user can override on the command line; nothing here reads the environment."""

from __future__ import annotations

from pathlib import Path

# The bundled sample feed: five real snapshots of the trending-papers page, as delivered. They
# arrived in name order, which is not date order (Mar 14, 14, 11, 17, 21); 003_... is truncated.
SAMPLE_FEED = Path(__file__).parent / "sample_feed"
# Their headers say 'Mar 14' without a year. They were captured in March 2025 (the newest papers
# in them are from February 2025), so runs on the sample default to that year (date_source=config).
SAMPLE_FEED_YEAR = 2025
DEFAULT_WAREHOUSE = Path("warehouse")
# How long a run waits for another run's lock on the same warehouse before giving up.
DEFAULT_LOCK_WAIT_SECONDS = 600.0
# The scheduled deployment (`paperfeed serve`): daily, after the feed has turned over.
DEFAULT_CRON = "0 6 * * *"
DEFAULT_DEPLOYMENT = "daily"
# A scheduled run leaves files changed in the last minute for the next run: a file still being
# copied in would be read cut short. A run started by hand takes everything (settle time 0).
DEFAULT_SERVE_SETTLE_SECONDS = 60.0
# A run prepares its new files in batches of about this many bytes, so that a backfill of any size
# holds one batch of parsed text at a time. Measured on a million records (README, Performance),
# before entity resolution ran in every run: 64 MB batches peaked at 1.64 GB, 32 MB ones at 1.19 GB
# for about a third more time (each batch pays the gates' fixed cost). With it, each batch's
# matching reads every known title and abstract, so memory and time grow with the history
# (2026-12-02: peak 2.6 GB with 64 MB batches, 2.2 GB with 32 MB ones; README, Performance).
# Since the abstract key index, reads that filter in the Parquet reader and the gate no longer
# leaving its frames in Great Expectations (2026-12-03): 1,713 MiB and 1,463 MiB, 32 MB taking 16%
# more time. With each batch freed before the next is read (2026-12-03, evening): 1,752 MiB with 64
# MB batches, reached in a late batch's curation (which still grows with the history), and
# 1,460 MiB with 32 MB ones: 32 MiB is the default, to stay under 1.5 GB; `--batch-mb`
# (PAPERFEED_BATCH_MB) chooses another.
PREPARE_BATCH_BYTES = 32 * 1024 * 1024
