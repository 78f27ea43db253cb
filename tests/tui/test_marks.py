"""Marks and actions on every marked row: `space` marks (and the cursor moves down), `escape`
unmarks; with marks, `c` `C` `p` `R` `x` on the job tables and `r` `p` on the Scheduled tab
act on all the marked rows after one question naming the counts, skip what they cannot apply
to (said, not an error), leave the unmarked rows alone, and the marks go. Without marks the
keys act on the cursor row, as they always did.

The dashboard's store is app_harness's (jobs 1–9, no engine unless a test starts one): In
Progress shows 9 queued (rebuild-index, not cancellable), 8 waiting, 7 paused, 6 running;
Completed 5 succeeded, 4 cancelled, 3 warning, 2 failed, 1 succeeded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from jobdash.core.model import JobStatus
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.screens.dashboard import DashboardScreen as Dash
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import wait_finished
from tests.test_cli_several import SCHEDULED
from tests.tui.app_harness import finish_behind, screen_text
from tests.tui.conftest import Open
from tests.tui.pane_harness import SIZE, PaneApp
from tests.tui.pane_harness import until as pane_until
from tests.tui.test_app import errors, job_status, loaded, make_app, messages, until


@asynccontextmanager
async def dashboard(svc: Service, **kwargs: Any) -> AsyncIterator[tuple[JobdashApp, Any, Dash]]:
    """The dashboard on `svc` (app_harness's store, a frozen clock), its jobs loaded."""
    app = make_app(svc, **kwargs)
    async with app.run_test(size=SIZE) as pilot:
        yield app, pilot, await loaded(pilot)


async def requests(svc: Service, job_id: int) -> list[str]:
    """What the audit trail says was asked of a job, the newest first."""
    return [e.action for e in await svc.store.audit_events(f"job:{job_id}")]


async def asked(pilot: object, app: object) -> str:
    """The question of the confirmation that opens."""
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # type: ignore[attr-defined]
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ConfirmScreen)
    return screen.question


async def said_yes(pilot: Any, app: JobdashApp, keys: str, question: str, toast: str) -> None:
    """Press `keys`: one confirmation asks `question`; on yes, one toast says `toast`."""
    await pilot.press(*keys.split())
    assert await asked(pilot, app) == question
    await pilot.press("y")
    await until(pilot, lambda: toast in messages(app))


async def test_cancel_acts_on_exactly_the_marked_jobs_after_one_question(
    open_service: Open,
) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        table = dash.table("inprogress")
        # 9 and 8 marked (space moves down), 7 passed over, 6 marked.
        await pilot.press("space", "space", "down", "space")
        assert list(dash.marks.items) == [9, 8, 6]
        assert [table.is_marked(i) for i in (9, 8, 7, 6)] == [True, True, False, True]
        await pilot.pause()
        text = screen_text(app)
        assert "◆ 3 jobs marked: c R p x act on all of them, esc unmarks" in text
        rows = text.splitlines()
        marked = next(line for line in rows if "reading b.csv" in line)  # job 6
        unmarked = next(line for line in rows if "paused by bob" in line)  # job 7
        assert marked.lstrip().startswith("◆ ") and not unmarked.lstrip().startswith("◆")

        await said_yes(
            pilot,
            app,
            "c",
            "Cancel 2 jobs? (1 waiting, 1 running; skipped: 1 not cancellable)",
            "Cancelling 2 jobs; skipped: 1 not cancellable",
        )
        assert not errors(app)
        for job_id, status in {9: "queued", 8: "cancelled", 7: "paused", 6: "cancelling"}.items():
            assert str(await job_status(svc, job_id)) == status, job_id
        for job_id in (9, 7):  # unmarked or skipped: no request was made
            assert await requests(svc, job_id) == ["run"]
        assert await requests(svc, 8) == ["cancel", "run"]
        assert not dash.marks  # gone after the action
        await until(pilot, lambda: "marked" not in screen_text(app))


async def test_without_marks_the_keys_act_on_the_cursor_row(open_service: Open) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("space", "up", "space", "space")  # 9 marked, unmarked; 8 marked
        assert list(dash.marks.items) == [8]
        await pilot.press("escape")  # no filter in use: the marks go
        assert not dash.marks
        await pilot.press("up", "c")  # back on job 8
        assert await asked(pilot, app) == "Cancel job 8 (import-files /srv/in/2026-11)?"
        await pilot.press("n")
        await pilot.press("p")  # pause has no question on one job
        await until(pilot, lambda: any("Paused job 8" in m for m in messages(app)))
        assert await job_status(svc, 8) is JobStatus.PAUSED
        assert await job_status(svc, 9) is JobStatus.QUEUED


async def test_marks_survive_filters_and_refreshes(open_service: Open, db: Path) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("down", "space", "down", "space")  # 8 and 6
        assert list(dash.marks.items) == [8, 6]
        await pilot.press("slash", *"type:rebuild", "enter")
        await until(pilot, lambda: [j.id for j in dash.table("inprogress").rows] == [9])
        assert list(dash.marks.items) == [8, 6]
        await until(pilot, lambda: "(2 hidden by the filter)" in screen_text(app))

        finish_behind(db, 6)  # it moves to Completed, and stays marked
        await until(pilot, lambda: dash.table("completed").get_job(6) is not None)
        assert list(dash.marks.items) == [8, 6]
        assert dash.marks.items[6].status is JobStatus.SUCCEEDED  # as it is now
        await until(
            pilot,
            lambda: "2 jobs marked (1 in Completed, 1 hidden by the filter)" in screen_text(app),
        )

        await pilot.press("escape")  # the filter first
        await until(pilot, lambda: dash.table("inprogress").shown_count == 3)
        assert list(dash.marks.items) == [8, 6]
        await pilot.press("escape")  # then the marks
        assert not dash.marks


async def test_pause_then_resume_marked_jobs(open_service: Open) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("space", "space", "space")  # 9 queued, 8 waiting, 7 paused
        await said_yes(
            pilot,
            app,
            "p",
            "Pause 2 jobs? (1 queued, 1 waiting; skipped: 1 already paused)",
            "Paused 2 jobs; skipped: 1 already paused",
        )
        assert [await job_status(svc, i) for i in (9, 8, 7, 6)] == [
            JobStatus.PAUSED,
            JobStatus.PAUSED,
            JobStatus.PAUSED,
            JobStatus.RUNNING,
        ]
        # All three paused now: p resumes them.
        await said_yes(
            pilot,
            app,
            "home space space space p",
            "Resume 3 jobs? (3 paused)",
            "Resumed 3 jobs",
        )
        assert JobStatus.PAUSED not in [await job_status(svc, i) for i in (9, 8, 7)]
        assert not dash.marks


async def test_clear_marked_finished_jobs_across_the_tabs(open_service: Open) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("2", "space", "space")  # 5 and 4, finished
        await pilot.press("1", "space")  # 9, queued
        await until(pilot, lambda: "(2 in Completed)" in screen_text(app))
        await said_yes(
            pilot,
            app,
            "x",
            "Clear 2 jobs? (1 succeeded, 1 cancelled; skipped: 1 unfinished)",
            "Cleared 2 jobs; skipped: 1 unfinished",
        )
        assert sorted(j.id for j in await svc.jobs()) == [1, 2, 3, 6, 7, 8, 9]
        await until(pilot, lambda: dash.table("completed").total_count == 3)


async def test_retry_marked_failed_jobs(open_service: Open) -> None:
    svc = await open_service()
    await svc.start_engine(slots=2)
    flaky = [(await svc.submit("flaky")).id for _ in range(2)]
    for job_id in flaky:
        await wait_finished(svc, job_id)
    async with dashboard(svc, clock=time.time) as (app, pilot, dash):
        completed = dash.table("completed")
        await pilot.press("2")
        for job_id in (*flaky, 5):  # 5 succeeded: nothing to retry
            assert completed.select_job(job_id)
            await pilot.press("space")
        await pilot.press("R")
        assert (
            await asked(pilot, app) == "Retry 2 jobs? (2 failed; skipped: 1 without failed tasks)"
        )
        await pilot.press("y")
        await until(
            pilot,
            lambda: "Retrying 2 jobs (2 tasks); skipped: 1 without failed tasks" in messages(app),
        )
        for job_id in flaky:
            assert "retry" in await requests(svc, job_id)
        assert await requests(svc, 5) == ["run"]


async def test_nothing_marked_applies_says_so_without_a_question(open_service: Open) -> None:
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("2", "space", "space", "R")  # 5 succeeded, 4 cancelled → 4 retriable
        assert (
            await asked(pilot, app) == "Retry 1 job? (1 cancelled; skipped: 1 without failed tasks)"
        )
        await pilot.press("n")
        await pilot.press("escape", "home", "space", "c")  # 5 alone: finished
        await until(pilot, lambda: "No marked job to cancel: 1 finished" in messages(app))
        assert not isinstance(app.screen, ConfirmScreen)
        assert list(dash.marks.items) == [5]  # kept: nothing was done


async def test_read_only_marks_are_refused_in_the_services_words(open_service: Open) -> None:
    svc = await open_service(read_only=True)
    async with dashboard(svc) as (app, pilot, _):
        await pilot.press("space", "space", "c")
        await until(pilot, lambda: bool(errors(app)))
        assert not isinstance(app.screen, ConfirmScreen)
        assert errors(app) == ["read-only: cannot cancel"]
        assert await job_status(svc, 8) is JobStatus.WAITING


async def test_scheduled_tab_runs_and_disables_the_marked_schedules(
    services: Callable[..., Awaitable[Service]], write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config('[jobdash]\nadmins = ["root"]\n' + SCHEDULED), engine=False)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    app = PaneApp(svc, widget=lambda: SchedulesPane(svc))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await pane_until(pilot, lambda: pane.table.row_count == 3)
        pane.table.focus()
        order = [row.key for row in pane.table.rows]
        await pilot.press("space", "down", "space")  # the first and the third
        marked = [order[0], order[2]]
        assert list(pane.marks.items) == marked
        await pane_until(pilot, lambda: "2 schedules marked: r p act on all" in screen_text(app))

        await pilot.press("r")
        await pane_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Run 2 schedules now?"  # type: ignore[attr-defined]
        await pilot.press("y")
        said = f"Started 2 jobs (schedules {marked[0]}, {marked[1]})"
        await pane_until(pilot, lambda: any(said in str(n.message) for n in app._notifications))
        assert sorted(j.schedule_id or "" for j in await svc.jobs()) == sorted(marked)
        assert not pane.marks

        # p disables the marked ones; with one already disabled it is skipped, said so.
        await pilot.press("home", "space", "space", "p")
        await pane_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Disable 2 schedules?"  # type: ignore[attr-defined]
        await pilot.press("y")
        await pane_until(pilot, lambda: not pane.marks)
        states = {s.id: s.enabled for s in await svc.schedules()}
        assert states == {order[0]: False, order[1]: False, order[2]: True}
        await pilot.press("home", "space", "down", "space", "p")  # 1st disabled, 3rd enabled
        await pane_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question  # type: ignore[attr-defined]
        assert question == "Disable 1 schedule? (skipped: 1 already disabled)"


async def test_help_lists_the_mark_keys(open_service: Open) -> None:
    """`?` lists `space`, and `esc` as "Unmark all" while rows are marked (escape clears the
    filter first when one is in use)."""
    from jobdash.tui.screens.help import HelpScreen

    svc = await open_service()
    async with dashboard(svc) as (app, pilot, _):
        await pilot.press("space", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        by_id = {e.binding_id: e for e in app.screen.entries}  # type: ignore[attr-defined]
        assert (by_id["job.mark"].group, by_id["job.mark"].description) == ("Jobs", "Mark/unmark")
        assert by_id["job.unmark"].description == "Unmark all"
