"""A Prefect test server shared by the pytest-xdist workers of one session (tests/e2e/conftest.py):
the first worker that needs it starts this script, which runs Prefect's test harness, writes the
server's URL for the others, and stops it when the session's controller process has ended.

One server instead of one per worker: each costs about 25 s of CPU to start and keeps using some
while it runs, on machines with two cores.

    python tests/prefect_server.py FOLDER CONTROLLER_PID
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

URL_FILE = "prefect-server.url"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(folder: Path, controller: int) -> None:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        scratch = folder / f"{URL_FILE}.{os.getpid()}"
        scratch.write_text(str(PREFECT_API_URL.value()))
        scratch.rename(folder / URL_FILE)  # the workers see the whole URL or none
        while _alive(controller):
            time.sleep(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
