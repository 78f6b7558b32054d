"""Prefect's temporary API server, for a command started by hand with no Prefect server to report to
(no PREFECT_API_URL in the environment or the Prefect profile).

Prefect's client would start this very server itself at the first flow run
(`prefect.server.api.server.SubprocessASGIServer`: the same uvicorn command, environment and
settings), but only after importing Prefect's server modules into the command's process (2.3 s
here), and then it waits for the server to answer (2.9 s), one after the other. Started here first
thing, without those imports, the server boots on the other core while the command imports its
flow and Great Expectations; the command waits for it only before its first call to the API.

Linux only, and on top: the server is told to end with the command (PR_SET_PDEATHSIG), so a
command killed with SIGKILL does not leave it running; Prefect's own leaves it behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.cli.common import Exit, fail

# What Prefect sets for the server it starts (SubprocessASGIServer._run_uvicorn_command).
SERVER_ENVIRONMENT = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
PORT_IN_USE = 3  # uvicorn's exit status when its port was taken meanwhile: try another one
POLL_SECONDS = 0.05


class TemporaryServerError(RuntimeError):
    """Prefect's temporary server did not start (its own output, above, says why)."""


@dataclass
class TemporaryServer:
    """A running `uvicorn prefect.server.api.server:create_app` on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    environment: dict[str, str]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def start(cls, settings: dict[str, str]) -> TemporaryServer:
        """Start the server with Prefect's `settings` as environment variables; do not wait for it."""
        environment = {**os.environ, **SERVER_ENVIRONMENT, **settings}
        port = _free_port()
        return cls(_launch(port, environment), port, environment)

    def wait_ready(self, timeout: float) -> None:
        """Return once the server answers its health check; raise TemporaryServerError if it exits
        or does not answer within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = self.process.poll()
            if ended == PORT_IN_USE:
                self.port = _free_port()
                self.process = _launch(self.port, self.environment)
            elif ended is not None:
                raise TemporaryServerError(f"Prefect's temporary server exited with status {ended} before it answered")
            elif _healthy(self.api_url):
                return
            time.sleep(POLL_SECONDS)
        self.stop()
        raise TemporaryServerError(
            f"Prefect's temporary server did not answer within {timeout:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS; a first start on a new PREFECT_HOME migrates its database)"
        )

    def stop(self) -> None:
        """Stop the server (as Prefect does: SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def prefect_api() -> Iterator[TemporaryServer | None]:
    """Around a command's use of Prefect: its API as configured, or, when none is, a temporary
    server started now and named in Prefect's settings until the end (then stopped). Pass
    what it yields to `ready` before the first call to the API."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if PREFECT_API_URL.value():
        yield None
        return
    server = TemporaryServer.start(get_current_settings().to_environment_variables(exclude_unset=True))
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            try:
                yield server
            finally:
                if server.process.poll() is None:
                    _deliver_logs_and_events()
    finally:
        server.stop()


def _deliver_logs_and_events() -> None:
    """Send what Prefect's background workers still hold (log lines, events) before the server
    stops: Prefect's own server stops at exit, after they drained."""
    if "prefect.logging.handlers" not in sys.modules:
        return  # no flow ran
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=5)


def ready(server: TemporaryServer | None) -> None:
    """Wait for the temporary server (if any) to answer, within Prefect's own limit for it; if it
    does not, one line and exit 5."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if server is None:
        return
    try:
        server.wait_ready(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    except TemporaryServerError as error:
        fail(str(error), Exit.FAILED)


def _launch(port: int, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    spec = importlib.util.find_spec("prefect")  # where Prefect is, without importing its server
    assert spec is not None and spec.origin is not None, "Prefect is a dependency of paperfeed"
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parent.parent),
        "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    # A group of its own: a terminal's Ctrl-C stops the command, which still reports the interrupted
    # run to the server, then stops it (Prefect's own server gets the Ctrl-C too, and the command's
    # last reports fail).
    return subprocess.Popen(command, env=environment, process_group=0, preexec_fn=_ending_with_parent())


def _ending_with_parent() -> Callable[[], object] | None:
    """What the child runs before exec, on Linux: ask for SIGTERM when the process that started it
    ends, even by SIGKILL. The C function is found here, in the parent: the child only calls it."""
    if sys.platform != "linux":
        return None
    prctl, PR_SET_PDEATHSIG = ctypes.CDLL(None, use_errno=True).prctl, 1
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
