"""The Failures tab: failed task attempts grouped by cause, the group seen last first: the
normalised message, job types, counts of attempts, tasks and jobs, first and last seen and a
sparkline of the attempts over time (one axis for all groups, said under the table with the
cursor group's id, whole message and types).

Keys: `enter` posts `FailuresPane.Selected`, on which the dashboard opens the group (its
tasks and a sample attempt's log); `R` retries the group's failed tasks after a question
naming the counts (`JobActions.retry_group`); the dashboard's filter bar (`/`) narrows what
the groups count (`set_query`). Reloaded when the change feed brings a job with failures
(or removes jobs), at most every `RELOAD_EVERY` seconds and only while the tab is shown.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.core.views import FailureGroup
from jobdash.present.failures import group_cells, group_types, trend_span
from jobdash.present.text import sanitize
from jobdash.present.times import header
from jobdash.present.words import no_match
from jobdash.tui.actions import JobActions
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

__all__ = ["TREND_BARS", "FailuresPane"]

TREND_BARS = 12  # spans of a group's sparkline
RELOAD_EVERY = 2.0  # seconds between reloads while failures come in
COLUMNS = (
    TableColumn("group", 12),
    TableColumn("fails", 5, "right"),
    TableColumn("tasks", 5, "right"),
    TableColumn("jobs", 4, "right"),
    TableColumn("types", 14),
    TableColumn("first", 16),
    TableColumn("last", 16),
    TableColumn("trend", TREND_BARS),
    TableColumn("message", 0, min_width=40),
)
# On a narrow terminal these go first: the message, the counts and the trend stay (the id,
# the types and first seen are said under the table for the cursor group).
NARROW_DROPS = ("group", "first", "types", "tasks")
NO_FAILURES = "No failed tasks"
TIMED = ("first", "last")


def group_row(g: FailureGroup, now: float) -> Row:
    cells = group_cells(g, now)
    return Row(
        g.id,
        (
            Cell(cells[0], "dim"),
            Cell(cells[1], "error"),
            *cells[2:7],
            Cell(cells[7], "accent"),
            cells[8],
        ),
    )


class FailuresPane(Vertical):
    """The failure groups, with the cursor group said whole under the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Tasks of the group", id="failures.open"),
        Binding("R", "retry_group", "Retry group", id="failures.retry"),
    ]

    class Selected(Message):
        """A group was chosen (enter): whoever holds the pane shows its tasks."""

        def __init__(self, group: FailureGroup, query: Query) -> None:
            super().__init__()
            self.group = group
            self.query = query

    DEFAULT_CSS = """
    FailuresPane {
        #failures-table { height: 1fr; }
        #failures-info { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    }
    """

    def __init__(self, service: Service, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.service = service
        self.groups: list[FailureGroup] = []
        self.filter = Query()
        self.loaded = False
        self._dirty = True
        self._last_load = 0.0

    def compose(self) -> ComposeResult:
        now = clock_of(self.app)()

        def label(name: str) -> str:  # a column of times names the viewer's zone
            return header(name, now) if name in TIMED else name

        yield LineTable(
            [c._replace(label=label(c.label)) for c in COLUMNS],
            empty_text=NO_FAILURES,
            drops=tuple(label(name) for name in NARROW_DROPS),
            id="failures-table",
        )
        yield Static("", id="failures-info", markup=False)

    @property
    def table(self) -> LineTable:
        return self.query_one("#failures-table", LineTable)

    def on_mount(self) -> None:
        subscribe_changes(self, self._on_store_changed)
        self.set_interval(RELOAD_EVERY, self._tick)

    def on_show(self) -> None:
        """The tab came to the front: read what changed while it was behind."""
        if self._dirty:
            self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        jobs = getattr(changes, "jobs", ())
        if getattr(changes, "removed", None) or any(j.failed for j in jobs):
            self._dirty = True

    def _tick(self) -> None:
        if self._dirty and self.is_on_screen and time.monotonic() - self._last_load >= 1.0:
            self.reload()

    def set_query(self, query: Query, text: str = "") -> None:
        """Count the failed attempts of the jobs `query` matches (the filter bar's `text`)."""
        self.table.empty_text = (
            NO_FAILURES if query.is_empty else no_match("failed tasks", text or "the filter")
        )
        self.table.refresh()
        if query != self.filter:
            self.filter = query
            self._dirty = True
            if self.is_on_screen:
                self.reload()

    @work(group="failures-load", exclusive=True)
    async def reload(self) -> None:
        """Read the groups from the service."""
        self._dirty = False
        self._last_load = time.monotonic()
        now = clock_of(self.app)()
        groups = await self.service.failures(self.filter, buckets=TREND_BARS, now=now)
        if not self.query("#failures-table"):
            return  # the pane was taken down meanwhile
        self.groups = groups
        self.table.set_rows([group_row(g, now) for g in groups])
        self.loaded = True
        self._show_info()

    def current_group(self) -> FailureGroup | None:
        return self.table.under_cursor(self.groups)

    def _show_info(self) -> None:
        g = self.current_group()
        info = self.query_one("#failures-info", Static)
        if g is None:
            info.update("")
            return
        text = Text(no_wrap=False)
        text.append(f"group {g.id}", "bold")
        text.append(sanitize(f" · {g.message}"))
        text.append("\n" + sanitize(f"types: {group_types(g, len(g.types))}"))
        text.append(f" · trend: attempts {trend_span(g)}")
        info.update(text)

    @on(LineTable.Highlighted, "#failures-table")
    def _highlighted(self, event: LineTable.Highlighted) -> None:
        event.stop()
        self._show_info()

    @on(LineTable.Selected, "#failures-table")
    def _selected(self, event: LineTable.Selected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """Show the cursor group's tasks and the end of its latest attempt's log."""
        if (g := self.current_group()) is not None:
            self.post_message(self.Selected(g, self.filter))

    def action_retry_group(self) -> None:
        """Retry the cursor group's failed tasks, after a question naming the counts."""
        if (g := self.current_group()) is not None:
            JobActions(self.app, self.service).retry_group(
                g.id, self.filter, clock_of(self.app)(), self._retried
            )

    def _retried(self, _: object) -> None:
        self._dirty = True
