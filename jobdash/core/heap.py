"""Python's cycle collector in jobdash's processes: held while one starts, then kept off
what the start made.

A full collection walks every object the collector tracks, and most of those are made at
start: the modules, classes and functions of Textual, Rich, the stores and jobdash (about
75,000 objects in the dashboard), which live as long as the process. Walking them again at
each full collection cost the dashboard following a 20,000 lines/s log 1.4 s of its 4.5 s of
CPU, in stops of 100-250 ms during which it drew nothing and read no key; while a process
starts, its imports make them in bulk and the full passes walk them as they grow (in the
dashboard a pass of 28-69 ms before its first frame); and every process ends with a full
collection (Python's own at exit, even with the collector disabled).

So `jobdash` holds the collector from its start (`hold_collector`) until the process is up
(`freeze_start_up`): a command once its store is open, the dashboard once its first screen
is drawn, an engine once it has started, `jobdash web` before it serves. An engine started
through the Python API (`Service.start_engine`, in a program of the user's) freezes too
(`freeze_once`), leaving the collector on or off as the program has it: its full passes
walked the start's objects again and again while a bulk of 20,000 one-task jobs ran (~5 µs
a job of ~150). `gc.freeze()`
(public, documented for this use) then puts what exists out of the collector's view;
objects made later are collected as before. Frozen objects are still freed when their last
reference goes; only a cycle among them would stay, and what exists at start stays anyway.
`jobdash jobs` on an empty store: 573 M instructions, not 626 M.

A stream of millions of rows (`jobdash export`) holds the collector while it runs
(`collector_held`): its pages make no cycle, yet each page's 1,000 row tuples (and its
columns) set off two young collections that walked them all, and now and then an older one
(~5 % of a 1M-job export's CPU in the collector's walks).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "collector_held",
    "freeze_once",
    "freeze_start_up",
    "hold_collector",
    "release_collector",
]

_frozen = False


def freeze_start_up() -> None:
    """Once the process is up (its modules loaded, its first screen or its engine started):
    what exists now is not walked again by the cycle collector. Once per process: a process
    that opens several dashboards in turn (the tests) freezes only what the first found."""
    freeze_once()
    release_collector()


def freeze_once() -> None:
    """What exists now is not walked again by the cycle collector (once per process; the
    collector stays on or off as it is)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def hold_collector() -> None:
    """No cycle collection until `release_collector` (or `freeze_start_up`): the process
    is starting."""
    gc.disable()


def release_collector() -> None:
    """The collector runs again, as in any Python process (the start is over)."""
    gc.enable()


@contextmanager
def collector_held() -> Iterator[None]:
    """No cycle collection inside (a stream whose pages make no cycle: an export), then
    the collector as it was (on or off: a program's own choice stays)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
