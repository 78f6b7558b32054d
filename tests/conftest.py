"""Test-wide settings: Prefect writes only to a temporary home, never phones home, stays quiet."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Set before anything imports prefect (settings are read at import); removed when the test
# process ends (each xdist worker has its own).
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="paperfeed-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
os.environ.pop("PREFECT_API_URL", None)
# pytest-xdist gives its workers COLUMNS=80, and Rich fixes a console's width for good when COLUMNS
# is set as the console is made: without it, each command reads COLUMNS as it runs, as in a shell.
os.environ.pop("COLUMNS", None)
