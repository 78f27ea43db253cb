"""The dashboard's App: `jobdash` with no sub-command. The wiring only; what is on the
screen lives in its own files:

- `screens/dashboard.py`: the first screen (tabs, filter bar, job keys);
  `screens/job_details.py`, `screens/schedule_details.py`, `screens/help.py`;
- `dialogs/`: the questions and forms (confirm, start a job, edit a planning);
- `widgets/`: the tables, the log view, the filter bar, the Scheduled and Agents panes;
- `actions.py`: what each key that changes something does; `keymap.py`: binding ids and
  the user's `[keymap]`; `commands.py`: the command palette; `jobdash.tcss`: the layout;
  `run.py`: how the command line starts and ends it.

The App owns the Service and runs ONE worker that consumes `service.watch()`; each batch
of `Changes` is published on the `store_changed` signal, to which the dashboard's tables,
the Scheduled and Agents panes and the details screens subscribe. Every service call
runs in a worker, so the event loop never waits on the store.

Contract for the screens and panes: `app.service`, `app.store_changed`
(`Signal[Changes]`), `app.clock()` (frozen in snapshots), `app.read_only`,
`app.notify_refusal(exc)`; `app.open_details(job_id)` and `app.open_schedule(id)` push
the details screens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input

from jobdash.core.model import BadInput, NotFound, Refused
from jobdash.core.service import Changes, Service, freeze_start_up, write_new
from jobdash.present.text import sanitize
from jobdash.present.times import abbreviation
from jobdash.present.words import agree, plural
from jobdash.tui.commands import JobdashCommands
from jobdash.tui.first_rows import FirstRows
from jobdash.tui.lean_driver import LeanDriver
from jobdash.tui.link import Link
from jobdash.tui.low_driver import LowBandwidthDriver
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.themes import DEFAULT_THEME, check_theme, load_themes
from jobdash.tui.widgets.job_table import JobTable

if TYPE_CHECKING:
    from jobdash.tui.widgets.chart import Chart  # its module loads with the first chart

Clock = Callable[[], float]
ServiceSource = Service | Callable[[], Awaitable[Service]]

# Every picture (`Chart` and its kinds), by its CSS type: the first frame draws none.
CHARTS = "Chart"
DEMO_MIN_ACTIVE = 3  # --demo starts the demo jobs when fewer than this are active


class JobdashApp(App[int]):
    """The dashboard. Construct it without a terminal for tests:
    `JobdashApp(service, embedded_engine=False, clock=lambda: FROZEN)`.

    `service` is a Service, or an async function that opens one (it then runs in the
    app's own event loop, and the app closes it on exit). `engine_slots`: start the
    embedded engine, with that many slots, once the first frame is drawn.
    """

    CSS_PATH = "jobdash.tcss"
    TITLE = "jobdash"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, JobdashCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "back_or_quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, id="app.theme"),
        Binding("v", "toggle_numbers", "Chart/numbers", show=False, id="app.numbers"),
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
        link: Link | None = None,
        engine_slots: int | None = None,
    ) -> None:
        link = link or Link()
        # Textual's driver with lean changes of style (unless another is set: TEXTUAL_DRIVER,
        # jobdash web's sessions); in low bandwidth, sending only the cells that change too.
        super().__init__(
            driver_class=LowBandwidthDriver
            if link.low
            else None
            if os.environ.get("TEXTUAL_DRIVER")
            else LeanDriver
        )
        self.link = link
        # No animations unless TEXTUAL_ANIMATIONS asks for them: the tab bar's underline
        # slides for 0.3 s (some 18 frames of the whole screen) each time a count in a
        # tab's title changes its width, which is every filter keystroke that changes
        # the count; the new rows are what the eye wants, and over SSH each frame is bytes.
        if self.link.low or not os.environ.get("TEXTUAL_ANIMATIONS"):
            self.animation_level = "none"
        self._service: Service | None = service if isinstance(service, Service) else None
        self._opener = None if isinstance(service, Service) else service
        self.embedded_engine = embedded_engine
        self.engine_slots = engine_slots
        self.engine_failure: Exception | None = None  # why the embedded engine did not start
        self.keymap: dict[str, str] = {}  # the config's [keymap], set before any screen
        self.clock: Clock = clock
        self.demo = demo
        self.watch_interval = watch_interval
        self.table_tick = table_tick
        self.store_changed: Signal[Changes] = Signal(self, "store-changed")
        self.feed_ready = asyncio.Event()
        self.first_rows = first_rows
        self.engine_note = ""
        self.engine_look_every = 5.0  # seconds between looks at the engines (attached)
        self.stalled_note = ""  # "2 stalled": the In Progress tab's, first in the header
        self.show_numbers = False  # the pictures as their numbers (`v`), on every screen
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

    def open_details(self, job_id: int) -> None:
        """The job details screen of `job_id` (enter on a job). This screen, the next two
        and their widgets are loaded when first opened, not at start (~30 ms of the first
        frame on a loaded machine)."""
        from jobdash.tui.screens.job_details import JobDetailsScreen

        self.push_screen(JobDetailsScreen(self.service, job_id))

    def open_logs(self, job_ids: list[int]) -> None:
        """The log of several jobs in one pane (`L`: the marked jobs)."""
        from jobdash.tui.screens.multi_log import MultiLogScreen

        self.push_screen(MultiLogScreen(self.service, job_ids))

    def open_schedule(self, schedule_id: str) -> None:
        """The schedule details screen of `schedule_id` (enter on a schedule)."""
        from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen

        self.push_screen(ScheduleDetailsScreen(self.service, schedule_id))

    # ------------------------------------------------------------------ start and stop

    async def on_load(self) -> None:
        if self._service is None:
            assert self._opener is not None
            self._service = await self._opener()
        # Before any screen is composed: hints drawn at compose name the remapped keys
        # (`keymap.key_for` reads `self.keymap`; Textual keeps its own copy private).
        self.keymap = dict(self.service.config.keymap)
        self.set_keymap(self.keymap)
        self._apply_theme()

    def _apply_theme(self) -> None:
        """The theme asked for (`--theme`, the config's, or jobdash's), set before the
        stylesheet is first parsed: Textual's theme watcher parses the CSS sources again
        and restyles the widgets, which here are none yet (set at mount, that was ~2 % of
        the first frame's instructions). An unknown one (in tests: `jobdash` refuses it
        before it starts) is said in a toast, and the default is used."""
        name = self._requested_theme or self.service.config.theme or DEFAULT_THEME
        try:
            check_theme(name, self._themes)
        except BadInput as e:
            self.notify_refusal(e)
            name = DEFAULT_THEME
        theme = self.get_theme(name)
        if theme is None or theme.dark != self.current_theme.dark:
            self.theme = name  # dark for light, or back: Textual's watcher sets its ANSI colours
            return
        # Nothing is parsed yet: the theme's variables are set for the first parse. Textual's
        # watcher would parse the CSS read so far in a stylesheet of its own, whose parse is
        # not kept (all parsed again with the widgets'), ~1 % of the first frame. The app's
        # ANSI colours, made for the theme it started with, are a dark or light theme's alike.
        self.set_reactive(App.theme, name)
        themes = {c: False for c in self.classes if c.startswith("-theme-")}
        self.update_classes({**themes, f"-theme-{name}": True}, update=False)
        self.stylesheet.set_variables(self.get_css_variables())

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.service)

    def on_key(self, event: events.Key) -> None:
        """A key reaches the widget focused when the terminal's bytes are read: text typed or
        pasted right after the key that opens a text field (`/`, a dialog's) went to the
        widget before it, and comes up here unhandled once the field has the focus. A text
        field takes every printable key itself, so a printable key that comes up while one
        has the focus did not pass it: it is handed to the field, not lost (or, before the
        focus moved, taken for `s` sort or `c` cancel)."""
        focused = self.screen.focused
        if event.is_printable and isinstance(focused, Input):
            event.stop()
            focused.post_message(events.Key(event.key, event.character))

    def on_mount(self) -> None:
        svc = self.service
        self._set_subtitle()
        self._watch_feed()
        self._watch_damage()
        if self.engine_slots is not None:  # then the demo's jobs, which it runs
            self.call_after_refresh(self._start_engine, self.engine_slots)
        elif self.demo and not svc.read_only:
            self._start_demo_jobs()
        if not self.embedded_engine:
            self._describe_engine()
            self.set_interval(self.engine_look_every, self._describe_engine)
        self.call_after_refresh(freeze_start_up)  # once the first screen is drawn

    def show_stalled(self, note: str) -> None:
        """Count the stalled jobs in the header ("" for none): seen from every tab."""
        if note != self.stalled_note:
            self.stalled_note = note
            self._set_subtitle()

    def _set_subtitle(self) -> None:
        svc = self.service
        parts = [self.stalled_note] if self.stalled_note else []
        parts.append(f"{svc.user}{' (admin)' if svc.is_admin else ''}")
        parts.append(f"times in {abbreviation(self.clock())}")  # the job tables' and logs'
        if self.engine_note:
            parts.append(self.engine_note)
        elif self.embedded_engine and svc.engine is not None:
            parts.append(f"engine {svc.engine.name} embedded")
        if svc.read_only:
            parts.append("read-only")
        if self.link.low:
            parts.append("low bandwidth")
        self.sub_title = " · ".join(parts)

    @work(group="engine")
    async def _start_engine(self, slots: int) -> None:
        """The embedded engine, started after the first frame (`on_mount`): its imports and
        first writes are not the first frame's, and its first write waits for the store's
        whole-file check (seconds on a store of millions of jobs). A store found damaged
        meanwhile starts none (`_watch_damage` ends the dashboard), nor does a dashboard
        already ending: the first frame's callbacks still run after `q` pressed before
        it, past the cancelling of the workers at exit (`Service.close` would end such a
        start, but it need not begin)."""
        if self.return_code is not None:
            return
        svc = self.service
        try:
            await svc.start_engine(slots=slots)
        except Exception as e:
            if not svc.damaged.is_set():  # else closing the store says why
                # Said in one line once the terminal is back (`run.py`), as it was when
                # the engine started before the dashboard.
                self.engine_failure = e
                self._end_with(2)
            return
        self._set_subtitle()
        if self.demo:
            self._start_demo_jobs()

    @work(group="damage")
    async def _watch_damage(self) -> None:
        """A store found damaged is written no more: the dashboard ends, and closing the
        store says why in one line (exit 2), as when it is refused at the start."""
        await self.service.damaged.wait()
        self._end_with(2)

    def _end_with(self, status: int) -> None:
        """Exit with `status` once the screen is drawn: an app ended while its first screen
        is still being mounted trips over its own header."""
        self.call_after_refresh(self.exit, status, return_code=status)

    @work(group="engine-note", exclusive=True)
    async def _describe_engine(self) -> None:
        """Attached: name the engine(s) that run the jobs, looked at again every few
        seconds: an engine killed or stopped is said gone (its agent is stale once its
        lease has passed), and one started later is named."""
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
        # Demo jobs of an older jobdash wait for good ("type changed since submit": `why`
        # says `type`): they do not count, or the demo would never start jobs that run.
        runnable = 0
        for job in await svc.jobs(active=True, limit=None):
            with contextlib.suppress(NotFound):
                runnable += (await svc.why(job.id)).kind != "type"
            if runnable >= DEMO_MIN_ACTIVE:
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

        from jobdash.tui.dialogs.confirm import ConfirmScreen  # not the first frame's

        if not isinstance(self.screen, ConfirmScreen):
            self.push_screen(ConfirmScreen(question, detail, yes="Quit"), answered)

    async def action_back_or_quit(self) -> None:
        """`q`: close the screen in front, or quit from the dashboard."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        else:
            await self.action_quit()

    def action_toggle_numbers(self) -> None:
        """`v`: every picture as its numbers in text (a screen reader, no colour), and the
        job tables' unread marks in words, or back."""
        self.show_numbers = not self.show_numbers
        for screen in self.screen_stack:
            for chart in screen.query(CHARTS):
                cast("Chart", chart).numbers = self.show_numbers
            for table in screen.query(JobTable):  # their unread marks in words
                table.show_numbers(self.show_numbers)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_numbers":  # only where a picture is
            return bool(self.screen.query(CHARTS))
        return True

    def action_help(self) -> None:
        from jobdash.tui.screens.help import HelpScreen, help_entries  # when first opened

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(help_entries(self.screen)))

    async def on_unmount(self) -> None:
        if self._opener is not None and self._service is not None:
            await self._service.close()
