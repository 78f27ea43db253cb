"""The Scheduled tab: every schedule with its last run, planning, time zone, state and next
run. Times are the viewer's, in the zone their column's header names (the "time zone"
column is each schedule's own, in which its planning is read); the schedules whose latest
fire time could not start a job are listed under the table with the reason.

Keys: `r` run now, `p` enable/disable, `enter` the schedule's latest executions and tick
history, `E` edit the planning (with the next five fire times previewed).  Reloaded when
the change feed says schedules changed, or a job started by a schedule changed (its last
run's status is shown).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Label, Static

from jobdash.core.model import Job, NotFound
from jobdash.core.planning import Schedule, Tick
from jobdash.core.service import Service
from jobdash.present.durations import duration
from jobdash.present.status import SCHEDULE_STATE_TONES, TICK_TONES, last_run_look, look
from jobdash.present.text import sanitize
from jobdash.present.times import clock, header, in_column
from jobdash.tui.actions import JobActions, OffersWhatWorks
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keymap import key_for
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

__all__ = ["ScheduleDetailsScreen", "SchedulesPane", "schedule_row"]

COLUMNS = (
    TableColumn("last", 4),
    TableColumn("id", 16),
    TableColumn("type", 16),
    TableColumn("planning", 0, min_width=16),
    TableColumn("time zone", 16),
    TableColumn("state", 13),
    TableColumn("last run", 22),
    TableColumn("next run", 18),
)
# On a narrow terminal (80 columns) these go first, then the id and the times narrow (a
# next run keeps its date, a last run its time): state, last run and next run stay on screen.
NARROW_DROPS = ("type", "time zone")
NARROW_WIDTHS = {"id": 9, "last run": 17, "next run": 16}


def status_cell(status: str | None) -> Cell:
    shown = last_run_look(status)
    return Cell(shown.glyph, shown.tone)


def planning_text(s: Schedule) -> str:
    if s.planning == "automatic":
        return f"{s.effective} (auto)"
    return s.effective


def zone_label(label: str, now: float) -> str:
    """A column's title, with the viewer's zone for a column of times: "next run (CET)"."""
    timed = ("last run", "next run", "started", "fire time")
    return header(label, now) if label in timed else label


def zone_columns(columns: tuple[TableColumn, ...], now: float) -> list[TableColumn]:
    """The columns, those of times titled with the viewer's zone (`zone_label`)."""
    return [c._replace(label=zone_label(c.label, now)) for c in columns]


def state_cell(s: Schedule) -> Cell:
    return Cell(s.state_text, SCHEDULE_STATE_TONES[s.state])


def error_lines(schedules: list[Schedule], now: float) -> str:
    """One line per schedule whose latest fire time failed, with when and why."""
    return "\n".join(
        f"✘ {s.id}: fire time {in_column(s.last_tick, now)} failed: {s.error}"
        for s in schedules
        if s.error
    )


def schedule_row(s: Schedule, now: float) -> Row:
    last = ""
    if s.last_job is not None:
        last = f"{in_column(s.last_run, now)} #{s.last_job} {s.last_status or ''}".strip()
    elif s.last_run is not None:
        last = in_column(s.last_run, now)
    next_run = in_column(s.next_run, now) if s.next_run is not None else "—"
    return Row(
        s.id,
        (
            status_cell(s.last_status),
            Cell(s.id, "bold"),
            s.type,
            planning_text(s),
            Cell(s.timezone, "dim"),
            state_cell(s),
            last,
            next_run,
        ),
    )


class _ScheduleActions:
    """`r` run now, `p` enable/disable and `E` edit, shared by the pane and the details."""

    service: Service
    app: Any

    def current_schedule(self) -> Schedule | None:
        raise NotImplementedError

    def after_action(self, _: object = None) -> None:
        """Reload after an action (the change feed would too, a moment later)."""

    @property
    def actions(self) -> JobActions:
        return JobActions(self.app, self.service)

    def action_run_now(self) -> None:
        """Run the selected schedule's job now."""
        s = self.current_schedule()
        if s is not None:
            self.actions.run_schedule(s, self.after_action)

    def action_toggle_enabled(self) -> None:
        """Enable or disable the selected schedule."""
        s = self.current_schedule()
        if s is not None:
            self.actions.toggle_schedule(s, self.after_action)

    def action_edit_planning(self) -> None:
        """Edit the selected schedule's planning."""
        s = self.current_schedule()
        if s is not None:
            self.actions.edit_schedule(s, self.after_action)


ACTION_BINDINGS: list[BindingType] = [
    Binding("r", "run_now", "Run now", id="schedules.run_now"),
    Binding("p", "toggle_enabled", "Enable/disable", id="schedules.toggle"),
    Binding("E", "edit_planning", "Edit planning", id="schedules.edit"),
]


class SchedulesPane(_ScheduleActions, Vertical):
    """The table of schedules."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *ACTION_BINDINGS,
        Binding("enter", "open", "Executions", id="schedules.open"),
    ]

    DEFAULT_CSS = """
    SchedulesPane {
        #schedules-table { height: 1fr; }
        #schedule-errors { height: auto; max-height: 6; padding: 0 1; color: $text-error; }
    }
    """

    def __init__(self, service: Service, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.service = service
        self.schedules: list[Schedule] = []

    def compose(self) -> ComposeResult:
        now = clock_of(self.app)()
        yield LineTable(
            zone_columns(COLUMNS, now),
            empty_text="No schedules (a job type with `schedule = …` in the config makes one)",
            drops=NARROW_DROPS,
            narrow={zone_label(label, now): width for label, width in NARROW_WIDTHS.items()},
            id="schedules-table",
        )
        errors = Static("", id="schedule-errors", markup=False)
        errors.display = False
        yield errors

    @property
    def table(self) -> LineTable:
        return self.query_one("#schedules-table", LineTable)

    def on_mount(self) -> None:
        subscribe_changes(self, self._on_store_changed)
        self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        if getattr(changes, "schedules", False) or any(
            j.schedule_id for j in getattr(changes, "jobs", ())
        ):
            self.reload()

    @work(group="schedules-load", exclusive=True)
    async def reload(self) -> None:
        """Read the schedules from the service."""
        self.schedules = await self.service.schedules()
        now = clock_of(self.app)()
        self.table.set_rows([schedule_row(s, now) for s in self.schedules])
        errors = self.query_one("#schedule-errors", Static)
        text = error_lines(self.schedules, now)
        errors.update(sanitize(text))
        errors.display = bool(text)

    def after_action(self, _: object = None) -> None:
        self.reload()

    def current_schedule(self) -> Schedule | None:
        key = self.table.cursor_key
        return next((s for s in self.schedules if s.id == key), None)

    def action_open(self) -> None:
        """Show the selected schedule's latest executions and tick history."""
        s = self.current_schedule()
        if s is not None:
            self.app.push_screen(ScheduleDetailsScreen(self.service, s.id))

    @on(LineTable.Selected, "#schedules-table")
    def _selected(self, event: LineTable.Selected) -> None:
        event.stop()
        self.action_open()


JOB_COLUMNS = (
    TableColumn("job", 7, "right"),
    TableColumn("status", 12),
    TableColumn("trigger", 9),
    TableColumn("started", 18),
    TableColumn("time", 7, "right"),
    TableColumn("info", 0, min_width=12),
)
TICK_COLUMNS = (
    TableColumn("fire time", 19),
    TableColumn("outcome", 10),
    TableColumn("job", 7, "right"),
    TableColumn("detail", 0, min_width=12),
)


def job_row(job: Job, now: float) -> Row:
    shown = look(job.status)
    return Row(
        job.id,
        (
            str(job.id),
            Cell(shown.text, shown.tone),
            "schedule" if job.fire_time else str(job.trigger),
            in_column(job.started or job.created, now),
            duration(job.duration(now)),
            job.info,
        ),
    )


def tick_row(tick: Tick, now: float) -> Row:
    return Row(
        tick.id,
        (
            in_column(tick.fire_time, now),
            Cell(tick.outcome_text, TICK_TONES.get(tick.outcome, "")),
            str(tick.job_id) if tick.job_id is not None else "",
            Cell(tick.detail, "dim"),
        ),
    )


class ScheduleDetailsScreen(_ScheduleActions, OffersWhatWorks):
    """One schedule: its summary, latest executions (enter opens a job) and tick history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "back", "Back", id="schedule.back"),
        *ACTION_BINDINGS,
    ]

    DEFAULT_CSS = """
    ScheduleDetailsScreen {
        #schedule-summary { height: auto; padding: 0 1; background: $panel; }
        .section { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
        #schedule-jobs { height: 1fr; }
        #schedule-ticks { height: 1fr; }
    }
    """

    def __init__(self, service: Service, schedule_id: str) -> None:
        super().__init__()
        self.service = service
        self.schedule_id = schedule_id
        self.schedule: Schedule | None = None

    def compose(self) -> ComposeResult:
        now = clock_of(self.app)()
        yield Static("", id="schedule-summary")
        details = f"latest executions ({key_for(self.app, 'table.select')}: details)"
        yield Label(details, classes="section", markup=False)
        yield LineTable(
            zone_columns(JOB_COLUMNS, now), empty_text="No runs yet", id="schedule-jobs"
        )
        yield Label("tick history", classes="section", markup=False)
        yield LineTable(
            zone_columns(TICK_COLUMNS, now), empty_text="No ticks yet", id="schedule-ticks"
        )
        yield Footer()

    def on_mount(self) -> None:
        subscribe_changes(self, self._on_store_changed)
        self.query_one("#schedule-jobs", LineTable).focus()
        self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        if getattr(changes, "schedules", False) or any(
            j.schedule_id == self.schedule_id for j in getattr(changes, "jobs", ())
        ):
            self.reload()

    def current_schedule(self) -> Schedule | None:
        return self.schedule

    def after_action(self, _: object = None) -> None:
        self.reload()

    @work(group="schedule-load", exclusive=True)
    async def reload(self) -> None:
        """Read the schedule, its jobs and its ticks."""
        try:
            s = await self.service.schedule(self.schedule_id)
        except NotFound:
            self.query_one("#schedule-summary", Static).update(
                Text(sanitize(f"schedule {self.schedule_id} no longer exists"))
            )
            return
        jobs = await self.service.schedule_jobs(self.schedule_id, limit=50)
        ticks = await self.service.ticks(self.schedule_id, limit=200)
        self.schedule = s
        now = clock_of(self.app)()
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(f"schedule {sanitize(s.id)}", "bold")
        summary.append(f" · type {sanitize(s.type)} · ")
        summary.append(s.state_text)
        summary.append(
            f"\nplanning {sanitize(planning_text(s))} · time zone {sanitize(s.timezone)}"
        )
        summary.append(f" · next run {clock(s.next_run, now) or '—'}")
        summary.append("\n" + sanitize(f"overlap {s.overlap} · catch-up {s.catchup}"))
        if s.last_job is not None:
            summary.append(sanitize(f" · last run job {s.last_job} {s.last_status or ''}"))
        if s.error:
            summary.append("\n")
            failed = f"✘ fire time {clock(s.last_tick, now)} failed: {s.error}"
            summary.append(sanitize(failed), "bold")
        self.query_one("#schedule-summary", Static).update(summary)
        self.query_one("#schedule-jobs", LineTable).set_rows([job_row(j, now) for j in jobs])
        self.query_one("#schedule-ticks", LineTable).set_rows([tick_row(t, now) for t in ticks])

    def action_back(self) -> None:
        """Back to the schedules."""
        self.dismiss(None)

    @on(LineTable.Selected, "#schedule-jobs")
    def _job_selected(self, event: LineTable.Selected) -> None:
        from jobdash.tui.screens.job_details import JobDetailsScreen

        event.stop()
        self.app.push_screen(JobDetailsScreen(self.service, int(str(event.key))))
