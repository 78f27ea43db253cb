"""One failure group: its cause (the normalised message, counts, types, first and last
seen, trend), the tasks with attempts in it (the latest failed first; enter opens a task's
job) and a sample: the end of the log of the cursor task's latest attempt in the group,
where it failed.

Keys: `R` retries the group's failed tasks after a question naming the counts, as on the
Failures tab (`JobActions.retry_group`); `q`/`escape` goes back. Reloaded when the change
feed brings a change to one of the group's jobs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from jobdash.core.model import LineLevel, LogLine, NotFound, line_level
from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.core.views import FailedTask, FailureGroup
from jobdash.present.failures import TASK_COLUMNS, group_types, task_cells, trend_span
from jobdash.present.logs import GUTTER
from jobdash.present.progress import sparkline
from jobdash.present.recovery import attempt_mark
from jobdash.present.text import sanitize
from jobdash.present.times import clock, header, log_stamp
from jobdash.present.words import plural
from jobdash.tui.actions import JobActions, OffersWhatWorks
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keymap import key_for
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

__all__ = ["FailureGroupScreen"]

TASKS_SHOWN = 500  # the latest failed tasks of a group listed (the counts are the group's)
WIDTHS = {"job": 7, "type": 14, "task": 24, "now": 12, "fails": 5, "last": 16, "error": 0}
RIGHT = ("job", "fails")


def task_row(t: FailedTask, now: float) -> Row:
    cells = task_cells(t, now)
    return Row(t.task_id, (*cells[:3], Cell(cells[3], "dim"), *cells[4:6], Cell(cells[6], "error")))


# A sample line's colour by its level, as the log pane draws it.
SAMPLE_STYLES = {LineLevel.ERROR: "red", LineLevel.WARNING: "yellow", LineLevel.SYSTEM: "dim"}


def sample_text(lines: list[LogLine]) -> Text:
    """The sample's lines, inert, each after the log pane's gutter for its level (`!` an
    error, `⚠` a warning, `»` jobdash's own: never by colour alone, NO_COLOR shows them) and
    in its colour."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for n, line in enumerate(lines):
        if n:
            text.append("\n")
        level = line_level(line.stream, line.text)
        style = SAMPLE_STYLES.get(level, "")
        text.append(GUTTER[level], f"bold {style}" if level is LineLevel.ERROR else style)
        text.append(log_stamp(line.ts) + " ", "dim")
        text.append(attempt_mark(line) + sanitize(line.text), style)
    return text


class FailureGroupScreen(OffersWhatWorks):
    """A failure group's cause, tasks and sample log."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "back", "Back", id="failure.back"),
        Binding("R", "retry_group", "Retry group", id="failure.retry"),
    ]

    DEFAULT_CSS = """
    FailureGroupScreen {
        #failure-summary { height: auto; max-height: 5; padding: 0 1; background: $panel; }
        .section { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
        /* The tasks and the sample share the room, the sample up to 14 rows: on a short
           terminal (80x24) both show, where a fixed sample left the tasks none.  Each
           sample line's gutter takes the left padding, as in the log pane. */
        #failure-tasks { height: 1fr; min-height: 5; }
        #failure-sample-box { height: 1fr; max-height: 14; min-height: 3; padding: 0 1 0 0; }
    }
    """

    def __init__(self, service: Service, group: FailureGroup, query: Query) -> None:
        super().__init__()
        self.service = service
        self.group = group
        self.filter = query
        self.tasks: list[FailedTask] = []
        self._sample_of: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        now = clock_of(self.app)()
        yield Static(self._summary(now), id="failure-summary")
        tasks = f"tasks, the latest failed first ({key_for(self.app, 'table.select')}: its job)"
        yield Label(tasks, classes="section", markup=False)
        columns = [
            TableColumn(
                header(c, now) if c == "last" else c,
                WIDTHS[c],
                "right" if c in RIGHT else "left",
            )
            for c in TASK_COLUMNS
        ]
        yield LineTable(
            columns, empty_text="Reading…", drops=("type", columns[5].label), id="failure-tasks"
        )
        yield Label("sample", id="failure-sample-title", classes="section", markup=False)
        with VerticalScroll(id="failure-sample-box"):
            yield Static("", id="failure-sample")
        yield KeyFooter(compact=True)

    def _summary(self, now: float) -> Text:
        g = self.group
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"failure group {g.id}", "bold")
        text.append(sanitize(f" · {g.message}"))
        text.append(
            f"\n{plural(g.attempts, 'failed attempt')} of {plural(g.tasks, 'task')} in "
            f"{plural(g.jobs, 'job')} · first {clock(g.first, now)} · last {clock(g.last, now)}"
        )
        text.append("\n" + sanitize(f"types: {group_types(g, len(g.types))}"))
        text.append(" · trend ")
        text.append(sparkline(g.trend, len(g.trend)))
        text.append(f" {trend_span(g)}")
        if not self.filter.is_empty:
            text.append("\n" + sanitize(f"filter: {self.filter}"), "dim")
        return text

    @property
    def table(self) -> LineTable:
        return self.query_one("#failure-tasks", LineTable)

    def on_mount(self) -> None:
        subscribe_changes(self, self._on_store_changed)
        self.table.focus()
        self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        ours = {t.job_id for t in self.tasks}
        if any(j.id in ours for j in getattr(changes, "jobs", ())):
            self.reload()

    @work(group="failure-load", exclusive=True)
    async def reload(self) -> None:
        """Read the group's tasks (and the sample of the cursor task)."""
        try:
            tasks = await self.service.failure_tasks(
                self.group.id, self.filter, now=clock_of(self.app)()
            )
        except NotFound:
            tasks = []
        self.tasks = tasks[:TASKS_SHOWN]
        now = clock_of(self.app)()
        if tasks:  # the counts as they are now (failures may have come since it opened)
            g = self.group
            g.attempts, g.tasks = sum(t.attempts for t in tasks), len(tasks)
            g.jobs, g.last = len({t.job_id for t in tasks}), max(t.last for t in tasks)
            self.query_one("#failure-summary", Static).update(self._summary(now))
        self.table.empty_text = "No failed task of this group is left (cleared)"
        self.table.set_rows([task_row(t, now) for t in self.tasks])
        self._load_sample()

    def current_task(self) -> FailedTask | None:
        key = self.table.cursor_key
        return next((t for t in self.tasks if t.task_id == key), None)

    @on(LineTable.Highlighted, "#failure-tasks")
    def _highlighted(self, event: LineTable.Highlighted) -> None:
        event.stop()
        self._load_sample()

    def _load_sample(self) -> None:
        t = self.current_task()
        if t is not None and (t.task_id, t.last_attempt) != self._sample_of:
            self._sample_of = (t.task_id, t.last_attempt)
            self._read_sample(t)

    @work(group="failure-sample", exclusive=True)
    async def _read_sample(self, t: FailedTask) -> None:
        lines = await self.service.failure_sample(t)
        title = f"sample: job {t.job_id} task #{t.seq}, the end of attempt {t.last_attempt}"
        self.query_one("#failure-sample-title", Label).update(sanitize(title))
        sample = self.query_one("#failure-sample", Static)
        sample.update(sample_text(lines) if lines else Text("(no log lines)", "dim"))
        self.query_one("#failure-sample-box", VerticalScroll).scroll_end(animate=False)

    @on(LineTable.Selected, "#failure-tasks")
    def _task_selected(self, event: LineTable.Selected) -> None:
        event.stop()
        if (t := self.current_task()) is not None:
            self.app.push_screen(JobDetailsScreen(self.service, t.job_id))

    def action_back(self) -> None:
        """Back to the Failures tab."""
        self.dismiss(None)

    def action_retry_group(self) -> None:
        """Retry the group's failed tasks, after a question naming the counts."""
        JobActions(self.app, self.service).retry_group(
            self.group.id, self.filter, clock_of(self.app)(), lambda _: self.reload()
        )
