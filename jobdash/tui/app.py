"""The dashboard: `jobdash` with no sub-command.

The App owns the Service and runs ONE worker that consumes `service.watch()`; each batch
of `Changes` is published on the `store_changed` signal, to which the dashboard's tables,
the Scheduled and Agents panes and the job details screen subscribe. Every service call
runs in a worker, so the event loop never waits on the store.

Contract for the other screens and panes: `app.service`, `app.store_changed`
(`Signal[Changes]`), `app.clock()` (frozen in snapshots), `app.read_only`,
`app.notify_refusal(exc)`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.widget import Widget
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from jobdash.core.model import BadInput, Job, NotFound, Refused
from jobdash.core.query import Query, narrows
from jobdash.core.query import prepare as prepare_search
from jobdash.core.service import Changes, Service, read_config, write_new
from jobdash.present.text import sanitize
from jobdash.present.times import abbreviation
from jobdash.present.words import agree, plural, plural_word
from jobdash.tui.actions import JobActions, OffersWhatWorks, describe
from jobdash.tui.commands import JobdashCommands
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.keymap import check_keymap, key_for
from jobdash.tui.screens.help import HelpScreen, help_entries
from jobdash.tui.themes import DEFAULT_THEME, check_theme, load_themes
from jobdash.tui.widgets.filter_bar import FilterBar
from jobdash.tui.widgets.job_table import JobTable

Clock = Callable[[], float]
ServiceSource = Service | Callable[[], Awaitable[Service]]

# (pane id, title) of the tabs, in order; the first two hold job tables.
TABS: tuple[tuple[str, str], ...] = (
    ("inprogress", "In Progress"),
    ("completed", "Completed"),
    ("scheduled", "Scheduled"),
    ("agents", "Agents"),
)
JOB_TABS = ("inprogress", "completed")
FIRST_PAGE = 500  # finished jobs shown before the rest of the history is loaded
FIRST_PAGE_SETTLE = 0.3  # seconds the first page gets to draw before the bulk load
DEMO_MIN_ACTIVE = 3  # --demo starts the demo jobs when fewer than this are active


def _optional(module: str, name: str) -> Any:
    """A class from another part of the dashboard that may not be written yet.

    Only a missing module is tolerated: a module that exists but fails to import is a bug
    and must show."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return None
        raise
    return getattr(mod, name, None)


class Placeholder(Static):
    """Stands in for a pane that this build does not have."""

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(Text(text, style="dim italic"), id=id, classes="placeholder")


class MissingDetailsScreen(Screen[None]):
    """Shown by `enter` when the job details screen is not available."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="details.back"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Placeholder(f"job {self.job_id}: the details screen is not available in this build")
        yield Footer()


class DashboardScreen(OffersWhatWorks):
    """The tabs, the filter bar and the job actions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('inprogress')", "In Progress", show=False, id="tab.inprogress"),
        Binding("2", "show_tab('completed')", "Completed", show=False, id="tab.completed"),
        Binding("3", "show_tab('scheduled')", "Scheduled", show=False, id="tab.scheduled"),
        Binding("4", "show_tab('agents')", "Agents", show=False, id="tab.agents"),
        Binding("left_square_bracket", "cycle_tab(-1)", "Previous tab", show=False, id="tab.prev"),
        Binding("right_square_bracket", "cycle_tab(1)", "Next tab", show=False, id="tab.next"),
        Binding("slash", "filter", "Filter", id="filter.open"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="filter.clear"),
        Binding("n", "start_job", "New job", id="job.new"),
        Binding("r", "rerun", "Run again", show=False, id="job.rerun"),
        Binding("c", "cancel", "Cancel", id="job.cancel"),
        Binding("C", "cancel(True)", "Force-kill", show=False, id="job.kill"),
        Binding("p", "toggle_pause", "Pause/resume", id="job.pause"),
        Binding("R", "retry", "Retry failed", id="job.retry"),
        Binding("e", "export", "Export CSV", show=False, id="job.export"),
        Binding("x", "clear_finished", "Clear finished", show=False, id="job.clear"),
        Binding("y", "copy_id", "Copy id", show=False, id="job.copy"),
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
            "filter",
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self._pending: list[Changes] = []
        self._query = Query()

    @property
    def jobdash(self) -> JobdashApp:
        app = self.app
        assert isinstance(app, JobdashApp)
        return app

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        app = self.jobdash
        yield Header()
        with TabbedContent(initial="inprogress", id="tabs"):
            with TabPane("In Progress", id="inprogress"):
                yield JobTable(
                    clock=app.clock,
                    id="table-inprogress",
                    empty_text=f"No jobs in progress: {key_for(app, 'job.new')} starts one",
                    tick=app.table_tick,
                )
            with TabPane("Completed", id="completed"):
                yield JobTable(
                    clock=app.clock,
                    id="table-completed",
                    empty_text="No finished jobs yet",
                    tick=app.table_tick,
                )
            with TabPane("Scheduled", id="scheduled"):
                yield app.make_pane(
                    "jobdash.tui.widgets.schedules_pane", "SchedulesPane", "schedules"
                )
            with TabPane("Agents", id="agents"):
                yield app.make_pane("jobdash.tui.widgets.agents_pane", "AgentsPane", "agents")
        bar = FilterBar(id="filter-bar")
        bar.display = False
        yield bar
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.jobdash.store_changed.subscribe(self, self._on_changes)
        first = self.jobdash.first_rows
        if first is not None:  # read before the app started: in the first frame already
            self.table("inprogress").set_jobs(first.active)
            self.table("completed").set_jobs(first.finished)
        self._update_titles()
        self.table("inprogress").focus()
        self._load()

    def table(self, pane: str) -> JobTable:
        return self.query_one(f"#table-{pane}", JobTable)

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

    # ------------------------------------------------------------------ data

    @work(group="load", exclusive=True)
    async def _load(self) -> None:
        """The first rows: active jobs, then finished ones (maybe 100,000 of them)."""
        app = self.jobdash
        await app.feed_ready.wait()
        svc = app.service
        completed = self.table("completed")
        if app.first_rows is None:
            # The active jobs and the newest finished ones first, so the Completed tab shows
            # at once; then all of them (maybe 100,000), converted off the event loop.
            self.table("inprogress").set_jobs(await svc.jobs(active=True, limit=None))
            completed.set_jobs(await svc.jobs(active=False, limit=FIRST_PAGE))
            self._update_titles()
        # Let that page reach the screen before the bulk load competes with it for the GIL.
        await asyncio.sleep(FIRST_PAGE_SETTLE)
        finished = await svc.jobs(active=False, limit=None)
        # Their search text too, so a filter typed meanwhile stays quick when they land.
        await asyncio.to_thread(prepare_search, finished)
        completed.set_jobs(finished)
        # The history is long-lived: keep the collector from walking its 100,000 objects
        # on every full collection (pauses of 100 ms and more while typing a filter).
        gc.freeze()
        self.loaded = True
        app.first_rows = None
        pending, self._pending = self._pending, []
        for changes in pending:
            self._apply(changes)
        self._update_titles()

    def _on_changes(self, changes: Changes) -> None:
        if not self.loaded:
            self._pending.append(changes)
            return
        self._apply(changes)
        self._update_titles()

    def _apply(self, changes: Changes) -> None:
        """Patch both tables: a job moves between them when it starts or finishes."""
        self.upsert(changes.jobs)
        if changes.removed:
            for pane in JOB_TABS:
                self.table(pane).remove_jobs(changes.removed)

    def upsert(self, jobs: Iterable[Job]) -> None:
        """Put each job in the table its status belongs to (and out of the other one),
        ignoring rows older than what a table already has."""
        running = self.table("inprogress")
        done = self.table("completed")
        active: list[Job] = []
        finished: list[Job] = []
        for job in jobs:
            known = running.get_job(job.id) or done.get_job(job.id)
            if known is not None and known.rev > job.rev:
                continue  # a stale row (the initial load already had a newer one)
            (finished if job.status.finished else active).append(job)
        if finished:
            running.remove_jobs([job.id for job in finished])
            done.upsert(finished)
        if active:
            done.remove_jobs([job.id for job in active])
            running.upsert(active)

    def _update_titles(self) -> None:
        tabs = self.tabs
        for pane, title in TABS[:2]:
            table = self.table(pane)
            if self._query.is_empty:
                count = f"{table.total_count}"
            else:
                count = f"{table.shown_count} of {table.total_count}"
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
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        pane = event.pane.id
        if pane is not None and not self.filter_bar.input.has_focus:
            self._focus_tab(pane)

    def _focus_tab(self, pane: str) -> None:
        self.refresh_bindings()
        if pane in JOB_TABS:
            self.table(pane).focus()
            return
        container = self.query_one(f"#{pane}", TabPane)
        for widget in container.query("*"):
            if widget.focusable:
                widget.focus()
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.JOB_ACTIONS:
            return self.is_mounted and self.tabs.active in JOB_TABS
        if action == "clear_filter":
            return self.is_mounted and (self.filter_bar.active or self.filter_bar.display)
        return True

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        self.filter_bar.open()

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
            now = self.jobdash.clock()

            def predicate(job: Job) -> bool:
                return query.matches(job, now)

            def select(jobs: list[Job]) -> list[Job]:
                return query.select(jobs, now)

        for pane in JOB_TABS:
            self.table(pane).set_filter(predicate, select, narrows=narrow)
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

    # ------------------------------------------------------------------ actions

    def _need_job(self) -> Job | None:
        job = self.current_job
        if job is None:
            self.notify("No job selected", severity="warning")
        return job

    @property
    def actions(self) -> JobActions:
        return JobActions(self.app, self.jobdash.service)

    def action_start_job(self) -> None:
        job = self.current_job
        self.actions.start(job.type if job else None, self._job_started)

    def _job_started(self, job: Job) -> None:
        self.upsert([job])
        self.action_show_tab("inprogress")
        self.table("inprogress").select_job(job.id)
        self.notify(f"Started {describe(job)}")

    def _job_changed(self, job: Job) -> None:
        self.upsert([job])

    def action_rerun(self) -> None:
        job = self._need_job()
        if job is not None:
            self.actions.rerun(job, self._job_started)

    def action_cancel(self, force: bool = False) -> None:
        job = self._need_job()
        if job is not None:
            self.actions.cancel(job, force, self._job_changed)

    def action_toggle_pause(self) -> None:
        job = self._need_job()
        if job is not None:
            self.actions.toggle_pause(job, self._job_changed)

    def action_retry(self) -> None:
        job = self._need_job()
        if job is not None:
            self.actions.retry(job)

    def action_export(self) -> None:
        table = self.current_table
        if table is not None:
            self._export(table.rows)

    @work(group="actions")
    async def _export(self, jobs: list[Job]) -> None:
        """A new ./jobdash-export-STAMP.csv (or -1, -2 … when taken): see `create_new`."""
        app = self.jobdash
        text = app.service.export(jobs, "csv")
        try:
            path = await asyncio.to_thread(write_new, f"jobdash-export-{app.stamp()}", ".csv", text)
        except BadInput as e:  # the folder is gone, the disk is full …: said, no crash
            self.notify(str(e), title="Not exported", severity="error")
            return
        self.notify(f"Exported {plural(len(jobs), 'job')} to {path}")

    def action_clear_finished(self) -> None:
        """Clear exactly the finished jobs the Completed tab shows (the filter applies),
        after a question that says how many and whose."""
        jobs = self.table("completed").rows
        if not jobs:
            self.notify("No finished jobs shown to clear")
            return
        users = Counter(job.user for job in jobs)
        if set(users) == {self.jobdash.service.user}:
            whose = "yours"
        else:
            whose = f"of {plural(len(users), 'user')}: " + ", ".join(
                f"{sanitize(user)} {n}"
                for user, n in sorted(users.items(), key=lambda un: (-un[1], un[0]))[:3]
            )
            whose += ", …" if len(users) > 3 else ""
        shown = "in Completed" if self._query.is_empty else "in Completed (filtered)"
        question = f"Clear {plural(len(jobs), 'finished job')}?"
        detail = (
            f"The {plural_word(len(jobs), 'one')} shown {shown}, {whose}: their tasks and "
            "logs are deleted from the store. Other jobs stay."
        )

        self.actions.clear([job.id for job in jobs], question, detail)

    def action_copy_id(self) -> None:
        job = self._need_job()
        if job is not None:
            self.app.copy_to_clipboard(str(job.id))
            self.notify(f"Copied job id {job.id}")

    def running_tasks(self) -> int:
        """Tasks running right now, as far as the In Progress table knows."""
        return sum(job.running for job in self.table("inprogress").rows)


@dataclass
class FirstRows:
    """What the first frame shows, read before the app starts (its event loop is busy
    mounting and drawing then): the active jobs, the newest finished ones, and the store
    revision they were read at, from which the change feed starts."""

    rev: int
    active: list[Job]
    finished: list[Job]

    @classmethod
    async def read(cls, svc: Service) -> FirstRows:
        rev = await svc.rev()
        active = await svc.jobs(active=True, limit=None)
        return cls(rev, active, await svc.jobs(active=False, limit=FIRST_PAGE))


class JobdashApp(App[int]):
    """The dashboard. Construct it without a terminal for tests:
    `JobdashApp(service, embedded_engine=False, clock=lambda: FROZEN)`.

    `service` is a Service, or an async function that opens one (it then runs in the
    app's own event loop, and the app closes it on exit).
    """

    CSS_PATH = "jobdash.tcss"
    TITLE = "jobdash"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, JobdashCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "back_or_quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, id="app.theme"),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, priority=True, id="app.palette"
        ),
    ]

    def __init__(
        self,
        service: ServiceSource,
        *,
        embedded_engine: bool,
        clock: Clock = time.time,
        demo: bool = False,
        theme: str | None = None,
        watch_interval: float = 0.25,
        table_tick: float | None = 1.0,
        first_rows: FirstRows | None = None,
    ) -> None:
        super().__init__()
        self._service: Service | None = service if isinstance(service, Service) else None
        self._opener = None if isinstance(service, Service) else service
        self.embedded_engine = embedded_engine
        self.clock: Clock = clock
        self.demo = demo
        self.watch_interval = watch_interval
        self.table_tick = table_tick
        self.store_changed: Signal[Changes] = Signal(self, "store-changed")
        self.feed_ready = asyncio.Event()
        self.first_rows = first_rows
        self.engine_note = ""
        self._requested_theme = theme
        self._themes = load_themes()
        for custom in self._themes.values():
            self.register_theme(custom)

    # ------------------------------------------------------------------ contract

    @property
    def service(self) -> Service:
        assert self._service is not None, "the service is opened when the app loads"
        return self._service

    @property
    def read_only(self) -> bool:
        return self.service.read_only

    def notify_refusal(self, exc: BaseException) -> None:
        """A refused action (not cancellable, not yours, read-only, bad input) as one line."""
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, NotFound):
            title = "Not found"
        elif isinstance(exc, BadInput):
            title = "Bad input"
        else:
            title = "Refused"
        self.notify(Text(message).plain, title=title, severity="error", markup=False)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast is plain text made inert, whoever raises it: toasts quote job types,
        targets, agent names and error texts, none of which jobdash wrote itself."""
        super().notify(
            sanitize(str(message)),
            title=sanitize(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def get_key_display(self, binding: Binding) -> str:
        """A key as the footer, the help and the palette show it, made inert: the keys come
        from the user's keymap, which is config text (and `check_keymap` refuses a key that
        is not one before the dashboard starts)."""
        return sanitize(super().get_key_display(binding))

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header of every screen, made inert: it names engines (agents) and job types."""
        return super().format_title(sanitize(title), sanitize(sub_title))

    def stamp(self) -> str:
        """The time in the names of the files the dashboard writes: 20261120-143000."""
        return datetime.fromtimestamp(self.clock()).strftime("%Y%m%d-%H%M%S")

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's "Screenshot" (and `action_screenshot`): an SVG of the screen in a
        new ./jobdash-screenshot-STAMP.svg, by the rules of `create_new` (0600: it shows job
        output). Textual's own goes to ~/Downloads, which a server's root seldom has
        ("Failed to save screenshot"), following links, with the umask's mode."""
        try:
            saved = write_new(
                f"jobdash-screenshot-{self.stamp()}", ".svg", self.export_screenshot()
            )
        except BadInput as e:
            self.notify(str(e), title="Screenshot not saved", severity="error")
            return None
        self.notify(f"Saved screenshot to {saved}", title="Screenshot")
        return str(saved)

    def make_pane(self, module: str, name: str, what: str) -> Widget:
        cls = _optional(module, name)
        if cls is None:
            return Placeholder(f"The {what} pane is not available in this build.", id=what)
        widget: Widget = cls(self.service)
        return widget

    def open_details(self, job_id: int) -> None:
        cls = _optional("jobdash.tui.screens.job_details", "JobDetailsScreen")
        self.push_screen(MissingDetailsScreen(job_id) if cls is None else cls(self.service, job_id))

    # ------------------------------------------------------------------ start and stop

    async def on_load(self) -> None:
        if self._service is None:
            assert self._opener is not None
            self._service = await self._opener()
        # Before any screen is composed: hints drawn at compose name the remapped keys.
        self.set_keymap(dict(self.service.config.keymap))

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen()

    def on_mount(self) -> None:
        svc = self.service
        config_theme = svc.config.theme
        name = self._requested_theme or config_theme or DEFAULT_THEME
        try:
            check_theme(name, self._themes)
        except BadInput as e:
            self.notify_refusal(e)
            name = DEFAULT_THEME
        self.theme = name
        self._set_subtitle()
        self._watch_feed()
        if self.demo and not svc.read_only:
            self._start_demo_jobs()
        if not self.embedded_engine:
            self._describe_engine()

    def _set_subtitle(self) -> None:
        svc = self.service
        parts = [f"{svc.user}{' (admin)' if svc.is_admin else ''}"]
        parts.append(f"times in {abbreviation(self.clock())}")  # the job tables' and logs'
        if self.engine_note:
            parts.append(self.engine_note)
        elif self.embedded_engine and svc.engine is not None:
            parts.append(f"engine {svc.engine.name} embedded")
        if svc.read_only:
            parts.append("read-only")
        self.sub_title = " · ".join(parts)

    @work(group="engine")
    async def _describe_engine(self) -> None:
        """Attached: name the engine(s) that run the jobs."""
        agents = await self.service.agents()
        live = [info.name for info, _ in agents if info.state not in ("stale", "offline")]
        if live:
            self.engine_note = f"attached to engine {', '.join(live)}"
        else:
            self.engine_note = "no engine running: jobs wait until one starts"
        self._set_subtitle()

    @work(group="feed", exclusive=True)
    async def _watch_feed(self) -> None:
        """The one consumer of the change feed; publishes each batch to `store_changed`."""
        svc = self.service
        while True:
            since = self.first_rows.rev if self.first_rows is not None else None
            feed = svc.watch(self.watch_interval, since=since)
            first = asyncio.ensure_future(anext(feed))
            await asyncio.sleep(0)  # the feed has read its starting revision
            self.feed_ready.set()
            try:
                changes = await first
                while True:
                    self.store_changed.publish(changes)
                    changes = await anext(feed)
            except asyncio.CancelledError:
                first.cancel()
                raise
            except Exception as e:  # the store went away for a moment: say so, try again
                self.log.error(repr(e))
                self.notify(f"change feed: {e}; retrying", severity="warning", markup=False)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):  # still running when cancelled
                    await feed.aclose()

    @work(group="demo")
    async def _start_demo_jobs(self) -> None:
        from jobdash.demo import DEMO_JOBS

        svc = self.service
        active = await svc.jobs(active=True, limit=None)
        if len(active) >= DEMO_MIN_ACTIVE:
            return
        started = 0
        for type_name, params in DEMO_JOBS:
            try:
                await svc.submit(type_name, params)
                started += 1
            except (Refused, BadInput) as e:
                self.notify_refusal(e)
        if started:
            self.notify(f"Demo: started {plural(started, 'job')}")

    async def action_quit(self) -> None:
        """Quit; with tasks running in our own engine, ask first."""
        dashboard = self.screen_stack[0]
        running = dashboard.running_tasks() if isinstance(dashboard, DashboardScreen) else 0
        if not (self.embedded_engine and running):
            self.exit(0)
            return
        question = f"Quit? {plural(running, 'task')} {agree(running, 'is', 'are')} running here."
        detail = (
            "This dashboard runs the engine: quitting stops its tasks. They run again when "
            "an engine next starts (jobdash serve, or the dashboard)."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        if not isinstance(self.screen, ConfirmScreen):
            self.push_screen(ConfirmScreen(question, detail, yes="Quit"), answered)

    async def action_back_or_quit(self) -> None:
        """`q`: close the screen in front, or quit from the dashboard."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        else:
            await self.action_quit()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(help_entries(self.screen)))

    async def on_unmount(self) -> None:
        if self._opener is not None and self._service is not None:
            await self._service.close()


# ---------------------------------------------------------------------- entry point


def no_terminal() -> str | None:
    """Which of the dashboard's streams is not a terminal, or None. Textual reads keys from
    standard input, draws on standard error and takes the screen's size from standard
    output: with any of them a pipe or a file it would write escapes into it and wait for
    keys that never come. Under another driver (`TEXTUAL_DRIVER`: `jobdash web` sets Textual's
    web driver, which speaks its own protocol over the pipes) no terminal is needed."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return None
    for name, stream in (("input", sys.stdin), ("output", sys.stdout), ("error", sys.stderr)):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return f"standard {name}"
        except (OSError, ValueError):  # no file descriptor (closed, or not a real file)
            return f"standard {name}"
    return None


async def _open_and_run(args: argparse.Namespace) -> int:
    theme = getattr(args, "theme", None)
    # Before anything opens (the store is not even created): exit 2 on a typo.
    cfg = read_config(args.config)
    if chosen := theme or cfg.theme:
        check_theme(chosen, load_themes())
    check_keymap(cfg.keymap, str(cfg.path or "config"))
    if stream := no_terminal():  # before the store is opened (or created)
        raise BadInput(
            f"the dashboard needs a terminal, and {stream} is not one; in a script use "
            "`jobdash jobs`, `jobdash show ID`, `jobdash run TYPE --wait`, or `jobdash serve` "
            "for the engine"
        )
    extra = None
    if getattr(args, "demo", False):
        from jobdash.demo import DEMO_TYPES

        extra = DEMO_TYPES
    svc = await Service.open(
        db=args.db,
        config=args.config,
        extra_types=extra,
        read_only=bool(getattr(args, "read_only", False)),
    )
    if svc.created:
        print(f"jobdash: {svc.created}", file=sys.stderr)
    # SIGTERM, and SIGHUP (the terminal went away: an SSH drop), end the dashboard as `q`
    # does, not at once: the terminal is restored, and an embedded engine stops its tasks
    # and gives their claims back (`svc.close`), as `serve` does on a signal. Textual
    # handles neither; their default would kill the process where it stands.
    app: JobdashApp | None = None
    stop = asyncio.Event()

    def on_signal() -> None:
        stop.set()
        if app is not None:
            app.exit(0)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal)
    try:
        embedded = False
        # Read-only or --no-engine (jobdash web's sessions): watch the store, run nothing.
        attach_only = svc.read_only or getattr(args, "no_engine", False)
        if not attach_only and not await svc.engine_alive():
            await svc.start_engine(slots=getattr(args, "slots", 4) or 4)
            embedded = True
        first_rows = await FirstRows.read(svc)
        if stop.is_set():
            return 0
        app = JobdashApp(
            svc, embedded_engine=embedded, demo=bool(args.demo), theme=theme, first_rows=first_rows
        )
        result = await app.run_async()
        return result or 0
    finally:
        await svc.close()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def run_dashboard(args: argparse.Namespace) -> int:
    """`jobdash` with no sub-command. Errors opening (BadInput) are raised before the UI
    starts; `jobdash.cli.main` prints them in one line and exits 2."""
    return asyncio.run(_open_and_run(args))
