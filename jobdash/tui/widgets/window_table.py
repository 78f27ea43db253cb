"""The Completed tab's table: a `JobTable` that, once the history is long, shows a window
onto the store (`JobWindow`) instead of holding every finished job.

Until `open_window` it is a plain `JobTable` (a short history is held whole, and filters
and sorts in memory at once). Windowed, it reads the pages that come into view, the count
and each filter and sort from the store, in workers: the reads are given to it as functions
(`Fetch`, `Count`, and the text index's `Index`) so it knows nothing of the service. A row
not read yet is drawn blank for the moment its page takes. A read that fails once the store
was found `damaged` ends quietly: the app ends the dashboard in the store's one line. The change feed does not patch
rows: `changed` marks the window stale, and it is read again at most once a `settle`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.strip import Strip
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from jobdash.core.model import Job
from jobdash.core.query import Query
from jobdash.tui.widgets.job_columns import Widths, data_widths
from jobdash.tui.widgets.job_rows import JobFilter, JobSelect, has_unread_errors
from jobdash.tui.widgets.job_table import JobTable

if TYPE_CHECKING:  # the window's module loads with the first window, after the first frame
    from jobdash.tui.widgets.job_window import Count, Fetch, JobWindow

__all__ = ["InProgressTable", "JobWindowTable"]

Index = Callable[[], Awaitable[bool]]


class JobWindowTable(JobTable):
    """A job table that becomes a window onto the store (`open_window`)."""

    class Counted(Message):
        """The window's count changed (the tab's title says it)."""

    def __init__(
        self,
        *,
        fetch: Fetch,
        count: Count,
        index: Index,
        damaged: asyncio.Event,
        settle: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._fetch = fetch
        self._count = count
        self._index = index
        self._damaged = damaged
        self._settle = settle
        self.window: JobWindow | None = None
        self._stale = False
        self._reading = False
        self._page_reader: Worker[None] | None = None  # the pages' reader, while `_reading`
        self._told_count: str | None = None  # the count the last `Counted` told

    # ------------------------------------------------------------------ the window

    def open_window(self) -> None:
        """Show the store's finished jobs through a window from now on (the rows held are
        let go)."""
        from jobdash.tui.widgets.job_window import JobWindow

        window = JobWindow(self.sort_column, self.sort_reverse)
        self.window = window
        self._told_count = None
        self._model.set_jobs([])
        self._cache.clear()
        self._recount(window.generation)

    @property
    def windowed(self) -> bool:
        return self.window is not None

    def count_text(self) -> str:
        """The shown count for the tab's title ("10,000+" while no more is known): the one
        last announced (`Counted`), whose rows are read by then. The window's own count is
        new a moment earlier, and a title redrawn meanwhile (each second) would show it over
        the rows it has not read yet."""
        if self.window is None:
            return f"{self.shown_count:,}"
        return self._told_count if self._told_count is not None else self.window.count_text()

    def set_query(self, query: Query) -> None:
        """Filter the window (the store answers: the same language, the same matches)."""
        window = self.window
        assert window is not None
        window.query = query
        self._reload(move_cursor=True)

    def changed(self) -> None:
        """The finished jobs changed: read the window again, at most once a `settle`."""
        if self._stale:
            return
        self._stale = True
        self.set_timer(self._settle, self._refresh_stale, name="window-stale")

    def _refresh_stale(self) -> None:
        self._stale = False
        if self.window is not None:
            self.window.all_known = False
        self._reload(move_cursor=False)

    def _reload(self, move_cursor: bool) -> None:
        window = self.window
        assert window is not None
        window.reset()
        # A page of the old window still being read is not wanted: its read is cut short
        # in the store (as the count's, by `_recount`), not waited for by the new one's.
        if self.workers.cancel_group(self, "window-pages"):
            self._reading = False  # it reads no more: the new count reads the shown pages
        if move_cursor:
            self._cursor = 0
            self._cursor_key = None
            self.scroll_to(y=0, animate=False)
        self._recount(window.generation)

    def _recount(self, generation: int) -> None:
        self._read(self._read_count(generation), "window-count", exclusive=True)

    def _read(
        self, read: Coroutine[Any, Any, None], group: str, exclusive: bool = False
    ) -> Worker[None]:
        """Run one of the window's reads in a worker (`group`: "window-count", or the
        pages' "window-pages")."""
        return self.run_worker(self._unless_damaged(read), group=group, exclusive=exclusive)

    async def _unless_damaged(self, read: Awaitable[None]) -> None:
        """`read`; its error, once the store was found damaged, is not this table's to
        report (a traceback would crash the dashboard before the app ends it in the
        store's one line, exit 2)."""
        try:
            await read
        except Exception:
            if not self._damaged.is_set():
                raise

    async def _read_count(
        self, generation: int, exact: bool = False, cap: int | None = None
    ) -> None:
        from jobdash.tui.widgets import job_window

        window = self.window
        if window is None or generation != window.generation:
            return
        if any(not term.field for term in window.query.terms):
            # The text index takes in what finished meanwhile; if it cannot (a store this
            # user may only read), free words are looked for in every row instead.
            window.indexed = await self._index()
        first = cap is None and not exact
        if not await window.recount(self._count, exact, job_window.FIRST_CAP if first else cap):
            return
        if first and not await self._read_shown(window):
            return
        if first and not window.exact:  # the rest of the count once typing pauses
            self.set_timer(
                self._settle / 2,
                lambda: self._read(
                    self._read_count(generation, cap=job_window.CAP), "window-count"
                ),
            )
        self._update_virtual_size()
        self._sync_cursor()
        self.refresh()
        self._told_count = window.count_text()
        self.post_message(self.Counted())

    async def _read_shown(self, window: JobWindow) -> bool:
        """Read the pages the view shows along with the count, before the frame that shows
        the count: one frame shows both (a filter key drew the count over blank rows first,
        then the rows: a frame of the whole table more at each key). False when the window
        changed meanwhile."""
        if self._reading and self._page_reader is not None:
            # A frame drawn since the reset asked for pages of this window: the count waits
            # for their reader, then reads what is still missing, before it is shown.
            try:
                await self._page_reader.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # cancelled with the window it read for, or its error is reported
        from jobdash.tui.widgets import job_window

        top = round(self.scroll_y)
        shown = range(top // job_window.PAGE, (top + self._page_rows()) // job_window.PAGE + 1)
        pages = [page for page in shown if page not in window.pages]
        if not pages:
            return True
        self._reading = True
        try:
            if not await window.load(self._fetch, pages):
                return False
        finally:
            self._reading = False
        window.wanted.difference_update(pages)  # asked for by a frame drawn meanwhile
        self._update_widths()
        self._cache.clear()
        return True

    def _want_pages(self) -> None:
        """Read the pages drawn blank (one reader at a time; the rest wait for it)."""
        window = self.window
        if window is None or self._reading or not window.wanted:
            return
        self._reading = True
        self._page_reader = self._read(self._read_pages(), "window-pages")

    async def _read_pages(self) -> None:
        window = self.window
        try:
            while window is not None and window.wanted:
                pages = sorted(window.wanted)
                window.wanted.clear()
                if await window.load(self._fetch, pages):
                    self._rows_arrived()
        finally:
            self._reading = False

    def _rows_arrived(self) -> None:
        self._update_widths()
        self._sync_cursor()
        self._cache.clear()
        self.refresh()

    # ------------------------------------------------------------------ JobTable, windowed

    @property
    def shown_count(self) -> int:
        return self.window.total if self.window is not None else super().shown_count

    @property
    def total_count(self) -> int:
        return self.window.all_count if self.window is not None else super().total_count

    @property
    def cursor_job(self) -> Job | None:
        if self.window is None:
            return super().cursor_job
        return self.window.row(self._cursor or 0) if self.window.total else None

    @property
    def rows(self) -> list[Job]:
        """The rows held (a window holds a few pages of the shown ones, not all)."""
        if self.window is None:
            return super().rows
        held = self.window.held()
        held.sort(key=lambda job: self.window.index[job.id] if self.window else 0)
        return held

    def get_job(self, job_id: int) -> Job | None:
        if self.window is None:
            return super().get_job(job_id)
        return self.window.all.get(job_id)

    def set_jobs(self, jobs: Iterable[Job]) -> None:
        if self.window is None:
            super().set_jobs(jobs)
        else:
            self.changed()

    def upsert(self, jobs: Iterable[Job]) -> None:
        if self.window is None:
            super().upsert(jobs)
        elif list(jobs):
            self.changed()

    def remove_jobs(self, ids: Iterable[int]) -> None:
        if self.window is None:
            super().remove_jobs(ids)
        elif list(ids):
            self.changed()

    def set_filter(
        self, predicate: JobFilter | None, select: JobSelect | None = None, narrows: bool = False
    ) -> None:
        if self.window is None:
            super().set_filter(predicate, select, narrows)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        super().sort_by(column, reverse)
        if self.window is not None:
            self.window.sort_column = self.sort_column
            self.window.reverse = self.sort_reverse
            self._reload(move_cursor=False)

    def action_cursor_bottom(self) -> None:
        """The oldest (last) row: read from the far end at once, after an exact count."""
        window = self.window
        if window is not None and not window.exact:
            self._read(self._to_bottom(window.generation), "window-count")
            return
        super().action_cursor_bottom()

    async def _to_bottom(self, generation: int) -> None:
        await self._read_count(generation, exact=True)
        super().action_cursor_bottom()

    def _next_unread_errors(self) -> int | None:
        """Windowed: among the rows held (pages read as they came into view)."""
        if self.window is None:
            return super()._next_unread_errors()
        index = self.window.index
        found = sorted(index[j.id] for j in self.window.held() if has_unread_errors(j))
        cursor = self.cursor_row
        return next((p for p in found if p > cursor), found[0] if found else None)

    # ------------------------------------------------------------------ what TableBase asks

    def _row_total(self) -> int:
        return self.window.total if self.window is not None else super()._row_total()

    def _row_key(self, index: int) -> Hashable:
        if self.window is None:
            return super()._row_key(index)
        job = self.window.row(index)
        return job.id if job is not None else ("row", index)

    def _position(self, key: Hashable) -> int | None:
        if self.window is None:
            return super()._position(key)
        return self.window.index.get(key)  # type: ignore[call-overload]

    def _row_cache_key(self, index: int) -> Hashable:
        if self.window is None:
            return super()._row_cache_key(index)
        job = self.window.row(index)
        return ("loading", index) if job is None else (job.id, job.rev, self.window.generation)

    def _empty_message(self) -> str:
        if self.window is None:
            return super()._empty_message()
        return self.filtered_empty_text if self.window.all_count else self.empty_text

    def _highlighted(self, key: Hashable | None) -> Message:
        return self.Highlighted(self, self.cursor_job if key is not None else None)

    def _announce(self) -> None:
        """Windowed, a row whose page is on its way is not announced: its job is not known
        yet, and "no job" then the job, at each filter key, redrew the footer twice (its
        keys are greyed by the job under the cursor). The job is announced when its page
        comes (`_rows_arrived`), and not at all if it is the one announced before."""
        window, cursor = self.window, self._cursor
        if (
            window is not None
            and cursor is not None
            and window.total
            and window.row(cursor) is None
        ):
            return
        super()._announce()

    def _selected(self, key: Hashable) -> Message:
        if self.window is None:
            return super()._selected(key)
        job = self.cursor_job
        assert job is not None  # the cursor's row is drawn, so its page is held
        return self.Selected(self, job)

    def _screen_row_of_cursor(self) -> int | None:
        return None if self.window is not None else super()._screen_row_of_cursor()

    def _keep_cursor_at(self, anchor: int | None, live: bool) -> bool:
        return False if self.window is not None else super()._keep_cursor_at(anchor, live)

    def _repaint_job(self, job_id: int, columns: set[str]) -> None:
        if self.window is None:
            super()._repaint_job(job_id, columns)

    def _tick(self) -> None:
        if self.window is None:
            super()._tick()  # finished rows have no running time to count

    def _render_row(self, index: int, width: int, is_cursor: bool) -> Strip:
        if self.window is None or self.window.row(index) is not None:
            return super()._render_row(index, width, is_cursor)
        style = self.get_component_rich_style("table--cursor") if is_cursor else self.rich_style
        return Strip.blank(width, style)  # its page is on its way

    def _job_at(self, index: int) -> Job:
        if self.window is None:
            return super()._job_at(index)
        job = self.window.row(index)
        assert job is not None  # drawn only once its page is held
        return job

    def render_lines(self, crop: Any) -> list[Strip]:
        lines = super().render_lines(crop)
        self._want_pages()
        return lines

    def _update_widths(self) -> bool:
        if self.window is None:
            return super()._update_widths()
        held = self.window.held()
        widths = data_widths(held, max(self.window.all, default=0), self._day, self.numbers)
        # Only ever wider: columns that jumped with each page read would be hard to read.
        widths = Widths(*map(max, widths, self._widths))
        if widths == self._widths:
            return False
        self._widths = widths
        self._update_virtual_size()
        return True


class InProgressTable(JobTable):
    """The In Progress tab's table: a `JobTable` one class deeper, as deep as the Completed
    tab's `JobWindowTable` beside it. Textual ranks a default CSS by its class's depth under
    the widget registered, and parses it again when a deeper one registers: the default CSS
    of the tables' bases (Widget's, TableBase's …) is parsed once for both, not twice."""
