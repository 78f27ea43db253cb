"""A table of jobs that stays fast with 100,000 rows and live updates.

Why not `DataTable`: it takes ~10 s to mount 100,000 rows and repaints the whole table on
every `update_cell`, which over SSH means tens of KB/s for one changing cell.  This widget is
built on Textual's Line API instead: rows are plain `Job` objects in a Python list (plus a
dict from job id to row index), a line is rendered only when it is on screen, rendered rows
are kept in an LRU of `Strip`s keyed by row version, and a changed row repaints only its own
line.  The rows themselves (sort, filter, sorted inserts) are a plain `JobRows`
(job_rows.py); the cursor, header and strip cache are the tables' shared `TableBase`; how
often a busy row repaints is `LiveRepaints`.

Everything a job provides (type, target, user, info) is untrusted text: it is turned into
`Segment`s from plain strings after `sanitize`, never parsed as markup, so a job named
"[bold]x[/]" or an info of "\\x1b[2J" is shown literally and cannot drive the terminal.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from jobdash.core.model import Job, JobStatus
from jobdash.tui.widgets.job_columns import (
    COLUMNS,
    INFO_WANTED,
    LAST_DROPS,
    NARROW_DROPS,
    NARROW_NAME_WIDTH,
    NARROW_PROGRESS_WIDTH,
    NARROW_UNREAD_WIDTH,
    Column,
    Widths,
    changed_columns,
    data_widths,
    day_of,
    header_strip,
    row_strip,
)
from jobdash.tui.widgets.job_rows import (
    COLUMN_KEYS,
    JobFilter,
    JobRows,
    JobSelect,
    has_unread_errors,
)
from jobdash.tui.widgets.live_repaints import LiveRepaints
from jobdash.tui.widgets.live_table import Clock, LiveTable
from jobdash.tui.widgets.table_base import RowMessage, cursor_bindings

__all__ = ["COLUMNS", "Column", "JobTable"]


class JobTable(LiveTable):
    """A scrolling, sortable, filterable table of jobs with a row cursor.

    Feed it with `set_jobs` (replace everything) and `upsert` / `remove_jobs` (patch rows as
    the change feed reports them).  The cursor follows its job, by id, across updates,
    sorts and filter changes.
    """

    PAGE_SCROLLS_VIEW = True

    BINDINGS: ClassVar[list[BindingType]] = [
        *cursor_bindings("jobtable", "First job", "Last job", "Details", show_select=True),
        Binding("s", "sort_next", "Sort", id="jobtable.sort_next"),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="jobtable.sort_reverse"),
        Binding("u", "next_unread", "Next unread errors", show=False, id="jobtable.next_unread"),
    ]

    class Highlighted(RowMessage):
        """The cursor moved to a different job (`job` is None when the table emptied)."""

        def __init__(self, table: JobTable, job: Job | None) -> None:
            self.job = job
            super().__init__(table, None if job is None else job.id)

    class Selected(RowMessage):
        """The user chose the job under the cursor (enter, or a click on the cursor row)."""

        def __init__(self, table: JobTable, job: Job) -> None:
            self.job: Job = job
            super().__init__(table, job.id)

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        sort: str = "id",
        reverse: bool = True,
        empty_text: str = "No jobs",
        filtered_empty_text: str = "No jobs match the filter",
        tick: float | None = 1.0,
        live_interval: float = 3.0,
        live_budget: float = 8.0,
        cache_size: int = 4096,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create an empty table.

        Args:
            clock: Returns "now" in epoch seconds; inject a frozen one for tests/snapshots.
            sort: Column key to sort by (see `COLUMN_KEYS`).
            reverse: Sort descending (the default, with `sort="id"`, is newest first).
            empty_text: Shown when there are no jobs at all.
            filtered_empty_text: Shown when jobs exist but the filter hides them all.
            tick: Seconds between repaints of running rows' ETA (None: never).
            live_interval: A row whose progress or info changes is repainted at most
                this often (seconds) when many rows are busy; a status change always
                repaints at once.  0: repaint every change.
            live_budget: Row repaints per second aimed at: with few busy rows each is
                repainted up to 4 times a second, with many the interval grows towards
                `live_interval`.  A row costs ~300 bytes over SSH, so 8/s ≈ 2.5 KB/s.
            cache_size: How many rendered rows to keep.
        """
        keys = {column.key: n for n, column in enumerate(COLUMNS)}
        super().__init__(
            cache_size=cache_size,
            drops=tuple(keys[key] for key in NARROW_DROPS),
            # Then names give way, down to NARROW_NAME_WIDTH, the progress bar narrows and
            # the unread marks show their gravest part (a long mark pushed info off the
            # screen at 80).
            narrow={
                keys["type"]: NARROW_NAME_WIDTH,
                keys["target"]: NARROW_NAME_WIDTH,
                keys["progress"]: NARROW_PROGRESS_WIDTH,
                keys["unread"]: NARROW_UNREAD_WIDTH,
            },
            want={keys["info"]: INFO_WANTED},
            last_drops=tuple(keys[key] for key in LAST_DROPS),
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self._model = JobRows(sort, reverse, clock)
        self._clock = clock
        self.empty_text = empty_text
        self.filtered_empty_text = filtered_empty_text
        self._tick_interval = tick
        self._live = LiveRepaints(live_interval, live_budget, self._repaint_job, self._later)
        self._now = clock()
        self._day = day_of(self._now)  # "today", for the time format
        self._widths = Widths()
        self.numbers = False  # the text mode (`v`): the unread marks in words

    # ------------------------------------------------------------------ public API

    @property
    def shown_count(self) -> int:
        """Jobs shown (those passing the filter)."""
        return len(self._model.rows)

    @property
    def total_count(self) -> int:
        """All jobs the table holds, shown or not."""
        return len(self._model.all)

    @property
    def cursor_job(self) -> Job | None:
        """The job under the cursor, or None when no job is shown."""
        rows = self._model.rows
        return rows[self._cursor or 0] if rows else None

    @property
    def cursor_row(self) -> int:
        """The cursor's position in the shown rows (0 when empty)."""
        return self._cursor or 0

    @property
    def sort_column(self) -> str:
        """The key of the column the rows are sorted by."""
        return self._model.sort_column

    @property
    def sort_reverse(self) -> bool:
        """Whether the sort is descending."""
        return self._model.reverse

    @property
    def rows(self) -> list[Job]:
        """The shown jobs in display order (a copy: exports must not race updates)."""
        return list(self._model.rows)

    @property
    def filter(self) -> JobFilter | None:
        """The predicate choosing which jobs are shown (None shows all)."""
        return self._model.filter

    @filter.setter
    def filter(self, predicate: JobFilter | None) -> None:
        self.set_filter(predicate)

    @property
    def _deferred(self) -> dict[int, set[str]]:
        """Columns of busy rows waiting for their repaint (for tests)."""
        return self._live.deferred

    def get_job(self, job_id: int) -> Job | None:
        """The job with this id, shown or not."""
        return self._model.all.get(job_id)

    def set_jobs(self, jobs: Iterable[Job]) -> None:
        """Replace every row.  O(n log n) in a few plain-Python passes; no per-row widgets."""
        anchor = self._screen_row_of_cursor()
        self._cache.clear()
        self._now = self._clock()
        self._day = day_of(self._now)
        self._model.set_jobs(jobs)
        self._rebuilt(anchor, live=True)

    def upsert(self, jobs: Iterable[Job]) -> None:
        """Add new jobs and patch changed ones, repainting only the lines that changed."""
        anchor = self._screen_row_of_cursor()
        patch = self._model.upsert(jobs)
        if patch.first is not None:
            self._moved(patch.first, anchor)
        else:
            now = self._clock()
            for _position, old, new in patch.in_place:
                self._live.changed(new.id, changed_columns(old, new, now), self.is_mounted)
        numbers = self.numbers
        widen = any(self._widths.too_narrow_for(j, self._day, numbers) for j in patch.shown)
        if widen and self._update_widths():
            self._cache.clear()
            self.refresh()

    def remove_jobs(self, ids: Iterable[int]) -> None:
        """Drop jobs by id (unknown ids are ignored).

        Not named `remove`: that is `Widget.remove()`, which takes the widget out of the DOM.
        """
        ids = list(ids)
        for job_id in ids:
            self._live.forget(job_id)
        anchor = self._screen_row_of_cursor()
        first = self._model.remove(ids)
        if first is not None:
            self._moved(first, anchor)

    def set_filter(
        self, predicate: JobFilter | None, select: JobSelect | None = None, narrows: bool = False
    ) -> None:
        """Show only jobs for which `predicate(job)` is true (None: show all).

        `select`, when given, does the same for a whole list at once (faster than calling
        the predicate per row: this runs on every keystroke of the filter bar).

        `narrows` is the caller's promise that every job the new filter passes also
        passes the one in force (a word typed longer, a word added): then only the shown
        rows are filtered, not every job, so each keystroke of a narrowing search costs
        less than the last (10 rows instead of 100,000 at the end of a job name).
        """
        anchor = self._screen_row_of_cursor()
        self._model.set_filter(predicate, select, narrows)
        # Column widths follow the data, not the filter (no jumping while typing).
        self._rebuilt(anchor, live=False)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by `column` (a key of `COLUMN_KEYS`); `reverse` None keeps the direction."""
        anchor = self._screen_row_of_cursor()
        self._model.sort_by(column, reverse)
        self._sync_cursor()
        self._keep_cursor_at(anchor, live=False)
        self.refresh()

    def select_job(self, job_id: int) -> bool:
        """Put the cursor on the job with this id, if it is shown."""
        position = self._position(job_id)
        if position is None:
            return False
        self.move_cursor(position)
        return True

    # ------------------------------------------------------------------ actions

    def action_sort_next(self) -> None:
        """Sort by the next column, in the current direction."""
        position = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(position + 1) % len(COLUMN_KEYS)])

    def action_sort_reverse(self) -> None:
        """Reverse the sort direction."""
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)

    def show_numbers(self, numbers: bool) -> None:
        """The text mode (`v`, the app's): the unread marks in words, for a screen reader."""
        if numbers != self.numbers:
            self.numbers = numbers
            self._cache.clear()
            self._update_widths()
            self.refresh()

    def action_next_unread(self) -> None:
        """`u`: the cursor to the next job with unread errors, wrapping round; a toast
        when no job shown has any."""
        position = self._next_unread_errors()
        if position is None:
            self.notify("No job with unread errors here", title="Unread")
        else:
            self.move_cursor(position)

    def _next_unread_errors(self) -> int | None:
        return self._model.next_where(self.cursor_row, has_unread_errors)

    def on_mount(self) -> None:
        """Start the clock tick that keeps running rows' ETA current."""
        if self._tick_interval:
            self.set_interval(self._tick_interval, self._tick)

    def _header_clicked(self, x: int) -> None:
        """Click a header label to sort by that column (again to reverse)."""
        column = self._column_at(x)
        if column is not None:
            if column == self.sort_column:
                self.sort_by(column, reverse=not self.sort_reverse)
            else:
                self.sort_by(column)

    # ------------------------------------------------------------------ what TableBase asks

    def _row_total(self) -> int:
        return len(self._model.rows)

    def _row_key(self, index: int) -> Hashable:
        return self._model.rows[index].id

    def _position(self, key: Hashable) -> int | None:
        return self._model.index.get(key)  # type: ignore[call-overload]

    def _column_spec(self) -> list[tuple[int, int]]:
        return self._widths.spec(self.scrollable_content_region.width - self._gutter())

    def _layout_key(self) -> Hashable:
        return self._widths

    def _row_cache_key(self, index: int) -> Hashable:
        job = self._model.rows[index]
        clock_bucket = int(self._now) if job.status is JobStatus.RUNNING else 0
        return (job.id, self._model.version.get(job.id, 0), clock_bucket)

    def _empty_message(self) -> str:
        return self.filtered_empty_text if self._model.all else self.empty_text

    def _highlighted(self, key: Hashable | None) -> Message:
        return self.Highlighted(self, self.cursor_job if key is not None else None)

    def _selected(self, key: Hashable) -> Message:
        return self.Selected(self, self._model.all[key])  # type: ignore[index]

    # ------------------------------------------------------------------ rows changed

    def _rebuilt(self, anchor: int | None, live: bool) -> None:
        """After every row was recomputed: widths (for data changes), cursor, repaint.

        `live` is True for data refreshes and False for the user's own sort/filter
        changes (see `_keep_cursor_at`).
        """
        if live:
            self._update_widths()
        self._update_virtual_size()
        self._sync_cursor()
        self._keep_cursor_at(anchor, live=live)
        self.refresh()

    def _moved(self, first: int, anchor: int | None) -> None:
        """Rows from `first` on moved: keep the cursor on its job and repaint the visible
        lines from there down."""
        self._update_virtual_size()
        self._sync_cursor()
        if not self._keep_cursor_at(anchor, live=True):
            top = round(self.scroll_y)
            page = self._page_rows()
            if first < top + page:
                start = max(first, top)
                # +1: virtual line 0 is the header.
                self.refresh_lines(start + 1, top + page - start)

    def _screen_row_of_cursor(self) -> int | None:
        """The cursor's line in the view (0 = first row under the header), if visible."""
        if not self._model.rows or not self.is_mounted:
            return None
        line = (self._cursor or 0) - round(self.scroll_y)
        return line if 0 <= line < self._page_rows() else None

    def _keep_cursor_at(self, anchor: int | None, live: bool) -> bool:
        """After rows moved, scroll so the cursor stays on screen line `anchor`.

        For live data (`live`), a cursor that was off screen is left alone (the user
        scrolled away on purpose), and a view at the very top stays at the top so new
        jobs arriving above the cursor (newest first) come into sight.  For the user's
        own sort or filter change, an off-screen cursor is brought to the middle.
        Returns True if the view scrolled.
        """
        if not self._model.rows or not self.is_mounted:
            return False
        top = round(self.scroll_y)
        page = self._page_rows()
        cursor = self._cursor or 0
        if anchor is None:
            if live:
                return False
            target = cursor - page // 2
        elif live and top == 0:
            target = 0 if cursor < page else cursor - page + 1
        else:
            target = cursor - anchor
        target = max(0, min(target, len(self._model.rows) - page))
        if target == top:
            return False
        self.scroll_to(y=target, animate=False)
        return True

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        """Read the clock once per paint, so every line of a frame agrees on "now"."""
        self._now = self._clock()
        if not self._day[0] <= self._now < self._day[1]:
            self._day = day_of(self._now)
            self._update_widths()
            self._cache.clear()
        return super().render_lines(crop)

    def _job_at(self, index: int) -> Job:
        """The job of shown row `index` (a windowed table's may still be on its way)."""
        return self._model.rows[index]

    def _render_row(self, index: int, width: int, is_cursor: bool) -> Strip:
        """Build a row's segments from plain strings: nothing here is parsed as markup."""
        job = self._job_at(index)
        styles = self.get_component_rich_style
        layout = self._layout(width)
        return row_strip(
            job, layout, width, self._now, self.rich_style, styles, is_cursor, self.numbers
        )

    def _header_strip(self, width: int) -> Strip:
        """The column labels, with ▲/▼ on the sort column."""
        cache_key = ("header", width, self.sort_column, self.sort_reverse)
        strip = self._cache.get(cache_key)
        if strip is None:
            style = self.get_component_rich_style("table--header")
            layout = self._layout(width)
            strip = header_strip(layout, width, self.sort_column, self.sort_reverse, style)
            self._cache.set(cache_key, strip)
        return strip

    # ------------------------------------------------------------------ layout

    def _column_at(self, x: int) -> str | None:
        """The key of the column under table x coordinate `x`."""
        left = 0
        for n, column_width in self._layout(self._inner_width()):
            if left <= x < left + column_width + 1:
                return COLUMNS[n].key
            left += column_width + 1
        return None

    def _update_widths(self) -> bool:
        """Size the id, time and type columns to the data; True if a width changed."""
        model = self._model
        widths = data_widths(model.rows, max(model.all, default=0), self._day, self.numbers)
        if widths == self._widths:
            return False
        self._widths = widths
        self._update_virtual_size()
        return True
