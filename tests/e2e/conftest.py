"""One Prefect server for the whole end-to-end session, shared with `paperfeed` subprocesses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        # The harness sets the URL in Prefect's settings context only; subprocesses need it too,
        # or each `paperfeed run` would start a temporary server of its own (~10 s).
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            os.environ.pop("PREFECT_API_URL", None)

