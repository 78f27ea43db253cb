"""One schedule: its summary, the time each of its runs took (bars oldest to newest,
coloured by how each ended; `v`: the numbers), its latest executions (enter opens a job's details) and its
tick history (every fire time: ran, skipped, missed, paused, error, with the detail).

Keys: `r` run now, `p` enable/disable, `E` edit the planning, `M` the report recipients,
the same as on the Scheduled tab (`ScheduleKeys`). Reloaded when the change feed says
schedules changed, or a job of this schedule changed. Times are the viewer's, in the zone their column's header names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Label, Static

from jobdash.core.model import Job, NotFound
from jobdash.core.planning import Schedule, Tick
from jobdash.core.service import Service
from jobdash.present.charts import run_of, runs_picture
from jobdash.present.durations import duration
from jobdash.present.planning import recipients_text
from jobdash.present.status import TICK_TONES, look
from jobdash.present.text import sanitize
from jobdash.present.times import clock, in_column
from jobdash.tui.actions import OffersWhatWorks
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keymap import key_for
from jobdash.tui.keys import SCHEDULE_BINDINGS, ScheduleKeys
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.audit_table import AuditTable
from jobdash.tui.widgets.chart import Chart
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn
from jobdash.tui.widgets.schedules_pane import planning_text, zone_columns

__all__ = ["ScheduleDetailsScreen", "job_row", "tick_row"]

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


class ScheduleDetailsScreen(ScheduleKeys, OffersWhatWorks):
    """One schedule: its summary, latest executions (enter opens a job) and tick history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "back", "Back", id="schedule.back"),
        *SCHEDULE_BINDINGS,
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
        yield Chart("runs: loading…", id="schedule-runs")
        details = f"latest executions ({key_for(self.app, 'table.select')}: details)"
        yield Label(details, classes="section", markup=False)
        yield LineTable(
            zone_columns(JOB_COLUMNS, now), empty_text="No runs yet", id="schedule-jobs"
        )
        yield Label("tick history", classes="section", markup=False)
        yield LineTable(
            zone_columns(TICK_COLUMNS, now), empty_text="No ticks yet", id="schedule-ticks"
        )
        yield Label("audit", classes="section", markup=False)
        yield AuditTable(self.service, f"schedule:{self.schedule_id}", id="schedule-audit")
        yield KeyFooter(compact=True)

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
            await self._reload()
        except NoMatches:
            pass  # the screen was taken down (back, a quit) while it read: nothing to show

    async def _reload(self) -> None:
        try:
            s = await self.service.schedule(self.schedule_id)
        except NotFound:
            self.query_one("#schedule-summary", Static).update(
                Text(sanitize(f"schedule {self.schedule_id} no longer exists"))
            )
            return
        self.query_one(AuditTable).reload()
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
        summary.append("\n" + sanitize(f"reports to {recipients_text(s)}"))
        if s.error:
            summary.append("\n")
            failed = f"✘ fire time {clock(s.last_tick, now)} failed: {s.error}"
            summary.append(sanitize(failed), "bold")
        self.query_one("#schedule-summary", Static).update(summary)
        self.query_one("#schedule-jobs", LineTable).set_rows([job_row(j, now) for j in jobs])
        runs = [run_of(j, now) for j in jobs if j.started is not None]
        label = "the time of its last runs"
        self.query_one("#schedule-runs", Chart).show([runs_picture(runs, label)])
        self.query_one("#schedule-ticks", LineTable).set_rows([tick_row(t, now) for t in ticks])

    def action_back(self) -> None:
        """Back to the schedules."""
        self.dismiss(None)

    @on(LineTable.Selected, "#schedule-jobs")
    def _job_selected(self, event: LineTable.Selected) -> None:
        event.stop()
        self.app.push_screen(JobDetailsScreen(self.service, int(str(event.key))))
