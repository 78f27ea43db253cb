"""A stand-in for the dashboard App, offering the contract the panes and screens use:
`app.service`, `app.store_changed` (a Signal fed by a worker on `service.watch()`),
`app.clock()`, `app.read_only` and `app.notify_refusal(exc)`; and, as the dashboard does,
opens a schedule's details when the schedules pane says one was chosen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.signal import Signal
from textual.widget import Widget

from jobdash.core.service import Service
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from jobdash.tui.widgets.schedules_pane import SchedulesPane

SIZE = (120, 40)
CONFIG = """
[jobdash]
admins = ["root"]

[types.three]
description = "three items, the second fails"
items = ["a", "b", "c"]
command = ["sh", "-c", "echo task {item}; echo more {item}; test {item} != b"]
parallel = 1

[types.ticker]
command = ["sh", "-c", "for i in $(seq 1 40); do echo tick $i; sleep 0.02; done"]

[types.slow]
command = ["sleep", "30"]

[types.quick]
command = ["echo", "hello"]

[types.nightly]
command = ["echo", "nightly"]
schedule = "cron: 0 3 * * *"
"""


class PaneApp(App[None]):
    def __init__(
        self,
        service: Service,
        widget: Callable[[], Widget] | None = None,
        screen: Callable[[], Screen[Any]] | None = None,
        clock: Callable[[], float] | None = None,
        watch: bool = True,
    ) -> None:
        super().__init__()
        self.service = service
        self.store_changed: Signal[Any] = Signal(self, "store-changed")
        self.read_only = service.read_only
        self.refusals: list[str] = []
        self._make_widget = widget
        self._make_screen = screen
        self._clock = clock
        self._watch_changes = watch

    def clock(self) -> float:
        return self._clock() if self._clock is not None else time.time()

    def notify_refusal(self, exc: Exception) -> None:
        self.refusals.append(str(exc))
        self.notify(str(exc), severity="error", markup=False)

    def compose(self) -> ComposeResult:
        if self._make_widget is not None:
            yield self._make_widget()

    def on_mount(self) -> None:
        if self._watch_changes:
            self.run_worker(self._watch(), group="watch")
        if self._make_screen is not None:
            self.push_screen(self._make_screen())

    def on_schedules_pane_selected(self, message: SchedulesPane.Selected) -> None:
        self.push_screen(ScheduleDetailsScreen(self.service, message.schedule_id))

    async def _watch(self) -> None:
        async for changes in self.service.watch(interval=0.05):
            self.store_changed.publish(changes)


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until `cond()` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)
