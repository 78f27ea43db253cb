"""Pilot tests for the Scheduled tab, its details screen and the planning dialog."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.widgets import Input, RadioButton, Static

from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.core.store.engine_records import Advance, TickRecord
from jobdash.present.planning import split_planning
from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from jobdash.tui.widgets.line_table import LineTable
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import wait_finished
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]


async def open_service(services: Open, write_config: Callable[[str], Path]) -> Service:
    svc = await services(write_config(CONFIG), engine=False)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    return svc


def pane_app(svc: Service) -> PaneApp:
    return PaneApp(svc, widget=lambda: SchedulesPane(svc))


async def test_table_shows_schedules_and_p_toggles_enabled(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await open_service(services, write_config)
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        row = pane.table.row_text(0)
        assert "nightly" in row and "cron: 0 3 * * * (auto)" in row and "● enabled" in row
        assert "—" not in row  # a next run is shown
        pane.table.focus()
        await pilot.press("p")
        await until(pilot, lambda: not pane.schedules[0].enabled)
        assert not (await svc.schedule("nightly")).enabled
        assert "○ disabled" in pane.table.row_text(0)
        await pilot.press("p")
        await until(pilot, lambda: pane.schedules[0].enabled)
        assert (await svc.schedule("nightly")).enabled


async def test_r_runs_now_and_enter_shows_executions_and_ticks(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))  # with an engine: the run really happens
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    await svc.store.record_ticks(
        "nightly",
        [TickRecord(time.time() - 86400, "missed", detail="no engine was up")],
        Advance(watermark=time.time() - 86400, next_run=None),
    )
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("r")
        await until(pilot, lambda: bool(pane.schedules and pane.schedules[0].last_job))
        jobs = await svc.schedule_jobs("nightly")
        assert len(jobs) == 1 and jobs[0].schedule_id == "nightly"
        await wait_finished(svc, jobs[0].id)
        await until(pilot, lambda: pane.schedules[0].last_status == "succeeded")
        assert pane.table.row_text(0).startswith("✔ nightly")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        screen = app.screen
        job_table = screen.query_one("#schedule-jobs", LineTable)
        tick_table = screen.query_one("#schedule-ticks", LineTable)
        await until(pilot, lambda: job_table.row_count == 1 and tick_table.row_count == 1)
        assert f"{jobs[0].id} ✔ succeeded" in job_table.row_text(0)
        assert "⚠ missed" in tick_table.row_text(0)
        assert "no engine was up" in tick_table.row_text(0)
        summary = str(screen.query_one("#schedule-summary", Static).render())
        assert "schedule nightly" in summary
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ScheduleDetailsScreen))


async def test_edit_planning_previews_validates_and_saves(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await open_service(services, write_config)
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, EditPlanningScreen))
        dialog = app.screen
        assert isinstance(dialog, EditPlanningScreen)
        await pilot.pause()
        # "automatic" follows the config's cron: five fire times at 03:00.
        assert len(dialog.fire_times) == 5
        assert all(t.hour == 3 and t.minute == 0 for t in dialog.fire_times)
        dialog.query_one("#kind-interval", RadioButton).value = True
        await pilot.pause()
        assert dialog.kind == "interval"
        interval = dialog.query_one("#interval", Input)
        interval.value = "5x"
        await pilot.pause()
        assert dialog.error and "interval" in dialog.error
        error_text = str(dialog.query_one("#planning-error", Static).render())
        assert "interval" in error_text
        await pilot.press("ctrl+s")  # refused inline: the dialog stays
        await pilot.pause()
        assert app.screen is dialog
        interval.value = "5m"
        await pilot.pause()
        assert not dialog.error
        gaps = {
            (b - a).total_seconds()
            for a, b in zip(dialog.fire_times, dialog.fire_times[1:], strict=False)
        }
        assert gaps == {300.0}
        preview = str(dialog.query_one("#planning-preview", Static).render())
        assert "interval: 5m" in preview
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, EditPlanningScreen))
        assert (await svc.schedule("nightly")).planning == "interval: 5m"
        await until(pilot, lambda: "interval: 5m" in pane.table.row_text(0))


async def test_edit_planning_daily_days_and_times(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await open_service(services, write_config)
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, EditPlanningScreen))
        dialog = app.screen
        assert isinstance(dialog, EditPlanningScreen)
        dialog.query_one("#kind-daily", RadioButton).value = True
        await pilot.pause()
        for day in ("mon", "wed"):
            dialog.query_one(f"#day-{day}").value = True  # type: ignore[attr-defined]
        dialog.query_one("#times", Input).value = "09:00,17:30"
        await pilot.pause()
        assert dialog.planning_text() == "daily: mon,wed@09:00,17:30"
        assert {t.strftime("%a") for t in dialog.fire_times} <= {"Mon", "Wed"}
        assert {(t.hour, t.minute) for t in dialog.fire_times} <= {(9, 0), (17, 30)}
        dialog.query_one("#kind-once", RadioButton).value = True
        once = dialog.query_one("#once", Input)
        once.value = "2031-12-01T09:00"
        await pilot.pause()
        assert dialog.planning_text() == "once: 2031-12-01T09:00"
        assert [t.strftime("%Y-%m-%d %H:%M") for t in dialog.fire_times] == ["2031-12-01 09:00"]
        once.value = "next tuesday"
        await pilot.pause()
        assert dialog.error and dialog.fire_times == []
        dialog.query_one("#kind-disabled", RadioButton).value = True
        await pilot.pause()
        assert dialog.fire_times == [] and not dialog.error
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EditPlanningScreen))
        assert (await svc.schedule("nightly")).planning == "automatic"


def test_split_planning_prefills_the_form() -> None:
    assert split_planning("daily: mon-wed,fri@09:00") == (
        "daily",
        "",
        {"mon", "tue", "wed", "fri"},
        "09:00",
    )
    assert split_planning("cron: 0 3 * * *") == ("cron", "0 3 * * *", set(), "")
    assert split_planning("once: 2031-12-01T09:00") == ("once", "2031-12-01T09:00", set(), "")
    assert split_planning("automatic")[0] == "automatic"


async def test_non_admin_is_refused(services: Open, write_config: Callable[[str], Path]) -> None:
    path = write_config(CONFIG)
    admin = await services(path, engine=False)
    await admin.store.sync_schedules(schedule_specs(admin), list(admin.local_types))
    svc = await services(path, engine=False, user="bob")
    app = pane_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("p")
        await until(pilot, lambda: bool(app.refusals))
        assert "only admins" in app.refusals[0]
        assert (await svc.schedule("nightly")).enabled
