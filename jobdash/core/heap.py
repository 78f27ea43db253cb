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

Three kinds of work make objects faster than the collector's young passes can find garbage
among them, and those passes found none (measured: 0 objects collected in a bulk of 20,000
one-task jobs, ~8 µs a job of ~100 spent in them):
- A bulk submission (`collector_held`): its jobs, tasks and rows all live until they are
  written, so the passes walked them, moved them into the older generations and, as those
  grew, walked everything again in full passes (two a bulk of 20,000). It holds the
  collector while it builds and writes them, then leaves it as it was.
- A running engine (`engine_started`, `engine_stopped`): each batch of claims makes, per
  task, its claim, run, context, asyncio task and coroutines, rows and the outcome, ~1,000
  to 2,000 objects a batch of 64 alive at once, and they are freed by their reference
  counts once the batch is recorded. At Python's default young threshold (700 objects
  more made than freed) a young pass came once a batch, walked the batch's live objects
  and moved them into the middle generation, whose passes walked them again. While an
  engine runs in the process, the young threshold is `ENGINE_YOUNG` (10,000): a batch's
  objects are gone before a pass comes; a pass walks at most that many (~1-2 ms).
- A stream of millions of rows (`jobdash export`) holds it too (`collector_held`): its
  pages make no cycle, yet each page's 1,000 row tuples (and its columns) set off two young
  collections that walked them all (~5 % of a 1M-job export's CPU).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = [
    "collector_held",
    "engine_started",
    "engine_stopped",
    "freeze_once",
    "freeze_start_up",
    "hold_collector",
    "release_collector",
]

_frozen = False
ENGINE_YOUNG = 10_000  # the young generation's threshold while an engine runs
_engines = 0  # engines (agents) running in this process
_young_before: int | None = None  # the threshold they raised, to give back
_held = 0  # `collector_held` blocks under way
_enable_after = False  # whether the collector was on when the first of them began


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


@contextlib.contextmanager
def collector_held() -> Iterator[None]:
    """No cycle collection while the block runs (a bulk submission: see the module); then
    the collector is on or off as it was before the first of such blocks under way."""
    global _held, _enable_after
    if _held == 0:
        _enable_after = gc.isenabled()
        gc.disable()
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if _held == 0 and _enable_after:
            gc.enable()


def engine_started() -> None:
    """An engine runs in this process: the young threshold is at least `ENGINE_YOUNG`
    until the last one stops (see the module)."""
    global _engines, _young_before
    _engines += 1
    young, middle, old = gc.get_threshold()
    if _engines == 1 and 0 < young < ENGINE_YOUNG:  # 0: the program turned passes off
        _young_before = young
        gc.set_threshold(ENGINE_YOUNG, middle, old)


def engine_stopped() -> None:
    """An engine stopped: the last one gives the young threshold back as it was, unless the
    program set another meanwhile."""
    global _engines, _young_before
    _engines = max(0, _engines - 1)
    if _engines or _young_before is None:
        return
    young, middle, old = gc.get_threshold()
    if young == ENGINE_YOUNG:
        gc.set_threshold(_young_before, middle, old)
    _young_before = None
