"""Prefect's temporary API server, for a command started by hand with no Prefect server to report to
(no PREFECT_API_URL in the environment or the Prefect profile).

Prefect's client would start this very server itself at the first flow run
(`prefect.server.api.server.SubprocessASGIServer`: the same uvicorn app, environment and settings;
its port is picked from 8000-8999, here the system picks a free one), but only after importing
Prefect's server modules into the command's process (2.3 s here), and then it waits for the server
to answer (2.9 s), one after the other. Started here as soon as the command holds the warehouse's
lock and has read Prefect's settings, without those imports, the server boots on the other core
while the command imports its flow and Great Expectations; the command waits for it only before
its first call to the API.

On Linux, two more things than Prefect's own: the server is told to end with the command
(PR_SET_PDEATHSIG), so a command killed with SIGKILL does not leave it running; and it runs in a
process group of its own, so a terminal's Ctrl-C reaches the command only, which reports the
interrupted run and then stops the server. Elsewhere it is started as Prefect starts it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.cli.common import Exit, fail, say

# What Prefect sets for the server it starts (SubprocessASGIServer._run_uvicorn_command).
SERVER_ENVIRONMENT = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# uvicorn's exit status when it could not start: its port taken meanwhile (then another port may
# do), or a failed start-up (then none will): tried again twice, then told.
STARTUP_FAILED, RELAUNCHES = 3, 2
POLL_SECONDS = 0.05


class TemporaryServerError(RuntimeError):
    """Prefect's temporary server did not start (its own output, above, says why)."""


@dataclass
class TemporaryServer:
    """A running `uvicorn prefect.server.api.server:create_app` on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    environment: dict[str, str]
    relaunched: int = 0
    answered: bool = False

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
            if ended == STARTUP_FAILED and self.relaunched < RELAUNCHES:
                self.port, self.relaunched = _free_port(), self.relaunched + 1
                self.process = _launch(self.port, self.environment)
            elif ended is not None:
                raise TemporaryServerError(f"Prefect's temporary server exited with status {ended} before it answered")
            elif _healthy(self.api_url):
                self.answered = True
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
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, get_current_settings, temporary_settings

    if PREFECT_API_URL.value():
        yield None
        return
    server = TemporaryServer.start(get_current_settings().to_environment_variables(exclude_unset=True))
    try:
        # No UI URL: the server serves none, and is gone when the command ends (Prefect would
        # otherwise print "View at <a link to it>" for each run, as it does for a running server).
        with temporary_settings({PREFECT_API_URL: server.api_url, PREFECT_UI_URL: ""}):
            try:
                yield server
            finally:
                ended = server.process.poll()
                if ended is None:
                    _deliver_logs_and_events()
                elif server.answered:  # the command's failure, if any, came from this
                    say(f"Prefect's temporary server ended during the command (exit status {ended})")
    finally:
        server.stop()


def _deliver_logs_and_events() -> None:
    """Send what Prefect's background workers still hold (log lines, events) before the server
    stops: Prefect's own server stops at exit, after they drained."""
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
    uvicorn = [
        "--app-dir", str(Path(spec.origin).parent.parent), "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    if sys.platform != "linux":  # Prefect's way, Prefect's behaviour
        return subprocess.Popen([sys.executable, "-m", "uvicorn", *uvicorn], env=environment, stdin=subprocess.DEVNULL)
    # On Linux, a group of its own: a terminal's Ctrl-C stops the command, which still reports the
    # interrupted run to the server, then stops it (Prefect's own server gets the Ctrl-C too, and
    # the command's last reports fail); and it ends with the command even when that is killed.
    command = [sys.executable, "-c", _ENDING_WITH_PARENT, str(os.getpid()), *uvicorn]
    return subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, process_group=0)


# Run by the server's interpreter before uvicorn (not a preexec_fn, which would run in a forked copy
# of this process, threads' locks and all): SIGTERM when the command ends, even by SIGKILL
# (PR_SET_PDEATHSIG); and if it already has, stop at once.
_ENDING_WITH_PARENT = """
import ctypes, os, runpy, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
sys.argv = ["uvicorn", *sys.argv[2:]]
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: never through a proxy


def _healthy(api_url: str) -> bool:
    try:
        with _LOCAL.open(f"{api_url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
