"""The Completed tab's header: one line of the last 24 hours, jobs succeeded and failed
per hour (two bars an hour; `v`: the numbers).

Counted by the store (`Service.jobs_ended`, an index range of the last day's jobs): read
when the tab is built, when jobs end (at most every `min_interval` seconds) and every
`every` seconds, since the hours move on under an unchanged store; behind another tab, not
until it is shown. A count that did not change repaints nothing.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work

from jobdash.core.service import Service
from jobdash.present.charts import HOURS, hours_picture
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.widgets.chart import Chart

__all__ = ["CompletedHeader"]


class CompletedHeader(Chart):
    """Jobs ended per hour over the last day, on one line."""

    def __init__(
        self,
        service: Service,
        *,
        every: float = 60.0,
        min_interval: float = 5.0,
        id: str | None = None,
    ) -> None:
        super().__init__(f"last {HOURS} h: loading…", id=id)
        self.service = service
        self.every = every
        self.min_interval = min_interval
        self._loaded_at = -float("inf")
        self._dirty = False

    def on_mount(self) -> None:
        super().on_mount()
        subscribe_changes(self, self._on_store_changed)
        self.set_interval(self.every, self._hours_moved)
        self.set_interval(self.min_interval, self._maybe_reload)
        self.reload()

    def on_show(self) -> None:
        """The tab came to the front: count what ended while it was behind."""
        if self._dirty:
            self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        jobs = getattr(changes, "jobs", ())
        if getattr(changes, "removed", None) or any(job.status.finished for job in jobs):
            self._dirty = True

    def _hours_moved(self) -> None:
        self._dirty = True
        self._maybe_reload()

    def _maybe_reload(self) -> None:
        """Behind another tab nothing is counted: `on_show` does it when it is shown."""
        if (
            self._dirty
            and self.is_on_screen
            and time.monotonic() - self._loaded_at >= self.min_interval
        ):
            self.reload()

    @work(group="completed-header", exclusive=True)
    async def reload(self) -> None:
        """Count the last day's jobs again."""
        self._dirty = False
        self._loaded_at = time.monotonic()
        now = clock_of(self.app)()
        self.show([hours_picture(await self.service.jobs_ended(now, HOURS), now)])
