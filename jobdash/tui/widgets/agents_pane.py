"""The Agents tab: every agent with its state, slots, running tasks, heartbeat age, counters
and throughput; `d` drains the selected agent.

Reloaded when the change feed says agents (or jobs, whose tasks agents run) changed, at
most once a second; a 1 s timer re-renders the heartbeat ages, and only the rows whose text
changed are repainted.  Throughput: the tasks each agent did (succeeded, as its `done`
counts them) in each minute of the last hour, counted by the store (`Service.tasks_done`), read with the agents and at least every
`sample_every` seconds: a line of bars per agent and one for all of them below the table
(`v`: the numbers), and the last 12 minutes in the table's throughput column.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label

from jobdash.core.agent_info import AgentInfo, PrunedAgents
from jobdash.core.service import Service
from jobdash.present.charts import MINUTES, Series, agents_picture
from jobdash.present.durations import duration
from jobdash.present.progress import sparkline as text_sparkline
from jobdash.present.status import agent_look
from jobdash.present.words import plural
from jobdash.tui.actions import JobActions
from jobdash.tui.helpers import clock_of
from jobdash.tui.helpers import subscribe_changes as _subscribe
from jobdash.tui.widgets.chart import Chart
from jobdash.tui.widgets.line_table import Cell, LineTable, Row, TableColumn

__all__ = ["AgentsPane", "text_sparkline"]

COLUMN_MINUTES = 12  # minutes of throughput in the table's column
COLUMNS = (
    TableColumn("name", 16),
    TableColumn("host", 12),
    TableColumn("pid", 7, "right"),
    TableColumn("state", 10),
    TableColumn("slots", 5, "right"),
    TableColumn("current tasks", 0, min_width=14),
    TableColumn("beat", 6, "right"),
    TableColumn("done", 7, "right"),
    TableColumn("fail", 5, "right"),
    TableColumn("throughput", 12),
)
# On a narrow terminal these go first (the sparkline below shows the throughput).
NARROW_DROPS = ("throughput", "host", "pid")


class AgentsPane(Vertical):
    """Agents: name, host, pid, state, slots used/total, current tasks, heartbeat age,
    done, failed, throughput."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "drain", "Drain/undrain", id="agents.drain"),
    ]

    DEFAULT_CSS = """
    AgentsPane {
        #agents-table { height: 1fr; }
        #agents-chart-label { height: 1; padding: 0 1; color: $text-muted; }
        #agents-chart { max-height: 50%; }
    }
    """

    def __init__(
        self,
        service: Service,
        *,
        sample_every: float = 5.0,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.service = service
        self.sample_every = sample_every
        self.agents: list[tuple[AgentInfo, bool]] = []
        self.pruned = PrunedAgents()
        self.current: dict[str, list[tuple[int, int, str]]] = {}
        self.throughput: list[Series] = []  # per agent, then the total
        self._dirty = True
        self._last_load = 0.0

    def compose(self) -> ComposeResult:
        yield LineTable(
            COLUMNS,
            empty_text="No agents have run on this store",
            drops=NARROW_DROPS,
            id="agents-table",
        )
        yield Label(
            # The table's `done` is all time; this is the same count, by minute.
            f"tasks done per minute, last {MINUTES} min (the table's done: all time), oldest first",
            id="agents-chart-label",
            markup=False,
        )
        yield Chart("no agent ended a task in the last hour", id="agents-chart")

    @property
    def table(self) -> LineTable:
        return self.query_one("#agents-table", LineTable)

    def on_mount(self) -> None:
        _subscribe(self, self._on_store_changed)
        self.set_interval(1.0, self._tick)
        self.set_interval(self.sample_every, self.sample)
        self.reload()

    def on_show(self) -> None:
        """The tab came to the front: read what changed while it was behind."""
        if self._dirty:
            self.reload()

    def _on_store_changed(self, changes: Any) -> None:
        if getattr(changes, "agents", False) or getattr(changes, "jobs", None):
            self._dirty = True
            if self.is_on_screen and time.monotonic() - self._last_load >= 1.0:
                self.reload()

    def _tick(self) -> None:
        """Heartbeat ages move every second; reload if a change waited for the throttle.
        Behind another tab nothing is read or drawn (a dashboard left on In Progress with
        20 jobs running would read the agents 4 times a second for no one)."""
        if not self.is_on_screen:
            return
        if self._dirty:
            self.reload()
        else:
            self._show()

    @work(group="agents-load", exclusive=True)
    async def reload(self) -> None:
        """Read agents and their running tasks from the service."""
        self._dirty = False
        self._last_load = time.monotonic()
        self.agents = await self.service.agents()
        self.current = await self.service.agent_tasks()
        self.pruned = await self.service.pruned_agents()
        await self._read_throughput()
        self._show()

    @work(group="agents-sample", exclusive=True)
    async def sample(self) -> None:
        """The minutes move on while nothing changes: count the last hour again (when
        shown; behind another tab, when it comes to the front)."""
        if not self.is_on_screen:
            self._dirty = True
            return
        await self._read_throughput()
        self._show()

    async def _read_throughput(self) -> None:
        counts = await self.service.tasks_done(clock_of(self.app)(), MINUTES)
        self.throughput = agents_picture(counts, [info.name for info, _ in self.agents])

    def _row(self, info: AgentInfo, now: float) -> Row:
        state = agent_look(info.state)
        tasks = self.current.get(info.name, [])
        running = ", ".join(f"{job}#{seq} {name}" for job, seq, name in tasks[:4])
        if len(tasks) > 4:
            running += f", +{len(tasks) - 4}"
        age = now - info.heartbeat
        return Row(
            info.name,
            (
                Cell(info.name, "bold"),
                info.host,
                str(info.pid),
                Cell(state.text, state.tone),
                f"{info.running}/{info.slots}",
                running,
                Cell(duration(max(0.0, age)), "error" if info.state == "stale" else "dim"),
                str(info.done),
                Cell(str(info.failed), "error" if info.failed else "dim"),
                Cell(text_sparkline(self._per_minute(info.name), COLUMN_MINUTES), "accent"),
            ),
        )

    def _show(self) -> None:
        if not self.query("#agents-table"):
            return  # the pane is being removed (a load ended meanwhile): nothing to show on
        now = clock_of(self.app)()
        rows = [self._row(info, now) for info, _ in self.agents]
        if self.pruned.agents:  # what agents pruned from the list had done (totals)
            state = agent_look("pruned")
            name = f"({plural(self.pruned.agents, 'pruned agent')})"
            done, failed = self.pruned.done, self.pruned.failed
            cells = (Cell(name, "dim"), "", "", Cell(state.text, state.tone), "", "", "")
            rows.append(Row(None, (*cells, str(done), Cell(str(failed), "dim"), "")))
        self.table.set_rows(rows)
        # Per agent and in total; none when no agent is listed or ended a task this hour.
        self.query_one("#agents-chart", Chart).show(self.throughput[:-1] and self.throughput)

    def _per_minute(self, name: str) -> list[float]:
        """An agent's tasks done per minute, oldest first (none: no minute counted)."""
        series = next((s for s in self.throughput if s.label == name), None)
        return [bar.value or 0.0 for bar in series.bars] if series is not None else []

    def action_drain(self) -> None:
        """Drain the selected agent (it finishes its tasks and claims no more), or undrain
        a drained one (it claims again), after a confirmation."""
        name = self.table.cursor_key
        drained = dict((info.name, drain) for info, drain in self.agents)
        if name not in drained:  # no row, or the pruned agents' totals
            return
        agent = str(name)
        JobActions(self.app, self.service).drain(agent, not drained[agent], self._drained)

    def _drained(self, _: object) -> None:
        self.reload()
