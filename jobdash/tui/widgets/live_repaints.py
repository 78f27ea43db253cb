"""How often the job table repaints a row that keeps changing while it runs.

A busy job changes its progress or info many times a second; repainting its row each time
costs ~300 bytes over SSH.  This throttle lets each row repaint at once if it has not for a
while, and otherwise collects the changed columns until its turn comes; a status change
always goes through at once.  The interval grows with the number of busy rows so the whole
table stays near a budget of row repaints per second.  Plain Python: the widget gives it
a way to repaint and a way to set a timer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["LiveRepaints"]

Repaint = Callable[[int, set[str]], None]  # (job id, columns) -> repaint that row's cells
Schedule = Callable[[float, Callable[[], None]], None]  # (delay, callback) -> timer


class LiveRepaints:
    """Rows patched in place, repainted now or within `interval` of their last repaint."""

    def __init__(self, interval: float, budget: float, repaint: Repaint, schedule: Schedule):
        """`interval`: the longest wait between two repaints of one row (0: no wait);
        `budget`: row repaints per second aimed at."""
        self.interval = interval
        self.budget = budget
        self._repaint = repaint
        self._schedule = schedule
        self._busy_interval = (0.0, 0.25)  # (computed at, interval)
        self._painted: dict[int, float] = {}  # job id -> monotonic time of its last repaint
        self.deferred: dict[int, set[str]] = {}  # job id -> columns waiting for a repaint
        self._pending = False  # a flush is scheduled

    def changed(self, job_id: int, columns: set[str], can_wait: bool = True) -> None:
        """Job `job_id`'s `columns` changed: repaint them now or at the row's turn."""
        now = time.monotonic()
        waited = now - self._painted.get(job_id, -math.inf)
        interval = self._current_interval(now)
        if "status" in columns or interval <= 0 or waited >= interval:
            self._painted[job_id] = now
            self._repaint(job_id, columns | self.deferred.pop(job_id, set()))
            return
        self.deferred.setdefault(job_id, set()).update(columns)
        if not self._pending and can_wait:
            self._pending = True
            self._schedule(interval - waited, self.flush)

    def forget(self, job_id: int) -> None:
        """The job left the table."""
        self._painted.pop(job_id, None)
        self.deferred.pop(job_id, None)

    def flush(self) -> None:
        """Repaint the rows whose changes waited for their turn."""
        self._pending = False
        now = time.monotonic()
        pending, self.deferred = self.deferred, {}
        for job_id, columns in pending.items():
            self._painted[job_id] = now
            self._repaint(job_id, columns)

    def _current_interval(self, now: float) -> float:
        """Seconds between live repaints of one row: rows painted in the last 5 s over the
        budget, between 0.25 s and `interval` (recomputed at most once a second)."""
        if self.interval <= 0:
            return 0.0
        computed_at, interval = self._busy_interval
        if now - computed_at >= 1.0:
            recent = {k: t for k, t in self._painted.items() if now - t < 5.0}
            self._painted = recent
            interval = min(self.interval, max(0.25, len(recent) / self.budget))
            self._busy_interval = (now, interval)
        return interval
