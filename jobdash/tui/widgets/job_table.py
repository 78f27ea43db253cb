"""A table of jobs that stays fast with 100,000 rows and live updates.

Why not `DataTable`: it takes ~10 s to mount 100,000 rows and repaints the whole table on
every `update_cell`, which over SSH means tens of KB/s for one changing cell.  This widget is
built on Textual's Line API instead: rows are plain `Job` objects in a Python list (plus a
dict from job id to row index), a line is rendered only when it is on screen, rendered rows
are kept in an LRU of `Strip`s keyed by row version, and a changed row repaints only its own
line.

Everything a job provides (type, target, user, info) is untrusted text: it is turned into
`Segment`s from plain strings after `sanitize`, never parsed as markup, so a job named
"[bold]x[/]" or an info of "\\x1b[2J" is shown literally and cannot drive the terminal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, ClassVar, Literal, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from jobdash.core.model import Job, JobStatus
from jobdash.present.durations import eta, job_seconds, job_time
from jobdash.present.progress import progress_bar, progress_count
from jobdash.present.status import Tone, look
from jobdash.present.text import sanitize
from jobdash.present.times import clock
from jobdash.tui.widgets.fitting import fit_columns

__all__ = ["COLUMNS", "Column", "JobTable"]

JobFilter = Callable[[Job], bool]
JobSelect = Callable[[list[Job]], list[Job]]
Clock = Callable[[], float]


class Column(NamedTuple):
    """One column of the table: `width` 0 means "the rest of the line"."""

    key: str
    label: str
    width: int
    align: Literal["left", "right"] = "left"


# The id and time columns are resized at run time (see `JobTable._layout`); the widths
# here are their minimums.  `info` takes whatever width is left, down to INFO_MIN_WIDTH,
# below which the table scrolls horizontally rather than squeezing it out of sight.
# Budget: at 120 columns with 100,000 jobs, info still gets 12; with some not from today
# (their dates take 8 more cells in started and updated), `updated` goes first.
COLUMNS: tuple[Column, ...] = (
    Column("id", "id", 3, "right"),
    Column("type", "type", 10),
    Column("target", "target", 12),
    Column("user", "user", 8),
    Column("started", "started", 8),
    Column("updated", "updated", 8),
    Column("status", "status", 12),
    Column("progress", "progress", 14),
    Column("failed", "fail", 4, "right"),
    Column("time", "eta/dur", 7, "right"),
    Column("info", "info", 0),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
_BY_KEY = {column.key: column for column in COLUMNS}
INFO_MIN_WIDTH = 12
TYPE_MAX_WIDTH = 20  # the type column grows to the longest type name, up to this
# Dropped, in this order, while the terminal is too narrow for every column.
NARROW_DROPS = ("updated", "user", "started")
NARROW_NAME_WIDTH = 10  # type and target shrink to this when even that is not enough
TIME_WIDTH_TODAY = 8  # "14:03:22"
TIME_WIDTH_OLDER = 16  # "2026-01-12 14:03"
PROGRESS_BAR_WIDTH = 6  # shrinks (to 3) when the done/total count is long

# Sort order of statuses: the lifecycle order, so "status" sorts active work together.
_STATUS_ORDER: dict[JobStatus, int] = {status: n for n, status in enumerate(JobStatus)}
_job_id = attrgetter("id")


# The job fields each column shows: a live update repaints only the cells whose fields
# changed (over SSH a whole 120-cell row costs ~340 bytes, its eta cell ~40).
_CELL_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "type": ("type",),
    "target": ("target",),
    "user": ("user",),
    "started": ("started",),
    "updated": ("updated",),
    "status": ("status",),
    "progress": ("pending", "running", "succeeded", "failed", "cancelled", "skipped", "progress"),
    "failed": ("failed",),
    "time": ("status", "started", "finished", "progress", "idle_time", "paused_at"),
    "info": ("info",),
}


def _changed_columns(old: Job, new: Job) -> set[str]:
    """The keys of the columns whose text may differ between two versions of a job."""
    return {
        key
        for key, fields in _CELL_FIELDS.items()
        if any(getattr(old, name) != getattr(new, name) for name in fields)
    }


def _primary_key(column: str, clock: Clock) -> Callable[[Job], Any]:
    """The value a column sorts on (ties are broken by job id, see `_sort_rows`)."""
    if column in ("id", "type", "target", "user", "info", "updated", "progress", "failed"):
        return attrgetter(column)  # C-level: sorting 100,000 rows stays in the tens of ms
    if column == "started":
        # Not started yet counts as "latest", so queued jobs sit with the newest.
        return lambda job: math.inf if job.started is None else job.started
    if column == "status":
        return lambda job: _STATUS_ORDER[job.status]
    if column == "time":
        # Read once at sort time: rows don't re-sort as the clock runs.
        now = clock()

        def time_key(job: Job) -> float:
            value = job_seconds(job, now)
            return -1.0 if value is None else value

        return time_key
    raise ValueError(f"unknown column {column!r}; expected one of {', '.join(COLUMN_KEYS)}")


def _sort_key(column: str, clock: Clock) -> Callable[[Job], Any]:
    """The full sort key of `column`: (value, job id), a total order.

    A total order makes a binary search for a new job's position exact and keeps equal
    rows in a predictable order across re-sorts.
    """
    if column == "id":
        return attrgetter("id")
    primary = _primary_key(column, clock)
    return lambda job: (primary(job), job.id)


def _sort_rows(rows: list[Job], column: str, reverse: bool, clock: Clock) -> None:
    """Sort `rows` in place in the order of `_sort_key(column)`, without building tuples.

    Two stable passes (by id, then by the column) give the same order as the tuple key
    at a fraction of the cost; `reverse=True` keeps ties in their previous order, so
    ties come out by descending id, exactly as the reversed tuple key would have them.
    """
    rows.sort(key=_job_id, reverse=reverse)
    if column != "id":
        rows.sort(key=_primary_key(column, clock), reverse=reverse)


def _fit(text: str, width: int, align: str = "left") -> str:
    """Pad or truncate `text` to exactly `width` cells, marking a cut with "…"."""
    if width <= 0:
        return ""
    if text.isascii():
        length = len(text)
        if length > width:
            return text[: width - 1] + "…"
    else:
        length = cell_len(text)
        if length > width:
            return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def _progress_cells(job: Job, width: int) -> tuple[str, str]:
    """A text bar of the tasks and their count, e.g. ("███░░░", " 12/40"), that together
    fill `width` cells; a long count takes cells from the bar, not the digits."""
    count = progress_count(job)
    bar_width = min(PROGRESS_BAR_WIDTH, max(3, width - 1 - len(count)))
    return progress_bar(job, bar_width), _fit(" " + count, width - bar_width)


class JobTable(ScrollView, can_focus=True):
    """A scrolling, sortable, filterable table of jobs with a row cursor.

    Feed it with `set_jobs` (replace everything) and `upsert` / `remove_jobs` (patch rows as
    the change feed reports them).  The cursor follows its job, by id, across updates,
    sorts and filter changes.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="jobtable.cursor_up"),
        Binding("down", "cursor_down", "Down", show=False, id="jobtable.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="jobtable.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="jobtable.page_down"),
        Binding("home", "cursor_top", "First job", show=False, id="jobtable.cursor_top"),
        Binding("end", "cursor_bottom", "Last job", show=False, id="jobtable.cursor_bottom"),
        Binding("enter", "select_cursor", "Details", id="jobtable.select"),
        Binding("s", "sort_next", "Sort", id="jobtable.sort_next"),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="jobtable.sort_reverse"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobtable--header",
        "jobtable--cursor",
        "jobtable--empty",
        "jobtable--dim",
        "jobtable--bar",
        "jobtable--failed",
        *(f"jobtable--{tone}" for tone in Tone if tone is not Tone.QUIET),
    }

    DEFAULT_CSS = """
    JobTable {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
        }
        & > .jobtable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .jobtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .jobtable--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .jobtable--empty { color: $text-muted; text-style: italic; }
        & > .jobtable--dim { color: $text-muted; }
        & > .jobtable--bar { color: $accent; }
        & > .jobtable--failed { color: $error; }
        /* a status's tone (jobdash.present.status); QUIET is jobtable--dim */
        & > .jobtable--accent { color: $accent; }
        & > .jobtable--warn { color: $warning; }
        & > .jobtable--ok { color: $success; }
        & > .jobtable--error { color: $error; text-style: bold; }
    }
    """

    class Highlighted(Message):
        """The cursor moved to a different job (`job` is None when the table emptied)."""

        def __init__(self, table: JobTable, job: Job | None) -> None:
            self.table = table
            self.job = job
            super().__init__()

        @property
        def control(self) -> JobTable:
            """The table, so `@on(JobTable.Highlighted, "#id")` selectors work."""
            return self.table

    class Selected(Message):
        """The user chose the job under the cursor (enter, or a click on the cursor row)."""

        def __init__(self, table: JobTable, job: Job) -> None:
            self.table = table
            self.job = job
            super().__init__()

        @property
        def control(self) -> JobTable:
            """The table, so `@on(JobTable.Selected, "#id")` selectors work."""
            return self.table

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
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if sort not in COLUMN_KEYS:
            raise ValueError(f"unknown column {sort!r}; expected one of {', '.join(COLUMN_KEYS)}")
        self._clock = clock
        self.empty_text = empty_text
        self.filtered_empty_text = filtered_empty_text
        self._tick_interval = tick
        self._live_interval = live_interval
        self._live_budget = live_budget
        self._busy_interval = (0.0, 0.25)  # (computed at, interval) for live repaints
        self._painted: dict[int, float] = {}  # job id -> monotonic time of its last live repaint
        self._deferred: dict[int, set[str]] = {}  # job id -> columns waiting for a repaint
        self._flush_timer: Timer | None = None
        self._sort_column = sort
        self._reverse = reverse
        self._key: Callable[[Job], Any] = _sort_key(sort, clock)
        self._filter: JobFilter | None = None
        self._select: JobSelect | None = None  # the filter for many rows at once
        self._ordered: list[Job] | None = None  # every job in sort order, until data changes

        self._all: dict[int, Job] = {}  # every job we know, shown or filtered out
        self._rows: list[Job] = []  # the shown jobs, in display order
        self._index: dict[int, int] = {}  # job id -> position in _rows
        self._version: dict[int, int] = {}  # job id -> render version (absent = 0)
        self._last_version = 0  # versions only grow, so a cached strip is never stale

        self._cursor = 0
        self._cursor_id: int | None = None
        self._announced_id: int | None = None  # last job sent in a Highlighted message

        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(cache_size)
        self._now = clock()
        self._today_start = 0.0
        self._tomorrow_start = 0.0
        self._update_day()
        self._id_width = COLUMNS[0].width
        self._time_width = TIME_WIDTH_TODAY
        self._type_width = COLUMNS[1].width
        self._columns_cache: tuple[tuple[int, ...], list[tuple[Column, int]]] | None = None

    # ------------------------------------------------------------------ public API

    @property
    def shown_count(self) -> int:
        """Jobs shown (those passing the filter)."""
        return len(self._rows)

    @property
    def total_count(self) -> int:
        """All jobs the table holds, shown or not."""
        return len(self._all)

    @property
    def cursor_job(self) -> Job | None:
        """The job under the cursor, or None when no job is shown."""
        if not self._rows:
            return None
        return self._rows[self._cursor]

    @property
    def cursor_row(self) -> int:
        """The cursor's position in the shown rows (0 when empty)."""
        return self._cursor

    @property
    def sort_column(self) -> str:
        """The key of the column the rows are sorted by."""
        return self._sort_column

    @property
    def sort_reverse(self) -> bool:
        """Whether the sort is descending."""
        return self._reverse

    @property
    def rows(self) -> list[Job]:
        """The shown jobs in display order (a copy: exports must not race updates)."""
        return list(self._rows)

    @property
    def filter(self) -> JobFilter | None:
        """The predicate choosing which jobs are shown (None shows all)."""
        return self._filter

    @filter.setter
    def filter(self, predicate: JobFilter | None) -> None:
        self.set_filter(predicate)

    def get_job(self, job_id: int) -> Job | None:
        """The job with this id, shown or not."""
        return self._all.get(job_id)

    def set_jobs(self, jobs: Iterable[Job]) -> None:
        """Replace every row.  O(n log n) in a few plain-Python passes; no per-row widgets."""
        jobs = list(jobs)
        self._all = dict(zip(map(_job_id, jobs), jobs, strict=True))
        self._ordered = None
        self._version = {}
        self._cache.clear()
        self._now = self._clock()
        self._update_day()
        self._rebuild()

    def upsert(self, jobs: Iterable[Job]) -> None:
        """Add new jobs and patch changed ones, repainting only the lines that changed.

        A job whose sort key and filter result are unchanged is replaced in place; others
        are removed and re-inserted at their sorted position (binary search), and only the
        rows from the first moved position down are re-indexed.
        """
        key = self._key
        pred = self._filter
        in_place: list[tuple[int, set[str]]] = []  # replaced without moving, changed columns
        to_remove: set[int] = set()  # ids to take out of _rows
        to_insert: list[Job] = []
        widen = False
        batch = {job.id: job for job in jobs}  # the same job twice in a batch: last wins
        for job_id, job in batch.items():
            old = self._all.get(job_id)
            if old is not None and old is not job and old == job:
                continue  # nothing visible changed
            self._all[job_id] = job
            self._ordered = None
            self._last_version += 1
            self._version[job_id] = self._last_version
            shown_now = pred is None or pred(job)
            position = self._index.get(job_id)
            if shown_now and (
                job_id >= 10**self._id_width
                or (self._time_width == TIME_WIDTH_TODAY and not self._is_today(job))
                or self._type_width < min(TYPE_MAX_WIDTH, len(job.type))
            ):
                widen = True
            if position is not None:
                # The same object mutated in place may have changed its sort key unseen.
                if shown_now and old is not None and old is not job and key(old) == key(job):
                    self._rows[position] = job
                    in_place.append((position, _changed_columns(old, job)))
                    continue
                to_remove.add(job_id)
            if shown_now:
                to_insert.append(job)
        if to_remove or to_insert:
            self._restructure(to_remove, to_insert)
        else:
            for position, columns in in_place:
                self._live_refresh(position, columns)
        if widen and self._update_widths():
            self._cache.clear()
            self.refresh()

    def remove_jobs(self, ids: Iterable[int]) -> None:
        """Drop jobs by id (unknown ids are ignored).

        Not named `remove`: that is `Widget.remove()`, which takes the widget out of the DOM.
        """
        to_remove: set[int] = set()
        for job_id in ids:
            if self._all.pop(job_id, None) is None:
                continue
            self._ordered = None
            self._version.pop(job_id, None)
            self._painted.pop(job_id, None)
            self._deferred.pop(job_id, None)
            if job_id in self._index:
                to_remove.add(job_id)
        if to_remove:
            self._restructure(to_remove, [])

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
        self._filter = predicate
        self._select = select if predicate is not None else None
        self._rebuild(live=False, narrow=narrows and predicate is not None)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by `column` (a key of `COLUMN_KEYS`); `reverse` None keeps the direction."""
        self._key = _sort_key(column, self._clock)
        self._sort_column = column
        self._ordered = None
        if reverse is not None:
            self._reverse = reverse
        anchor = self._screen_row_of_cursor()
        _sort_rows(self._rows, column, self._reverse, self._clock)
        self._reindex(0)
        self._sync_cursor()
        self._keep_cursor_at(anchor, live=False)
        self.refresh()

    def move_cursor(self, row: int) -> None:
        """Put the cursor on shown row `row` (clamped) and scroll it into view."""
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self._cursor:
            self._refresh_row(self._cursor)
            self._cursor = row
            self._refresh_row(row)
        self._cursor_id = self._rows[row].id
        self._scroll_cursor_into_view()
        self._announce()

    def select_job(self, job_id: int) -> bool:
        """Put the cursor on the job with this id, if it is shown."""
        position = self._index.get(job_id)
        if position is None:
            return False
        self.move_cursor(position)
        return True

    # ------------------------------------------------------------------ actions

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        """Move the cursor (and the view) one page up."""
        page = self._page_rows()
        self.scroll_to(y=max(0, round(self.scroll_y) - page), animate=False)
        self.move_cursor(self._cursor - page)

    def action_page_down(self) -> None:
        """Move the cursor (and the view) one page down."""
        page = self._page_rows()
        self.scroll_to(y=round(self.scroll_y) + page, animate=False)
        self.move_cursor(self._cursor + page)

    def action_cursor_top(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        """Post `Selected` for the job under the cursor."""
        job = self.cursor_job
        if job is not None:
            self.post_message(self.Selected(self, job))

    def action_sort_next(self) -> None:
        """Sort by the next column, in the current direction."""
        position = COLUMN_KEYS.index(self._sort_column)
        self.sort_by(COLUMN_KEYS[(position + 1) % len(COLUMN_KEYS)])

    def action_sort_reverse(self) -> None:
        """Reverse the sort direction."""
        self.sort_by(self._sort_column, reverse=not self._reverse)

    # ------------------------------------------------------------------ events

    def on_mount(self) -> None:
        """Start the clock tick that keeps running rows' ETA current."""
        if self._tick_interval:
            self.set_interval(self._tick_interval, self._tick)

    def notify_style_update(self) -> None:
        """Theme, focus or hover changed: cached strips carry old colours."""
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self, event: events.Resize) -> None:
        """The info column takes the rest of the width, so the virtual width follows."""
        self._update_virtual_size()

    def on_click(self, event: events.Click) -> None:
        """Click a row to move the cursor there; click the cursor row to select it;
        click a header label to sort by that column (again to reverse)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x + round(self.scroll_x))
            if column is not None:
                if column == self._sort_column:
                    self.sort_by(column, reverse=not self._reverse)
                else:
                    self.sort_by(column)
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._rows):
            event.stop()
            if row == self._cursor:
                self.action_select_cursor()
            else:
                self.move_cursor(row)

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        """Read the clock once per paint, so every line of a frame agrees on "now"."""
        self._now = self._clock()
        if not self._today_start <= self._now < self._tomorrow_start:
            self._update_day()
            self._update_widths()
            self._cache.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line 0 is the fixed header; the others are rows from the scroll position."""
        width = self._table_width()
        scroll_x = round(self.scroll_x)
        view_width = self.scrollable_content_region.width
        if y == 0:
            strip = self._header_strip(width)
        elif not self._rows:
            strip = self._empty_strip(y, view_width)
            return strip
        else:
            row = round(self.scroll_y) + y - 1
            if row >= len(self._rows):
                return Strip.blank(view_width, self.rich_style)
            strip = self._row_strip(row, width)
        if scroll_x or strip.cell_length != view_width:
            strip = strip.crop_extend(scroll_x, scroll_x + view_width, self.rich_style)
        return strip

    def _row_strip(self, row: int, width: int) -> Strip:
        """Render (or fetch from the cache) the full-width strip for shown row `row`."""
        job = self._rows[row]
        # 0: plain row, 1: cursor (table blurred), 2: cursor (table focused).
        cursor_state = (2 if self.has_focus else 1) if row == self._cursor else 0
        clock_bucket = int(self._now) if job.status is JobStatus.RUNNING else 0
        cache_key = (job.id, self._version.get(job.id, 0), width, cursor_state, clock_bucket)
        strip = self._cache.get(cache_key)
        if strip is None:
            strip = self._render_row(job, width, cursor_state != 0)
            self._cache.set(cache_key, strip)
        return strip

    def _render_row(self, job: Job, width: int, is_cursor: bool) -> Strip:
        """Build a row's segments from plain strings: nothing here is parsed as markup."""
        base = self.rich_style
        get_style = self.get_component_rich_style
        if is_cursor:
            row_style = get_style("jobtable--cursor")
            dim = failed_style = bar_style = status_style = row_style
        else:
            row_style = base
            dim = get_style("jobtable--dim")
            failed_style = get_style("jobtable--failed") if job.failed else dim
            bar_style = get_style("jobtable--bar")
            status_style = get_style(f"jobtable--{look(job.status).tone}")
        segments: list[Segment] = []
        append = segments.append
        space = Segment(" ", row_style)
        for column, column_width in self._layout(width):
            key = column.key
            style = row_style
            if key == "id":
                text = str(job.id)
            elif key == "type":
                text = sanitize(job.type)
            elif key == "target":
                text = sanitize(job.target)
            elif key == "user":
                text = sanitize(job.user)
            elif key == "started":
                text = clock(job.started, self._now, label=False)
            elif key == "updated":
                text = clock(job.updated, self._now, label=False)
                style = dim
            elif key == "status":
                text = look(job.status).text
                style = status_style
            elif key == "progress":
                bar, text = _progress_cells(job, column_width)
                append(Segment(bar, bar_style))
                column_width -= len(bar)
            elif key == "failed":
                text = str(job.failed)
                style = failed_style
            elif key == "time":
                text = job_time(job, self._now)
            else:  # info
                text = sanitize(job.info)
            append(Segment(_fit(text, column_width, column.align), style))
            append(space)
        if segments:
            segments.pop()  # no gap after the last column
        return Strip(segments).adjust_cell_length(width, row_style).simplify()

    def _header_strip(self, width: int) -> Strip:
        """The column labels, with ▲/▼ on the sort column."""
        cache_key = ("header", width, self._sort_column, self._reverse)
        strip = self._cache.get(cache_key)
        if strip is None:
            style = self.get_component_rich_style("jobtable--header")
            arrow = "▼" if self._reverse else "▲"
            parts: list[str] = []  # cells and the gaps between them, alternating
            for column, column_width in self._layout(width):
                label = column.label
                if column.key == self._sort_column:
                    if len(label) < column_width:
                        label = arrow + label if column.align == "right" else label + arrow
                    elif column.align == "right" and parts:
                        parts[-1] = arrow  # no room: the arrow takes the gap before
                parts.append(_fit(label, column_width, column.align))
                parts.append(" ")
            parts.pop()
            strip = Strip([Segment("".join(parts), style)]).adjust_cell_length(width, style)
            self._cache.set(cache_key, strip)
        return strip

    def _empty_strip(self, y: int, width: int) -> Strip:
        """A dim, centred message in the middle of an empty table."""
        height = self.scrollable_content_region.height
        if y != max(1, height // 2):
            return Strip.blank(width, self.rich_style)
        text = self.filtered_empty_text if self._all else self.empty_text
        text = sanitize(text)
        length = cell_len(text)
        if length > width:
            text = _fit(text, width)
            length = width
        left = (width - length) // 2
        style = self.get_component_rich_style("jobtable--empty")
        return Strip(
            [
                Segment(" " * left, self.rich_style),
                Segment(text, style),
                Segment(" " * (width - left - length), self.rich_style),
            ],
            width,
        )

    # ------------------------------------------------------------------ layout

    def _layout(self, width: int) -> list[tuple[Column, int]]:
        """Each shown column with its width for a table `width` cells wide (cached)."""
        view = self.scrollable_content_region.width
        layout_key = (width, view, self._id_width, self._time_width, self._type_width)
        if self._columns_cache is not None and self._columns_cache[0] == layout_key:
            return self._columns_cache[1]
        columns = self._fitted_columns(view)
        fixed = sum(w for c, w in columns if c.width != 0) + len(columns) - 1
        layout = [
            (c, w if c.width != 0 else max(INFO_MIN_WIDTH, width - fixed)) for c, w in columns
        ]
        self._columns_cache = (layout_key, layout)
        return layout

    def _fitted_columns(self, view: int) -> list[tuple[Column, int]]:
        """The columns to show in a view `view` cells wide, with their widths (info: 0).

        On a narrow terminal the least needed columns go first (NARROW_DROPS), so that
        status, progress, failures and info stay on screen instead of off to the right.
        """

        widths = [
            (c.key, self._column_width(c), INFO_MIN_WIDTH if c.width == 0 else 0) for c in COLUMNS
        ]
        # Then names give way, down to NARROW_NAME_WIDTH.
        narrow = {"type": NARROW_NAME_WIDTH, "target": NARROW_NAME_WIDTH}
        return [
            (_BY_KEY[key], width) for key, width in fit_columns(widths, view, NARROW_DROPS, narrow)
        ]

    def _column_width(self, column: Column) -> int:
        if column.key == "id":
            return self._id_width
        if column.key in ("started", "updated"):
            return self._time_width
        if column.key == "type":
            return self._type_width
        return column.width

    def _fixed_width(self) -> int:
        """Cells taken by every shown column but info, gaps included."""
        columns = self._fitted_columns(self.scrollable_content_region.width)
        return sum(w for _, w in columns) + len(columns) - 1

    def _table_width(self) -> int:
        """The width rows are rendered at: the view, or wider if info would be squeezed."""
        return max(self.scrollable_content_region.width, self._fixed_width() + INFO_MIN_WIDTH)

    def _column_at(self, x: int) -> str | None:
        """The key of the column under table x coordinate `x`."""
        left = 0
        for column, column_width in self._layout(self._table_width()):
            if left <= x < left + column_width + 1:
                return column.key
            left += column_width + 1
        return None

    def _update_widths(self) -> bool:
        """Size the id and time columns to the data; True if a width changed.

        Time columns are narrow ("14:03:22") while every shown time is today and wide
        ("Jan 12 14:03") otherwise, which gives info room on a typical live dashboard.
        """
        max_id = max(self._all) if self._all else 0
        id_width = max(COLUMNS[0].width, len(str(max_id)))
        rows = self._rows
        start, end = self._today_start, self._tomorrow_start
        today = True
        if rows:
            updated = list(map(attrgetter("updated"), rows))
            started = list(filter(None, map(attrgetter("started"), rows)))
            today = start <= min(updated) and max(updated) < end
            if today and started:
                today = start <= min(started) and max(started) < end
        time_width = TIME_WIDTH_TODAY if today else TIME_WIDTH_OLDER
        longest = max((len(t) for t in {job.type for job in rows}), default=0)
        type_width = max(COLUMNS[1].width, min(TYPE_MAX_WIDTH, longest))
        old = (self._id_width, self._time_width, self._type_width)
        changed = (id_width, time_width, type_width) != old
        self._id_width, self._time_width, self._type_width = id_width, time_width, type_width
        if changed:
            self._update_virtual_size()
        return changed

    def _is_today(self, job: Job) -> bool:
        """Whether both times the table shows for `job` fall on today's date."""
        start, end = self._today_start, self._tomorrow_start
        if not start <= job.updated < end:
            return False
        return job.started is None or start <= job.started < end

    def _update_day(self) -> None:
        """Find local midnight before and after `_now` (for the "today" time format)."""
        today = datetime.fromtimestamp(self._now).replace(hour=0, minute=0, second=0, microsecond=0)
        self._today_start = today.timestamp()
        self._tomorrow_start = (today + timedelta(days=1)).timestamp()

    def _update_virtual_size(self) -> None:
        """One virtual line per shown row, plus the header.

        Assigning `virtual_size` would repaint the whole widget; callers repaint just
        the rows that changed, so it is set quietly with a layout for the scrollbars.
        """
        size = Size(self._table_width(), len(self._rows) + 1)
        if size != self.virtual_size:
            self.set_reactive(JobTable.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            if self.scroll_y > self.max_scroll_y:  # rows removed under the view
                self.scroll_to(y=self.max_scroll_y, animate=False)

    # ------------------------------------------------------------------ rows and cursor

    def _rebuild(self, live: bool = True, narrow: bool = False) -> None:
        """Recompute the shown rows from all jobs (filter, then sort) and re-index.

        `live` is True for data refreshes and False for the user's own sort/filter
        changes (see `_keep_cursor_at`).  `narrow` filters the shown rows instead of all
        jobs (see `set_filter`): they are every job passing the previous filter, already
        in display order, so the result is the same.
        """
        anchor = self._screen_row_of_cursor()
        pred = self._filter
        if narrow:
            source = self._rows
        elif self._ordered is not None:
            source = self._ordered
        else:  # sorted once per data change, not once per keystroke
            source = list(self._all.values())
            _sort_rows(source, self._sort_column, self._reverse, self._clock)
            self._ordered = source
        if pred is None:
            rows = list(source)
        elif self._select is not None:
            rows = self._select(source)
        else:
            rows = [job for job in source if pred(job)]
        # A narrower filter that hid nothing leaves the same list: its index still holds
        # (re-indexing 100,000 rows is ~15 ms, while typing "bench-" matches them all).
        if not (narrow and len(rows) == len(source)):
            self._rows = rows if rows is not source else list(rows)
            self._reindex(0)
        if live:  # column widths follow the data, not the filter (no jumping while typing)
            self._update_widths()
        self._update_virtual_size()
        self._sync_cursor()
        self._keep_cursor_at(anchor, live=live)
        self.refresh()

    def _reindex(self, start: int) -> None:
        """Refresh the id -> position map for rows from `start` on."""
        rows = self._rows
        ids = map(_job_id, rows[start:] if start else rows)  # C-level loops: ~5 ms per 100k
        if start == 0:
            self._index = dict(zip(ids, range(len(rows)), strict=True))
        else:
            self._index.update(zip(ids, range(start, len(rows)), strict=True))

    def _bisect(self, job: Job) -> int:
        """Where `job` belongs in the sorted shown rows (keys are unique: ends in id)."""
        key = self._key
        target = key(job)
        rows = self._rows
        low, high = 0, len(rows)
        if self._reverse:
            while low < high:
                middle = (low + high) // 2
                if key(rows[middle]) > target:
                    low = middle + 1
                else:
                    high = middle
        else:
            while low < high:
                middle = (low + high) // 2
                if key(rows[middle]) < target:
                    low = middle + 1
                else:
                    high = middle
        return low

    def _restructure(self, to_remove: set[int], to_insert: list[Job]) -> None:
        """Apply removals and sorted inserts, re-index from the first change, repaint the
        visible lines from there down, and keep the cursor on its job."""
        anchor = self._screen_row_of_cursor()
        rows = self._rows
        index = self._index
        first = len(rows)
        if to_remove:
            positions = sorted(index.pop(job_id) for job_id in to_remove)
            first = positions[0]
            if len(positions) <= 64:
                for position in reversed(positions):
                    del rows[position]
            else:
                rows[first:] = [job for job in rows[first:] if job.id not in to_remove]
        if to_insert:
            if len(to_insert) <= 256:
                for job in to_insert:
                    position = self._bisect(job)
                    rows.insert(position, job)
                    first = min(first, position)
            else:
                rows.extend(to_insert)
                _sort_rows(rows, self._sort_column, self._reverse, self._clock)
                first = 0
        self._reindex(first)
        self._update_virtual_size()
        self._sync_cursor()
        if not self._keep_cursor_at(anchor, live=True):
            top = round(self.scroll_y)
            page = self._page_rows()
            if first < top + page:
                start = max(first, top)
                # +1: virtual line 0 is the header.
                self.refresh_lines(start + 1, top + page - start)

    def _sync_cursor(self) -> None:
        """Put the cursor back on its job by id; if that job is gone, keep the index."""
        rows = self._rows
        if not rows:
            self._cursor = 0
            self._cursor_id = None
        else:
            position = self._index.get(self._cursor_id) if self._cursor_id is not None else None
            if position is None:
                position = max(0, min(self._cursor, len(rows) - 1))
            self._cursor = position
            self._cursor_id = rows[position].id
        self._announce()

    def _announce(self) -> None:
        """Post `Highlighted` when the job under the cursor is a different one."""
        if self._cursor_id != self._announced_id:
            self._announced_id = self._cursor_id
            self.post_message(self.Highlighted(self, self.cursor_job))

    def _page_rows(self) -> int:
        """How many rows fit below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _screen_row_of_cursor(self) -> int | None:
        """The cursor's line in the view (0 = first row under the header), if visible."""
        if not self._rows or not self.is_mounted:
            return None
        line = self._cursor - round(self.scroll_y)
        return line if 0 <= line < self._page_rows() else None

    def _keep_cursor_at(self, anchor: int | None, live: bool) -> bool:
        """After rows moved, scroll so the cursor stays on screen line `anchor`.

        For live data (`live`), a cursor that was off screen is left alone (the user
        scrolled away on purpose), and a view at the very top stays at the top so new
        jobs arriving above the cursor (newest first) come into sight.  For the user's
        own sort or filter change, an off-screen cursor is brought to the middle.
        Returns True if the view scrolled.
        """
        if not self._rows or not self.is_mounted:
            return False
        top = round(self.scroll_y)
        page = self._page_rows()
        if anchor is None:
            if live:
                return False
            target = self._cursor - page // 2
        elif live and top == 0:
            target = 0 if self._cursor < page else self._cursor - page + 1
        else:
            target = self._cursor - anchor
        target = max(0, min(target, len(self._rows) - page))
        if target == top:
            return False
        self.scroll_to(y=target, animate=False)
        return True

    def _scroll_cursor_into_view(self) -> None:
        """Scroll the least needed to show the cursor row under the header."""
        top = round(self.scroll_y)
        page = self._page_rows()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False)

    def _refresh_row(self, row: int) -> None:
        """Repaint one shown row if it is on screen."""
        top = round(self.scroll_y)
        if top <= row < top + self._page_rows():
            self.refresh_line(row + 1)

    def _live_refresh(self, row: int, columns: set[str]) -> None:
        """Repaint a row patched in place now, or within `live_interval` of its last one."""
        job_id = self._rows[row].id
        now = time.monotonic()
        waited = now - self._painted.get(job_id, -math.inf)
        interval = self._current_live_interval(now)
        if "status" in columns or interval <= 0 or waited >= interval:
            self._painted[job_id] = now
            self._refresh_cells(row, columns | self._deferred.pop(job_id, set()))
            return
        self._deferred.setdefault(job_id, set()).update(columns)
        if self._flush_timer is None and self.is_mounted:
            self._flush_timer = self.set_timer(
                interval - waited, self._flush_deferred, name="jobtable-live"
            )

    def _current_live_interval(self, now: float) -> float:
        """Seconds between live repaints of one row: rows painted in the last 5 s over the
        budget, between 0.25 s and `live_interval` (recomputed at most once a second)."""
        if self._live_interval <= 0:
            return 0.0
        computed_at, interval = self._busy_interval
        if now - computed_at >= 1.0:
            recent = {k: t for k, t in self._painted.items() if now - t < 5.0}
            self._painted = recent
            interval = min(self._live_interval, max(0.25, len(recent) / self._live_budget))
            self._busy_interval = (now, interval)
        return interval

    def _flush_deferred(self) -> None:
        """Repaint the rows whose changes waited for their turn."""
        self._flush_timer = None
        now = time.monotonic()
        pending, self._deferred = self._deferred, {}
        for job_id, columns in pending.items():
            position = self._index.get(job_id)
            if position is not None:
                self._painted[job_id] = now
                self._refresh_cells(position, columns)

    def _refresh_cells(self, row: int, columns: set[str]) -> None:
        """Repaint only the span of a visible row covering `columns` (all if widths moved)."""
        top = round(self.scroll_y)
        if not top <= row < top + self._page_rows():
            return
        if not columns:
            return
        x = 0
        first: int | None = None
        last: int | None = None
        for column, column_width in self._layout(self._table_width()):
            if column.key in columns:
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
        """Repaint visible running rows whose ETA text changed since the last paint."""
        before = self._now
        now = self._clock()
        if not self._today_start <= now < self._tomorrow_start:
            self.refresh()  # render_lines notices the new day
            return
        top = round(self.scroll_y)
        for row in range(top, min(len(self._rows), top + self._page_rows())):
            job = self._rows[row]
            if job.status is JobStatus.RUNNING and eta(job.eta(before)) != eta(job.eta(now)):
                self._live_refresh(row, {"time"})  # shares the live repaint budget
