"""The Scheduled tab: every schedule with its last run, planning, time zone, state, next
run and what of its latest run's log the user has not read (`●3 ⚠1 ✘2`,
present/unread.py). Times are the viewer's, in the zone their column's header names (the
"time zone" column is each schedule's own, in which its planning is read); the schedules
whose latest fire time could not start a job are listed under the table with the reason.

Keys: `r` run now, `p` enable/disable, `E` edit the planning (with the next five fire times
previewed): `ScheduleKeys` in `jobdash.tui.actions`, shared with the schedule's details
screen; `space` marks schedules, and while some are, `r` and `p` act on all of them after one
question, `escape` unmarks (`MarkKeys`); `enter` posts `SchedulesPane.Selected`, on which
the dashboard opens that screen (`jobdash.tui.screens.schedule_details`). Reloaded when the
change feed says schedules changed, or a job started by a schedule changed (its last run's
status is shown).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from jobdash.core.model import Job
from jobdash.core.planning import Schedule
from jobdash.core.service import Service
from jobdash.present.status import SCHEDULE_STATE_TONES, last_run_look
from jobdash.present.text import NAME_LIMIT, sanitize
from jobdash.present.times import header, in_column
from jobdash.present.unread import unread_mark, unread_tone
from jobdash.tui.bulk import Marks, schedule_marks_line
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keys import SCHEDULE_BINDINGS, MarkKeys, ScheduleKeys
from jobdash.tui.rights import refusals_for
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

__all__ = ["SchedulesPane", "planning_text", "schedule_row", "schedules_table", "zone_columns"]

# The columns beside the planning are as wide as what they show (up to these widths), so
# the planning gets the rest: `cron: 0 6 * * 1-5 (auto)` whole, not `cron: 0 6 * * *…`.
# An id is never cut: it is what a user types (`jobdash schedule run ID`), and two ids that
# start alike (`export-report`, `export-reports-eu`) were one `export-r…` at 80 columns.
COLUMNS = (
    TableColumn("last", 4),
    TableColumn("id", NAME_LIMIT, shrink=True),
    TableColumn("type", 16, shrink=True),
    TableColumn("planning", 0, min_width=16),
    TableColumn("time zone", 16, shrink=True),
    TableColumn("state", 13, shrink=True),
    TableColumn("last run", 22, shrink=True),
    TableColumn("next run", 18, shrink=True),
    TableColumn("new", 14, shrink=True),  # the latest run's unread marks ("●85 ⚠1 ✘4")
)
# On a narrow terminal (80 columns) these go first (the latest run's unread mark last: the
# job tables show it), then the times narrow (a next run keeps its date, a last run its
# time, `14:35:00…`: "last" has its outcome): state, last run and next run stay on screen.
# Should the planning still get less than its least width (long ids), the last run goes
# rather than the table scrolling and the screen's edge cutting the times.
NARROW_DROPS = ("type", "time zone", "new")
PLANNING_WANTED = 24  # "cron: 30 2 * * 1-5 (auto)": the type goes first (at 120 columns)
NARROW_WIDTHS = {"last run": 9, "next run": 16}
LAST_DROPS = ("last run",)


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


def unread_cell(run: Job | None) -> Cell:
    """The unread mark of a schedule's latest run (present/unread.py)."""
    unread = run.unread if run is not None else None
    return Cell(unread_mark(unread), unread_tone(unread))


def schedule_row(s: Schedule, now: float, run: Job | None = None) -> Row:
    """A schedule's row; `run`: its latest run, as this user sees it (for its unread mark)."""
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
            unread_cell(run),
        ),
    )


def schedules_table(now: float, id: str | None = None) -> LineTable:
    """The table of schedules: its columns (times titled with the zone of `now`), and
    which go or narrow on a narrow terminal."""
    return LineTable(
        zone_columns(COLUMNS, now),
        empty_text="No schedules (a job type with `schedule = …` in the config makes one)",
        drops=NARROW_DROPS,
        narrow={zone_label(label, now): width for label, width in NARROW_WIDTHS.items()},
        want={"planning": PLANNING_WANTED},
        last=tuple(zone_label(label, now) for label in LAST_DROPS),
        id=id,
    )


class SchedulesPane(MarkKeys, ScheduleKeys, Vertical):
    """The table of schedules."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *SCHEDULE_BINDINGS,
        Binding("enter", "open", "Executions", id="schedules.open"),
        Binding("space", "toggle_mark", "Mark/unmark", show=False, id="schedules.mark"),
        Binding("escape", "clear_marks", "Unmark all", show=False, id="schedules.unmark"),
    ]

    class Selected(Message):
        """A schedule was chosen (enter): whoever holds the pane shows its details."""

        def __init__(self, schedule_id: str) -> None:
            super().__init__()
            self.schedule_id = schedule_id

    DEFAULT_CSS = """
    SchedulesPane {
        #schedules-table { height: 1fr; }
        #schedule-errors { height: auto; max-height: 6; padding: 0 1; color: $text-error; }
        #schedule-marks {
            height: 1; padding: 0 1; background: $boost; text-style: bold;
            text-wrap: nowrap; text-overflow: ellipsis;
        }
    }
    """

    def __init__(self, service: Service, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.service = service
        self.schedules: list[Schedule] = []
        self.marks: Marks[Schedule] = Marks(lambda s: s.id)
        self._refusals: tuple[str | None, ...] | None = None  # of the schedule under the cursor

    def compose(self) -> ComposeResult:
        yield schedules_table(clock_of(self.app)(), id="schedules-table")
        errors = Static("", id="schedule-errors", markup=False)
        errors.display = False
        yield errors
        marks = Static("", id="schedule-marks", markup=False)
        marks.display = False
        yield marks

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
        self.marks.refresh(self.schedules)
        if self.marks.keep(s.id for s in self.schedules):
            self.marks_changed()  # a marked schedule left the config
        runs = await self.service.latest_runs(self.schedules)
        now = clock_of(self.app)()
        self.table.set_rows(
            [schedule_row(s, now, runs.get(s.last_job or 0)) for s in self.schedules]
        )
        errors = self.query_one("#schedule-errors", Static)
        text = error_lines(self.schedules, now)
        errors.update(sanitize(text))
        errors.display = bool(text)

    def after_action(self, _: object = None) -> None:
        self.reload()

    def current_schedule(self) -> Schedule | None:
        return self.table.under_cursor(self.schedules)

    def mark_table(self) -> LineTable:
        return self.table

    def mark_item(self) -> Schedule | None:
        return self.current_schedule()

    def marked_schedules(self) -> list[Schedule]:
        return self.marks.marked

    def marks_changed(self) -> None:
        """The table shows the marks; the line under it counts them."""
        self.table.show_marks(self.marks.items)
        line = self.query_one("#schedule-marks", Static)
        line.display = bool(self.marks)
        line.update(schedule_marks_line(self.app, len(self.marks)))

    def after_marks(self) -> None:
        self.action_clear_marks()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`escape` unmarks while there are marks; else it is the dashboard's."""
        return bool(self.marks) if action == "clear_marks" else True

    def action_open(self) -> None:
        """Show the selected schedule's latest executions and tick history."""
        s = self.current_schedule()
        if s is not None:
            self.post_message(self.Selected(s.id))

    @on(LineTable.Highlighted, "#schedules-table")
    def _highlighted(self) -> None:
        """Another schedule under the cursor: the footer greys what the user may not do
        (redrawn only when that differs from the last schedule's)."""
        s = self.current_schedule()
        refusals = (
            None
            if s is None
            else refusals_for(self.service, s.type, self.service.target_of(s.type, s.params), None)
        )
        if refusals != self._refusals:
            self._refusals = refusals
            self.screen.refresh_bindings()

    @on(LineTable.Selected, "#schedules-table")
    def _selected(self, event: LineTable.Selected) -> None:
        event.stop()
        self.action_open()
