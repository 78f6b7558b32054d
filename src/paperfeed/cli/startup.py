"""A command's start-up: imports, not work, as far as Python's garbage collector is concerned.

Python (3.11) runs a full collection whenever the objects that survived earlier ones have grown by
a quarter, and a full collection walks every object alive. While a command imports Prefect, Great
Expectations and pandas (hundreds of thousands of objects, which live as long as the process) that
happens again and again: seven times in a first `paperfeed run`, 0.45-0.5 s in all, most of it
while Great Expectations imports in its thread and holds the interpreter. Imports leave next to no
garbage behind (those collections found 0-280 objects each), so while the command starts each full
collection first freezes what is alive (`gc.freeze`: left out of every later collection) and so
walks nothing. The start ends when the command's work begins (`done()`) and what loads in the
background meanwhile (`loading()`: Great Expectations, which with a running Prefect server is still
importing as the flow begins) has loaded. From then on collections are Python's own: the work's
garbage is collected as usual, and only the objects alive before it are never walked again. Every
command says where its work begins: `orchestrated` (run, backfill, rebuild), serve, export,
verify, sql and versions.
"""

from __future__ import annotations

import gc
import threading

_work_began = threading.Event()
_loading: list[threading.Thread] = []


def _still_starting() -> bool:
    return not _work_began.is_set() or any(thread.is_alive() for thread in _loading)


def _freeze_before_full_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start" and info["generation"] == 2 and _still_starting():
        gc.freeze()


def begin() -> None:
    """From now until the start ends, a full collection freezes the objects alive instead of walking them."""
    _work_began.clear()
    _loading.clear()
    if _freeze_before_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_before_full_collection)


def loading(thread: threading.Thread) -> None:
    """A thread that imports in the background while the command starts: the start lasts until it ends."""
    if starting():
        _loading.append(thread)


def done() -> None:
    """The command's work begins: collections as Python runs them, once what loads in the
    background has loaded (what is frozen stays frozen)."""
    _work_began.set()
    if not _still_starting() and _freeze_before_full_collection in gc.callbacks:
        gc.callbacks.remove(_freeze_before_full_collection)


def starting() -> bool:
    return _freeze_before_full_collection in gc.callbacks and _still_starting()
