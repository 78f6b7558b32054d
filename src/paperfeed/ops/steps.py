"""How the steps of a run are run: called in turn here; the Prefect flows (flows/) run each as a
task, with retries, in the Prefect UI. The run itself (ops/run.py) is written once, for both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

log = logging.getLogger("paperfeed")


class Steps:
    """Plain Python: each step is a call, each message a log line."""

    def __call__(self, name: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one step, `name` saying what it does."""
        return fn(*args, **kwargs)

    def each(self, name: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Run one step over each item (a batch of files, say); the results in the items' order."""
        return [fn(item) for item in items]

    def say(self, message: str) -> None:
        """Tell the operator something worth knowing (a wait for the lock, a failure after publishing)."""
        log.warning(message)
