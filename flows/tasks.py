"""Steps as Prefect tasks: what makes a plain run (paperfeed/ops/run.py) a Prefect flow run with a
task per step in the UI, retries where a step touches storage, and the run's log."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import TagsContext

from paperfeed.ops.steps import Steps
from paperfeed_flows.abandoned import COMMAND_TAG

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# Steps that read or write storage are retried (a network share that hiccups); the others are pure
# or already repair what a failed attempt left, so a retry would only repeat the failure.
RETRIES: dict[str, list[float]] = {  # step -> the delays of its retries, in seconds
    "load published state": [2, 2],
    "find files": [1, 2, 4],
    "read files": [1, 2, 4],
    "archive raw files": [2, 2],
}


class PrefectSteps(Steps):
    """Each step a Prefect task (its inputs are frames and file bytes: never cached or persisted)."""

    def __call__(self, name: str, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        with _untagged():
            return as_task(name, fn)(*args, **kwargs)

    def each(self, name: str, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        step = as_task(name, fn)
        with _untagged():
            return [step(item) for item in items]

    def say(self, message: str) -> None:
        get_run_logger().warning(message)


@contextmanager
def _untagged() -> Iterator[None]:
    """Task runs made here do not carry COMMAND_TAG, which marks a command's flow run only. A task
    run's tags inherit the context's, and before a task run with tags starts, Prefect asks its
    server for concurrency slots for them, whether or not a limit exists: 11 requests a run,
    which a run against a busy server waited on for 1.8-2.4 s in all in 3 of 10 warm runs (the
    server's SQLite writing the last run's events). A served deployment's task runs carry no tags
    either."""
    with TagsContext(current_tags=TagsContext.get().current_tags - {COMMAND_TAG}):
        yield


def as_task(name: str, fn: Callable[P, R]) -> Task[P, R]:
    delays = RETRIES.get(name, [])
    return task(name=name, cache_policy=NONE, persist_result=False, retries=len(delays), retry_delay_seconds=delays)(fn)
