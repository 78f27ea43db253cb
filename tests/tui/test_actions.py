"""One set of job actions (jobdash.tui.actions) for every screen: the same pre-checks,
questions and refusals, in the service's words, wherever the key is pressed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import wait_finished
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]


async def test_the_details_screen_refuses_cancelling_a_finished_job_without_asking(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """As on the dashboard: no question whose yes could only be refused."""
    svc = await services(write_config(CONFIG))
    job = await wait_finished(svc, (await svc.submit("quick")).id)
    app = PaneApp(svc, screen=lambda: JobDetailsScreen(svc, job.id))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.job is not None)
        for n, key in enumerate(("c", "C"), 1):
            await pilot.press(key)
            await until(pilot, lambda n=n: len(app.refusals) == n)  # type: ignore[misc]
            assert not isinstance(app.screen, ConfirmScreen)
        assert all("succeeded" in refusal for refusal in app.refusals), app.refusals


async def test_read_only_schedule_actions_are_refused_in_the_services_words(
    services: Open, write_config: Callable[[str], Path], db_path: Path
) -> None:
    config = write_config(CONFIG)
    svc = await services(config, engine=False)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    viewer = await Service.open(db=str(db_path), config=str(config), user="root", read_only=True)
    try:
        app = PaneApp(viewer, widget=lambda: SchedulesPane(viewer))
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(SchedulesPane)
            await until(pilot, lambda: pane.table.row_count == 1)
            pane.table.focus()
            for n, key in enumerate(("r", "p", "E"), 1):
                await pilot.press(key)
                await until(pilot, lambda n=n: len(app.refusals) == n)  # type: ignore[misc]
                assert not isinstance(app.screen, EditPlanningScreen)
            assert app.refusals == [
                "read-only: cannot run a schedule",
                "read-only: cannot disable a schedule",
                "read-only: cannot change a schedule",
            ]
        assert (await svc.schedule("nightly")).enabled
        assert not await svc.jobs()
    finally:
        await viewer.close()
