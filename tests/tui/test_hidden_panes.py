"""Panes behind another tab read nothing: a dashboard left on In Progress while jobs run
must not read the agents, or count the last day's jobs, for no one. Shown again, a pane
reads at once what changed while it was behind."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widget import Widget

from jobdash.core.model import JobStatus
from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.widgets.agents_pane import AgentsPane
from jobdash.tui.widgets.completed_header import CompletedHeader
from jobdash.tui.widgets.failures_pane import FailuresPane
from tests.conftest import wait_for
from tests.tui.app_harness import screen_text
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]


def counted(svc: Service, name: str) -> list[float]:
    """The times `svc.<name>` is called from now on (the real method still answers)."""
    calls: list[float] = []
    method = getattr(svc, name)

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        return await method(*args, **kwargs)

    setattr(svc, name, counting)
    return calls


@pytest.fixture
def nothing_after_the_first_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The panes and the filter bar's field are not made after the first frame (that
    frame's call to `_fill_hidden_panes` does nothing): what a key pressed as the
    dashboard starts meets."""

    async def not_yet(self: DashboardScreen) -> None:
        return None

    monkeypatch.setattr(DashboardScreen, "_fill_hidden_panes", not_yet)


async def end_jobs_while_hidden(svc: Service, pilot: Any, pane: Widget, n: int) -> None:
    """Hide `pane`, then let `n` jobs end and its timers pass."""
    pane.display = False
    await until(pilot, lambda: not pane.is_on_screen)
    await pilot.pause(0.3)  # a load under way when it was hidden ends
    for _ in range(n):  # changes to the jobs, each of which a shown pane reloads for
        job = await svc.submit("quick")
        await wait_for(svc, job.id, lambda j: j.status is JobStatus.SUCCEEDED)
        await pilot.pause(0.6)
    await pilot.pause(1.2)  # past the 1 s tick and several samples


async def test_the_agents_pane_behind_another_tab(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=3)
    reads = counted(svc, "agents")
    app = PaneApp(svc, widget=lambda: AgentsPane(svc, sample_every=0.2))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(AgentsPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        assert reads
        hidden_at = time.monotonic()
        await end_jobs_while_hidden(svc, pilot, pane, 3)
        assert [t for t in reads if t > hidden_at + 0.3] == []
        pane.display = True
        await until(pilot, lambda: bool(reads) and reads[-1] > hidden_at + 0.3, timeout=5)
        # What it shows is what happened while it was behind: the three tasks ended.
        await until(pilot, lambda: " 3 " in pane.table.row_text(0), timeout=5)


async def test_the_completed_header_behind_another_tab(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=3)
    reads = counted(svc, "jobs_ended")
    app = PaneApp(svc, widget=lambda: CompletedHeader(svc, every=0.2, min_interval=0.1))
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one(CompletedHeader)
        await until(pilot, lambda: bool(reads))
        hidden_at = time.monotonic()
        await end_jobs_while_hidden(svc, pilot, header, 2)
        assert [t for t in reads if t > hidden_at + 0.3] == []
        header.display = True
        await until(pilot, lambda: bool(reads) and reads[-1] > hidden_at + 0.3, timeout=5)
        await until(pilot, lambda: "✔ 2" in str(header.render_line(0).text), timeout=5)


async def test_a_tab_shown_before_its_pane_is_made_makes_it(
    open_service: Open, nothing_after_the_first_frame: None
) -> None:
    """The Scheduled, Agents and Failures panes are made once the first frame is drawn
    (`fill_pane`); a tab shown before that (its key pressed as the dashboard starts) makes
    its own at once, and its table has the focus, as if it had been there."""

    svc = await open_service()
    reads = counted(svc, "agent_tasks")  # the Agents pane's, as it loads
    app = JobdashApp(svc, embedded_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        dash = app.screen_stack[0]
        await pilot.pause(0.3)
        assert list(dash.query("SchedulesPane, AgentsPane, FailuresPane")) == []
        await pilot.press("4")
        pane = dash.query_one(AgentsPane)
        assert app.focused is pane.table
        await until(pilot, lambda: bool(reads))  # read as soon as shown
        assert "No agents have run on this store" in screen_text(app)
        assert list(dash.query("SchedulesPane, FailuresPane")) == []


async def test_a_dashboard_that_ends_before_its_panes_are_made_does_not_raise(
    open_service: Open,
) -> None:
    """Ended before its first frame (a signal, or an engine that cannot start, call
    `exit` then), the dashboard makes no pane after it, into a screen being taken down:
    Textual's `Lazy` did, and raised there."""
    svc = await open_service()
    reads = counted(svc, "schedules")  # the Scheduled pane's first read, when it is made
    app = JobdashApp(svc, embedded_engine=False)
    async with app.run_test(size=SIZE):
        app.exit(2, return_code=2)
    assert app.return_code == 2
    assert reads == []


async def test_a_filter_typed_before_the_failures_pane_is_made_counts_there(
    open_service: Open, nothing_after_the_first_frame: None
) -> None:
    """The filter bar narrows the Failures tab too: typed before its pane was made, it is
    the filter that pane counts once shown."""

    svc = await open_service()
    app = JobdashApp(svc, embedded_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        dash = app.screen_stack[0]
        assert isinstance(dash, DashboardScreen)
        await pilot.press("slash")
        dash.filter_bar.input.value = "type:nothing-such"
        await until(pilot, lambda: dash.filter_bar.query_text == "type:nothing-such")
        await pilot.press("enter", "5")
        pane = dash.query_one(FailuresPane)
        assert pane.filter == Query.parse("type:nothing-such")
        await until(pilot, lambda: pane.loaded)
        assert "nothing-such" in screen_text(app)


async def test_a_filter_typed_before_the_filter_bars_field_is_made_is_the_filters(
    open_service: Open, nothing_after_the_first_frame: None
) -> None:
    """`/` and the words typed right after it, before the bar's field was made (it comes
    after the first frame): the field is made at once, and the words are the filter's, not
    keys of the table (`c` cancels, `p` pauses there)."""

    svc = await open_service()
    app = JobdashApp(svc, embedded_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        dash = app.screen_stack[0]
        assert isinstance(dash, DashboardScreen)
        assert not dash.filter_bar.filled
        await pilot.press("slash", "c", "p", "u")
        await until(pilot, lambda: dash.filter_bar.query_text == "cpu")
        assert dash.filter_bar.input.value == "cpu"
        assert app.focused is dash.filter_bar.input
        assert app.screen is dash  # no dialog opened by a key meant for the filter


async def test_the_completed_tab_shown_before_its_header_is_made_makes_it(
    open_service: Open, nothing_after_the_first_frame: None
) -> None:
    """`2` pressed as the dashboard starts: the Completed tab's header (made after the
    first frame) is made at once, above the tab's table, which has the focus."""
    svc = await open_service()
    app = JobdashApp(svc, embedded_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        dash = app.screen_stack[0]
        assert isinstance(dash, DashboardScreen)
        assert list(dash.query(CompletedHeader)) == []
        await pilot.press("2")
        pane = dash.query_one("#completed")
        assert [type(w).__name__ for w in pane.children] == ["CompletedHeader", "JobWindowTable"]
        assert app.focused is dash.completed
        await until(
            pilot, lambda: "last 24 h" in screen_text(app) and "loading" not in screen_text(app)
        )
