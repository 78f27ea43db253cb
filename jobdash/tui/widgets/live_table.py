"""`LiveTable`: the job table's rows repainted as they change, cell by cell: a running job's
time and flags (stalled, overrun) as the clock moves (`_tick`, each second), and what the
change feed patched (`LiveRepaints` decides when: now, or within its interval). Only the span
of the changed columns of a visible row is repainted: a row costs ~300 bytes over SSH.
`JobTable` (job_table.py) is the rest: the rows, the cursor, the drawing."""

from __future__ import annotations

from collections.abc import Callable

from textual.geometry import Region

from jobdash.core.model import JobStatus
from jobdash.present.durations import job_time
from jobdash.present.timing import job_look
from jobdash.tui.widgets.job_columns import COLUMNS
from jobdash.tui.widgets.job_rows import JobRows
from jobdash.tui.widgets.live_repaints import LiveRepaints
from jobdash.tui.widgets.table_base import TableBase

__all__ = ["Clock", "LiveTable"]

Clock = Callable[[], float]


class LiveTable(TableBase):
    """A table of jobs whose visible rows repaint live (the base of `JobTable`)."""

    _model: JobRows
    _clock: Clock
    _now: float  # the clock at the last paint
    _day: tuple[float, float]  # "today", for the time format
    _live: LiveRepaints

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self.set_timer(delay, callback, name="jobtable-live")

    def _repaint_job(self, job_id: int, columns: set[str]) -> None:
        position = self._model.index.get(job_id)
        if position is not None:
            self._refresh_cells(position, columns)

    def _refresh_cells(self, row: int, columns: set[str]) -> None:
        """Repaint only the span of a visible row covering `columns` (all if widths moved)."""
        top = round(self.scroll_y)
        if not top <= row < top + self._page_rows():
            return
        if not columns:
            return
        x = self._gutter()
        first: int | None = None
        last: int | None = None
        for n, column_width in self._layout(self._inner_width()):
            if COLUMNS[n].key in columns:
                if first is None:
                    first = x
                last = x + column_width
            x += column_width + 1
        if first is None or last is None:
            return
        scroll_x = round(self.scroll_x)
        x0, x1 = max(0, first - scroll_x), last - scroll_x
        if x1 > x0:
            self.refresh(Region(x0, row + 1 - top, x1 - x0, 1))

    def _tick(self) -> None:
        """Repaint visible running rows whose time or flag (stalled, overrun) changed with
        the clock since the last paint."""
        before = self._now
        now = self._clock()
        if not self._day[0] <= now < self._day[1]:
            self.refresh()  # render_lines notices the new day
            return
        top = round(self.scroll_y)
        for row in range(top, min(len(self._model.rows), top + self._page_rows())):
            job = self._model.rows[row]
            if job.status is not JobStatus.RUNNING:
                continue
            changed = set()
            if job_time(job, before) != job_time(job, now):
                changed.add("time")
            if job_look(job, before) != job_look(job, now):
                changed.add("status")
            if changed:
                self._live.changed(job.id, changed, self.is_mounted)  # the live repaint budget
