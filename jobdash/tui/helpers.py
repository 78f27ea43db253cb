"""Small pieces shared by the details screen and the Scheduled / Agents panes.

They talk to the App through the contract it offers (`app.clock()`, `app.store_changed`)
and fall back to plain behaviour when a test app lacks one of them. The actions that change
something, with their confirmations, refusals and the read-only rule, are in
`jobdash.tui.actions`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from textual.app import App


def clock_of(app: App[Any]) -> Callable[[], float]:
    """The app's injectable clock (frozen in snapshots), else wall time."""
    clock = getattr(app, "clock", None)
    return clock if callable(clock) else time.time


def subscribe_changes(node: Any, callback: Callable[[Any], None]) -> bool:
    """Subscribe `node` to `app.store_changed`; False when the app has no such signal."""
    signal = getattr(node.app, "store_changed", None)
    if signal is None:
        return False
    signal.subscribe(node, Delivered(callback))
    return True


class Delivered:
    """A callback of the change feed's signal, with its signature told. Textual hands each
    batch to a subscriber through a new `partial`, and asks `inspect.signature` about the
    function in it every time (~25 µs; five subscribers, four batches a second while jobs
    run); an object's `__signature__` answers at once (~5 µs)."""

    __signature__ = inspect.Signature(
        [inspect.Parameter("changes", inspect.Parameter.POSITIONAL_ONLY)]
    )

    def __init__(self, callback: Callable[[Any], None]) -> None:
        self.callback = callback

    def __call__(self, changes: Any) -> None:
        self.callback(changes)
