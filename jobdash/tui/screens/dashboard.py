"""The dashboard: the tabs (In Progress, Completed, Scheduled, Agents, Failures), the filter bar and
the keys that act on the selected job. The app's first screen (`JobdashApp`).

Data comes down from the app: the first rows it read before starting (`FirstRows`), then
each batch of the change feed on `app.store_changed`, patched into the two job tables
(`upsert`; how the rows are loaded and kept is `DashboardRows`, dashboard_rows.py). Up from
the widgets come messages: a job table's `Selected` (enter) opens the
job's details, the schedules pane's `Selected` the schedule's, the filter bar's `Applied`
filters both tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Header, Static, TabbedContent, TabPane

from jobdash.core.model import BadInput, Job
from jobdash.core.query import Query, narrows
from jobdash.core.service import Changes, Service, write_new
from jobdash.present.bulk import clear_question
from jobdash.present.timing import stalled_note
from jobdash.present.words import no_match, plural
from jobdash.tui.actions import OffersWhatWorks, describe
from jobdash.tui.bulk import Marks, job_marks_line
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keymap import key_for
from jobdash.tui.keys import JobKeys, MarkKeys
from jobdash.tui.rights import refusals_for
from jobdash.tui.screens.dashboard_rows import JOB_TABS, WINDOW_ABOVE, DashboardRows
from jobdash.tui.screens.later_panes import LATER_PANES, make_pane
from jobdash.tui.widgets.filter_bar import FilterBar
from jobdash.tui.widgets.job_table import JobTable
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.window_table import InProgressTable, JobWindowTable

if TYPE_CHECKING:
    from jobdash.tui.app import JobdashApp
    from jobdash.tui.widgets.failures_pane import FailuresPane
    from jobdash.tui.widgets.job_window import PageRead
    from jobdash.tui.widgets.schedules_pane import SchedulesPane

__all__ = ["JOB_TABS", "TABS", "DashboardScreen"]

# (pane id, title) of the tabs, in order; the first two hold job tables.
TABS: tuple[tuple[str, str], ...] = (
    ("inprogress", "In Progress"),
    ("completed", "Completed"),
    ("scheduled", "Scheduled"),
    ("agents", "Agents"),
    ("failures", "Failures"),
)
FILTERED_TABS = (*JOB_TABS, "failures")  # the filter bar narrows these


class DashboardScreen(MarkKeys, JobKeys, OffersWhatWorks, DashboardRows):
    """The tabs, the filter bar and the keys that act on the selected job, or on every
    marked one (`JobKeys`, `MarkKeys`, and those only the job tables have: new job, run
    again, export, clear, copy id)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('inprogress')", "In Progress", show=False, id="tab.inprogress"),
        Binding("2", "show_tab('completed')", "Completed", show=False, id="tab.completed"),
        Binding("3", "show_tab('scheduled')", "Scheduled", show=False, id="tab.scheduled"),
        Binding("4", "show_tab('agents')", "Agents", show=False, id="tab.agents"),
        Binding("5", "show_tab('failures')", "Failures", show=False, id="tab.failures"),
        Binding("left_square_bracket", "cycle_tab(-1)", "Previous tab", show=False, id="tab.prev"),
        Binding("right_square_bracket", "cycle_tab(1)", "Next tab", show=False, id="tab.next"),
        Binding("slash", "filter", "Filter", id="filter.open"),
        Binding("slash", "no_filter", "No filter here", show=False, id="filter.none"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="filter.clear"),
        Binding("space", "toggle_mark", "Mark/unmark", show=False, id="job.mark"),
        Binding("escape", "clear_marks", "Unmark all", show=False, id="job.unmark"),
        Binding("n", "start_job", "New job", id="job.new"),
        Binding("r", "rerun", "Run again", show=False, id="job.rerun"),
        Binding("c", "cancel", "Cancel", id="job.cancel"),
        Binding("C", "cancel(True)", "Force-kill", show=False, id="job.kill"),
        Binding("p", "toggle_pause", "Pause/resume", id="job.pause"),
        Binding("R", "retry", "Retry failed", id="job.retry"),
        Binding("e", "export", "Export CSV", show=False, id="job.export"),
        Binding("x", "clear_finished", "Clear finished", show=False, id="job.clear"),
        Binding("y", "copy_id", "Copy id", show=False, id="job.copy"),
        Binding("L", "follow_logs", "Logs of marked", show=False, id="job.logs"),
    ]

    # Actions that need a job table in front (hidden on the Scheduled and Agents tabs).
    JOB_ACTIONS = frozenset(
        {
            "rerun",
            "cancel",
            "toggle_pause",
            "retry",
            "export",
            "clear_finished",
            "copy_id",
            "toggle_mark",
            "clear_marks",
            "follow_logs",
        }
    )

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.loaded = False
        self._pending: list[Changes] = []
        self._query = Query()
        self._flag_filter: tuple[Callable[[Job], bool], Callable[[list[Job]], list[Job]]] | None
        self._flag_filter = None
        self._newest = 0  # the highest job id seen: a higher one is new, never finished
        self.window_above = WINDOW_ABOVE
        self.marks: Marks[Job] = Marks(lambda job: job.id)  # both tables show them
        self._refusals: tuple[str | None, ...] | None = None  # of the job under the cursor
        self.history_wanted = asyncio.Event()
        self.history_wanted.set()
        self._filled: set[str] = set()  # of LATER_PANES, those made (`fill_pane`)

    @property
    def jobdash(self) -> JobdashApp:
        """The app, with its contract (service, clock, feed, first rows) typed."""
        return cast("JobdashApp", self.app)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        app = self.jobdash
        yield Header()
        with TabbedContent(initial="inprogress", id="tabs"):
            with TabPane("In Progress", id="inprogress"):
                yield InProgressTable(
                    clock=app.clock,
                    id="table-inprogress",
                    empty_text=f"No jobs in progress: {key_for(app, 'job.new')} starts one",
                    tick=app.table_tick,
                )
            with TabPane("Completed", id="completed"):
                yield JobWindowTable(
                    fetch=self._fetch_page,
                    count=self.service.count_finished,
                    index=self.service.index_text,
                    damaged=self.service.damaged,
                    clock=app.clock,
                    id="table-completed",
                    empty_text="No completed jobs yet",
                    tick=app.table_tick,
                )
            for pane, title in TABS[2:]:  # filled after the first frame (`fill_pane`)
                yield TabPane(title, id=pane)
        marks = Static("", id="job-marks", markup=False)
        marks.display = False
        yield marks
        bar = FilterBar(id="filter-bar")
        bar.display = False
        yield bar
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        subscribe_changes(self, self._on_changes)
        first = self.jobdash.first_rows
        if first is not None:  # read before the app started: in the first frame already
            self.table("inprogress").set_jobs(first.active)
            self.table("completed").set_jobs(first.finished)
        self._update_titles()
        self.set_interval(1.0, self._each_second)
        self.table("inprogress").focus()
        self._load()
        self.call_after_refresh(self._fill_hidden_panes)

    async def _fill_hidden_panes(self) -> None:
        """The Completed tab's header, the Scheduled, Agents and Failures panes (their
        modules, styles and reads), then the filter bar's field, made after the first
        frame, one a frame: a key pressed meanwhile waits for one. An ending dashboard
        makes none."""
        waiting = [pane for pane in LATER_PANES if pane not in self._filled]
        if waiting:
            await self.fill_pane(waiting[0])
            if waiting[0] in self._filled:  # not when ending
                self.call_after_refresh(self._fill_hidden_panes)
        elif self.is_attached and self.app.return_code is None:
            await self.filter_bar.fill()

    async def fill_pane(self, pane: str) -> None:
        """Mount the tab `pane`'s widget (LATER_PANES) unless there: at once if shown first."""
        if pane not in LATER_PANES or pane in self._filled:
            return
        if not self.is_attached or self.app.return_code is not None:
            return
        self._filled.add(pane)
        widget, container = make_pane(pane, self.service), self.query_one(f"#{pane}", TabPane)
        await container.mount(widget, before=0 if container.children else None)  # over a table
        if pane == "failures" and not self._query.is_empty:  # a filter typed before it
            cast("FailuresPane", widget).set_query(self._query, self.filter_bar.query_text)

    def table(self, pane: str) -> JobTable:
        return self.query_one(f"#table-{pane}", JobTable)

    @property
    def completed(self) -> JobWindowTable:
        return self.query_one("#table-completed", JobWindowTable)

    async def _fetch_page(self, query: Query, read: PageRead) -> list[Job]:
        return await self.service.finished_page(
            query, read.order, read.descending, read.offset, read.limit, read.after_id, read.indexed
        )

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter-bar", FilterBar)

    @property
    def current_table(self) -> JobTable | None:
        """The job table of the tab in front, if that tab has one."""
        active = self.tabs.active
        return self.table(active) if active in JOB_TABS else None

    @property
    def current_job(self) -> Job | None:
        table = self.current_table
        return table.cursor_job if table is not None else None

    def _each_second(self) -> None:
        """A job turns stalled, overrun or lost with the clock, nothing written: the tab's
        count follows, and a filter on those flags is applied again (In Progress only)."""
        if self._flag_filter is not None and self._query.flags:
            self.table("inprogress").set_filter(*self._flag_filter)
        self._update_titles()
        self.look_at_leases_now_and_then()

    def _update_titles(self) -> None:
        tabs = self.tabs
        for pane, title in TABS[:2]:
            table = self.table(pane)
            if self._query.is_empty:
                count = f"{table.total_count:,}"
            elif isinstance(table, JobWindowTable):
                count = f"{table.count_text()} of {table.total_count:,}"
            else:
                count = f"{table.shown_count:,} of {table.total_count:,}"
            if pane == "inprogress":
                note = stalled_note(table.rows, clock_of(self.app)())
                self.jobdash.show_stalled(note)
                if note:
                    count = f"{count} · {note}"
            label = f"{title} ({count})"
            tab = tabs.get_tab(pane)
            if tab.label.plain != label:  # a repaint of the tab bar per change is bytes
                tab.label = Content(label)

    # ------------------------------------------------------------------ tabs

    def action_show_tab(self, pane: str) -> None:
        self.tabs.active = pane
        self._focus_tab(pane)

    def action_cycle_tab(self, step: int) -> None:
        ids = [pane for pane, _ in TABS]
        position = ids.index(self.tabs.active)
        self.action_show_tab(ids[(position + step) % len(ids)])

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            await self.fill_pane(event.pane.id)  # shown before the first frame's were made
        self.refresh_bindings()
        self.marks_changed()
        pane = event.pane.id
        if pane in JOB_TABS:
            self.history_wanted.set()
        else:  # the history's reading waits: the tab in front gets the CPU
            self.history_wanted.clear()
        if pane is not None and not self.filter_bar.typing:
            self._focus_tab(pane)

    def _focus_tab(self, pane: str) -> None:
        """Focus it now: `Widget.focus` would wait for the keys read with this one (`2/…`)."""
        self.refresh_bindings()
        if pane in JOB_TABS:
            self.set_focus(self.table(pane))
            return
        container = self.query_one(f"#{pane}", TabPane)
        for widget in container.query("*"):
            if widget.focusable:
                self.set_focus(widget)
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return self.is_mounted and self.tabs.active in FILTERED_TABS
        if action == "no_filter":  # `/` on the other tabs
            return self.is_mounted and self.tabs.active not in FILTERED_TABS
        if action == "clear_marks" and not self.marks:
            return False  # escape clears the filter first, then the marks
        if action in self.JOB_ACTIONS:
            return self.is_mounted and self.tabs.active in JOB_TABS
        if action == "clear_filter":
            return self.is_mounted and (self.filter_bar.active or self.filter_bar.display)
        return True

    # ------------------------------------------------------------------ marks

    def mark_table(self) -> JobTable | None:
        return self.current_table

    def mark_item(self) -> Job | None:
        return self.current_job

    def marked_jobs(self) -> list[Job]:
        return self.marks.marked

    def marks_changed(self) -> None:
        """Both tables show the marks; the line over the footer counts them."""
        for pane in JOB_TABS:
            self.table(pane).show_marks(self.marks.items)
        line = self.query_one("#job-marks", Static)
        pane = self.tabs.active
        line.display = bool(self.marks) and pane in JOB_TABS
        if line.display:
            now = self.jobdash.clock()
            text = job_marks_line(
                self.app, self.marks.marked, pane == "completed", self._query, now
            )
            if text != line.content:
                line.update(text)

    # ------------------------------------------------------------------ filter

    async def action_filter(self) -> None:
        await self.filter_bar.open()

    def action_no_filter(self) -> None:
        """`/` on a tab the filter does not narrow says so: ignored, it let the words typed
        after it run that tab's keys unseen (`p` disables a schedule, `r` runs it now)."""
        title = dict(TABS)[self.tabs.active]
        filtered = ", ".join(dict(TABS)[t] for t in FILTERED_TABS)
        self.notify(f"The {title} tab has no filter (/ narrows {filtered})", severity="warning")

    def action_clear_filter(self) -> None:
        self.filter_bar.action_clear_and_close()

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        if event.text != event.bar.query_text:
            return  # a newer query was posted behind this one: filter once, for that one
        query = event.query
        narrow = narrows(self._query, query)
        self._query = query
        select = None
        if query.is_empty:
            predicate = None
        else:
            clock = self.jobdash.clock
            now = clock()  # one moment for `since:`, which moves with each keystroke anyway

            def predicate(job: Job) -> bool:
                return query.matches(job, clock() if query.flags else now)

            def select(jobs: list[Job]) -> list[Job]:
                return query.select(jobs, clock() if query.flags else now)

            self._flag_filter = (predicate, select) if query.flags else None

        for pane in JOB_TABS:
            self.table(pane).filtered_empty_text = no_match("jobs", event.text)
            self.table(pane).set_filter(predicate, select, narrows=narrow)
        for failures in self.query("#failures-pane"):  # none before it is made (`fill_pane`)
            cast("FailuresPane", failures).set_query(query, event.text)
        if self.completed.windowed:
            self.completed.set_query(query)  # the store filters: its count comes later
        self._update_titles()
        if self.marks:
            self.marks_changed()  # how many of them the filter hides

    @on(JobWindowTable.Counted)
    def _counted(self, event: JobWindowTable.Counted) -> None:
        event.stop()
        self._update_titles()

    @on(FilterBar.Closed)
    def _filter_closed(self, event: FilterBar.Closed) -> None:
        self._focus_tab(self.tabs.active)
        self.refresh_bindings()

    # ------------------------------------------------------------------ details

    @on(JobTable.Selected)
    def _job_selected(self, event: JobTable.Selected) -> None:
        event.stop()
        self.jobdash.open_details(event.job.id)

    # By their handlers' names, not `@on(…)`: the panes' modules load after the first frame.
    def on_failures_pane_selected(self, event: FailuresPane.Selected) -> None:
        event.stop()
        from jobdash.tui.screens.failure_group import FailureGroupScreen  # on first use

        self.app.push_screen(FailureGroupScreen(self.service, event.group, event.query))

    def on_schedules_pane_selected(self, event: SchedulesPane.Selected) -> None:
        event.stop()
        self.jobdash.open_schedule(event.schedule_id)

    # ------------------------------------------------------------------ actions

    def selected_job(self) -> Job | None:
        job = self.current_job
        if job is None:
            self.notify("No job selected", severity="warning")
        return job

    def job_in_view(self) -> Job | None:
        return self.current_job

    def job_changed(self, job: Job) -> None:
        self.upsert([job])

    @on(JobTable.Highlighted)
    def _job_highlighted(self) -> None:
        """Another job under the cursor: the footer greys what the user may not do to it
        (redrawn only when that differs from the last job's)."""
        job = self.current_job
        refusals = (
            None if job is None else refusals_for(self.service, job.type, job.target, job.user)
        )
        if refusals != self._refusals:
            self._refusals = refusals
            self.refresh_bindings()

    def action_start_job(self) -> None:
        job = self.current_job
        self.actions.start(job.type if job else None, self._job_started)

    def _job_started(self, job: Job) -> None:
        """Show the new job (`n`, `r`) under the cursor, or say that the filter hides it."""
        self.upsert([job])
        self.action_show_tab("inprogress")
        said = f"Started {describe(job)}"
        if not self.table("inprogress").select_job(job.id) and not self._query.is_empty:
            key = key_for(self.app, "filter.clear")
            said += f": the filter '{self.filter_bar.query_text}' hides it ({key} clears it)"
        self.notify(said)

    def action_rerun(self) -> None:
        if (job := self.selected_job()) is not None:
            self.actions.rerun(job, self._job_started)

    def action_export(self) -> None:
        table = self.current_table
        if table is not None:
            self._export(table)

    async def shown_jobs(self, table: JobTable) -> list[Job]:
        """Every job a table shows: a window's are read from the store (it holds a few)."""
        if isinstance(table, JobWindowTable) and table.windowed:
            return await self.service.jobs(self._query, active=False)
        return table.rows

    @work(group="actions")
    async def _export(self, table: JobTable) -> None:
        """A new ./jobdash-export-STAMP.csv (or -1, -2 … when taken): see `create_new`."""
        app = self.jobdash
        jobs = await self.shown_jobs(table)
        text = self.service.export(jobs, "csv")
        try:
            path = await asyncio.to_thread(write_new, f"jobdash-export-{app.stamp()}", ".csv", text)
        except BadInput as e:  # the folder is gone, the disk is full …: said, no crash
            self.notify(str(e), title="Not exported", severity="error")
            return
        self.notify(f"Exported {plural(len(jobs), 'job')} to {path}")

    @work(group="actions")
    async def action_clear_finished(self) -> None:
        """Clear exactly the finished jobs the Completed tab shows (the filter applies),
        after a question that says how many and whose; with marks, the marked ones."""
        if self.on_marked("clear"):
            return
        jobs = await self.shown_jobs(self.completed)
        if not jobs:
            self.notify("No finished jobs shown to clear")
            return
        users = [job.user for job in jobs]
        question, detail = clear_question(users, self.service.user, not self._query.is_empty)
        self.actions.clear([job.id for job in jobs], question, detail)

    def action_copy_id(self) -> None:
        if (job := self.selected_job()) is not None:
            self.app.copy_to_clipboard(str(job.id))
            self.notify(f"Copied job id {job.id}")

    def running_tasks(self) -> int:
        """Tasks running right now, as far as the In Progress table knows."""
        return sum(job.running for job in self.table("inprogress").rows)
