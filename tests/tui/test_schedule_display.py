"""The Scheduled tab tells the truth: a fire that fails shows `✘ error` and why, a planning
that never fires is not "enabled", times are the viewer's, labelled, and agree with the CLI,
and a short interval's preview shows seconds."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import Input, RadioButton, Static

from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from jobdash.tui.widgets.line_table import Cell, LineTable
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import run_cli
from tests.test_times import STARTED, TOKYO, fill_store
from tests.tui.app_harness import frozen, screen_text
from tests.tui.pane_harness import SIZE, until
from tests.tui.test_schedules_pane import open_service, pane_app

Open = Callable[..., Awaitable[Service]]

FAILING = """
[jobdash]
admins = ["root"]

[types.flaky]
items = { command = ["sh", "-c", "echo disk /srv/in is not mounted >&2; exit 3"] }
command = ["true"]
schedule = "interval: 1s"
"""


def cell(table: LineTable, row: int, label: str) -> str:
    """The text of the cell under the column whose label starts with `label`."""
    index = next(i for i, c in enumerate(table.columns) if c.label.startswith(label))
    value = table.rows[row].cells[index]
    return value.text if isinstance(value, Cell) else value


async def test_a_failing_fire_shows_error_and_its_reason(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(FAILING))  # an engine: its scheduler fires every second
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        await until(pilot, lambda: "✘ error" in pane.table.row_text(0))
        errors = pane.query_one("#schedule-errors", Static)
        shown = str(errors.render())
        assert "flaky" in shown and "disk /srv/in is not mounted" in shown, shown
        assert errors.display
        pane.table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        screen = app.screen
        ticks = screen.query_one("#schedule-ticks", LineTable)
        await until(pilot, lambda: ticks.row_count >= 1)
        assert "✘ error" in ticks.row_text(0) and "not mounted" in ticks.row_text(0)
        summary = screen.query_one("#schedule-summary", Static)
        await until(pilot, lambda: "✘ error" in str(summary.render()))
        assert "disk /srv/in is not mounted" in str(summary.render())


async def test_a_planning_that_never_fires_is_not_shown_enabled(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await open_service(services, write_config)
    await svc.set_planning("nightly", "disabled")
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        assert "enabled" not in pane.table.row_text(0)
        assert cell(pane.table, 0, "state") == "○ manual only"
        pane.table.focus()
        await pilot.press("p")  # pause it: now it is disabled whatever its planning
        await until(pilot, lambda: cell(pane.table, 0, "state") == "○ disabled")
        await pilot.press("p")
        await until(pilot, lambda: cell(pane.table, 0, "state") == "○ manual only")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        summary = app.screen.query_one("#schedule-summary", Static)
        await until(pilot, lambda: "manual only" in str(summary.render()))
        assert "enabled" not in str(summary.render())


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_times_are_the_viewers_labelled_and_agree_with_the_cli(
    services: Open, write_config: Callable[[str], Path], paris: None
) -> None:
    cfg = write_config(TOKYO)
    svc = await services(cfg, engine=False)
    await fill_store(svc)
    now_abbr = datetime.now(ZoneInfo("Europe/Paris")).tzname()
    env = {
        "JOBDASH_DB": str(svc.store.location),
        "JOBDASH_CONFIG": str(cfg),
        "TZ": "Europe/Paris",
        "COLUMNS": "200",
    }
    r = await asyncio.to_thread(run_cli, "schedules", env=env)
    assert r.returncode == 0, r.stderr
    cli_row = r.stdout.splitlines()[1]
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        labels = [c.label for c in pane.table.columns]
        assert f"last run ({now_abbr})" in labels and f"next run ({now_abbr})" in labels
        # The last run: 2026-01-16 09:00 JST is 01:00 CET, on both.
        last = cell(pane.table, 0, "last run")
        assert last.startswith("2026-01-16 01:00") and "2026-01-16 01:00" in cli_row, last
        if now_abbr != "CET":
            assert "2026-01-16 01:00 CET" in last and "2026-01-16 01:00 CET" in cli_row
        # The next run: the same clock time on both.
        nxt = cell(pane.table, 0, "next run")
        hm = re.search(r"\d\d:\d\d", nxt)
        assert hm is not None and re.findall(r"\d\d:\d\d", cli_row)[-1] == hm[0], (nxt, cli_row)
        pane.table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        screen = app.screen
        ticks = screen.query_one("#schedule-ticks", LineTable)
        await until(pilot, lambda: ticks.row_count == 1)
        assert ticks.columns[0].label == f"fire time ({now_abbr})"
        assert cell(ticks, 0, "fire time").startswith("2026-01-16 01:00")
        summary = str(screen.query_one("#schedule-summary", Static).render())
        assert f"next run {nxt}" in summary and now_abbr in summary, summary


async def test_the_preview_of_a_short_interval_shows_seconds(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    app = pane_app(await open_service(services, write_config))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.action_edit_planning()
        await until(pilot, lambda: isinstance(app.screen, EditPlanningScreen))
        dialog = app.screen
        assert isinstance(dialog, EditPlanningScreen)
        await pilot.pause()
        dialog.query_one("#kind-interval", RadioButton).value = True
        await pilot.pause()
        dialog.query_one("#interval", Input).value = "3s"
        await pilot.pause()
        preview = str(dialog.query_one("#planning-preview", Static).render())
        lines = [ln.strip() for ln in preview.splitlines()[1:]]
        assert len(lines) == 5 and len(set(lines)) == 5, preview
        assert all(re.search(r"\d\d:\d\d:\d\d", ln) for ln in lines), preview
        dialog.query_one("#interval", Input).value = "5m"
        await pilot.pause()
        preview = str(dialog.query_one("#planning-preview", Static).render())
        lines = preview.splitlines()[1:]
        assert len(lines) == 5 and not any(re.search(r"\d\d:\d\d:\d\d", ln) for ln in lines)


async def test_the_dashboard_names_the_zone_of_its_job_times(
    services: Open, write_config: Callable[[str], Path], paris: None
) -> None:
    svc = await services(write_config(TOKYO), engine=False)
    await fill_store(svc)  # a job that started 2026-01-15 12:00 UTC: 13:00 in Paris
    app = JobdashApp(svc, embedded_engine=False, watch_interval=60.0, clock=frozen(STARTED + 60))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "times in CET" in app.sub_title)
        await pilot.press("2")
        await until(pilot, lambda: "13:00:00" in screen_text(app))
        assert "12:00:00" not in screen_text(app)
