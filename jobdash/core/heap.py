"""Python's cycle collector in jobdash's long-running processes: the dashboard, `serve` and
`agent`.

A full collection walks every object the collector tracks, and most of those are made at
start: the modules, classes and functions of Textual, Rich, the stores and jobdash (about
75,000 objects in the dashboard), which live as long as the process. Walking them again at
each full collection cost the dashboard following a 20,000 lines/s log 1.4 s of its 4.5 s of
CPU, in stops of 100-250 ms during which it drew nothing and read no key.

`gc.freeze()` (public, documented for this use) puts what exists now out of the collector's
view; objects made later are collected as before. Frozen objects are still freed when their
last reference goes; only a cycle among them would stay, and what exists at start stays
anyway.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_start_up"]

_frozen = False


def freeze_start_up() -> None:
    """Once the process is up (its modules loaded, its first screen or its engine started):
    what exists now is not walked again by the cycle collector. Once per process: a process
    that opens several dashboards in turn (the tests) freezes only what the first found."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
