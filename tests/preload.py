"""What the test processes' fork server loads before it forks (see helpers.FORKS): paperfeed with
its command line and flows, Prefect, and Great Expectations with the suites read. Nothing here
starts a thread or a connection, so forking after it is safe."""

import gc

from paperfeed.cli.app import app  # noqa: F401
from paperfeed.quality.gx import suites_loaded
from paperfeed_flows.ingest import ingest  # noqa: F401

suites_loaded()

# What is loaded now stays as it is in every forked process: left out of their garbage collections,
# its memory pages are not copied into each of them.
gc.freeze()
