"""Pilot tests of unread logs in the dashboard, on a real SQLite file: the job tables' marks,
opening a log clears its mark and new lines bring it back, the marks survive a restart of
the app, `u` goes to the next job with unread errors, and the Scheduled tab marks a
schedule's latest run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import Unread
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.job_table import JobTable
from jobdash.tui.widgets.line_table import Cell
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import wait_finished
from tests.tui.app_harness import screen_text
from tests.tui.pane_harness import CONFIG as PANE_CONFIG
from tests.tui.pane_harness import PaneApp
from tests.tui.pane_harness import until as pane_until
from tests.tui.test_app import SIZE, loaded, make_app, messages, until

# The dashboard tests' store (app_harness's jobs on a SQLite file) and services on it are
# tests/tui/conftest.py's fixtures: config, db, open_service.

Open = Callable[..., Awaitable[Service]]
# A running job's output as an agent writes it: a line, a warning, an error.
OUTPUT = [
    ("stdout", "reading b.csv"),
    ("stderr", "warning: 2 rows skipped"),
    ("stderr", "b.csv: bad date"),
]


async def write(svc: Service, job_id: int, lines: list[tuple[str, str]]) -> None:
    for stream, text in lines:
        await svc.store.append_log(job_id, None, stream, text)
    await svc.store.flush()


def row_text(table: JobTable, job_id: int) -> str:
    """The job's row as the table draws it."""
    position = table._model.index[job_id]
    return table._render_row(position, table.size.width, False).text


async def test_open_the_log_and_its_mark_clears_new_lines_bring_it_back(
    open_service: Open,
) -> None:
    agent = await open_service()  # writes job 6's output, as its agent would
    await write(agent, 6, OUTPUT)
    app = make_app(await open_service())
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        running = dash.table("inprogress")
        assert running.get_job(6).unread == Unread(3, 1, 1)  # type: ignore[union-attr]
        assert "●3 ⚠1 ✘1" in row_text(running, 6)
        assert "●" not in row_text(running, 7)  # no output: nothing to read

        running.select_job(6)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: len(screen.log_view.lines) == 3)
        header = str(screen.header.render())
        assert "●3 ⚠1 ✘1  3 unread lines: 1 warning, 1 error when opened" in header
        # The pane shows every line: within a second they are read, and the feed says so.
        await until(pilot, lambda: running.get_job(6).unread is None)  # type: ignore[union-attr]
        await pilot.press("q")
        assert "●" not in row_text(running, 6)

        await write(agent, 6, [("stderr", "c.csv: gone"), ("stdout", "reading d.csv")])
        await until(pilot, lambda: running.get_job(6).unread == Unread(2, 0, 1))  # type: ignore[union-attr]
        assert "●2 ✘1" in row_text(running, 6)


async def marked_lines(pilot: object, svc: Service, lines: int) -> None:
    """Wait until alice's one mark (of job 6) counts `lines` lines read."""
    for _ in range(200):
        marks = await svc.store.read_marks("alice")
        if marks and marks[0].lines == lines:
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError(f"marks: {await svc.store.read_marks('alice')}")


async def test_lines_scrolled_up_from_stay_unread_until_shown(open_service: Open) -> None:
    agent = await open_service()
    await write(agent, 6, [("stdout", f"line {n}") for n in range(5)])
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.open_details(6)
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await marked_lines(pilot, svc, 5)  # following: every line shown is read
        await pilot.press("f")  # following paused (as scrolling up does)
        assert not screen.log_view.following
        await write(agent, 6, [("stdout", f"more {n}") for n in range(200)])
        await until(pilot, lambda: len(screen.log_view.lines) == 205)
        await pilot.pause(1.5)  # a look or two at what is on screen
        marks = await svc.store.read_marks("alice")
        # Read through the bottom of the view: the lines below it, and the new ones, not.
        assert marks[0].seq == screen.log_view.last_shown_seq()
        assert 5 <= marks[0].lines < 100
        assert screen.query_one("#log-footer").display  # "following paused — N new lines"
        await pilot.press("end")  # following again: to the end, every line read
        await marked_lines(pilot, svc, 205)


async def test_a_finished_jobs_long_lines_are_read_at_80_columns(open_service: Open) -> None:
    """Lines wider than the pane bring a horizontal scrollbar: the last line stays above it
    on opening (as `less +G` shows it), so it is read, and the mark clears (the walk-through
    found it hidden under the scrollbar, and unread, at 80x24)."""
    agent = await open_service()
    path = "/srv/incoming/2026-11/" + "batch" * 12
    await write(agent, 2, [("stdout", f"imported {n} rows from {path}-{n}.csv") for n in range(30)])
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await loaded(pilot)
        assert dash.table("completed").get_job(2).unread == Unread(30, 0, 0)  # type: ignore[union-attr]
        app.open_details(2)
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.is_mounted and len(screen.log_view.lines) == 30)
        lines = screen.log_view.lines_view
        await until(pilot, lambda: lines.show_horizontal_scrollbar)
        await pilot.pause(0.2)
        assert "imported 29 rows" in screen_text(app)  # the last line, on screen
        assert lines.scroll_y == lines.max_scroll_y
        await marked_lines(pilot, svc, 30)
        await until(pilot, lambda: dash.table("completed").get_job(2).unread is None)  # type: ignore[union-attr]


async def test_marks_survive_a_restart_of_the_app(db: Path, config: Path) -> None:
    first = await Service.open(db=str(db), config=str(config), user="alice")
    await write(first, 6, OUTPUT)
    await write(first, 2, OUTPUT)
    app = make_app(first)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        app.open_details(6)
        await until(pilot, lambda: dash.table("inprogress").get_job(6).unread is None)  # type: ignore[union-attr]
    await first.close()

    again = await Service.open(db=str(db), config=str(config), user="alice")
    try:
        app = make_app(again)
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            assert dash.table("inprogress").get_job(6).unread is None  # type: ignore[union-attr]
            assert "●" not in row_text(dash.table("inprogress"), 6)
            assert dash.table("completed").get_job(2).unread == Unread(3, 1, 1)  # type: ignore[union-attr]
    finally:
        await again.close()


async def test_u_goes_to_the_next_job_with_unread_errors(open_service: Open) -> None:
    agent = await open_service()
    await write(agent, 4, OUTPUT)
    await write(agent, 3, [("stderr", "warning: only a warning")])  # no error: passed over
    await write(agent, 2, [("stderr", "boom")])
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2")
        done = dash.table("completed")
        assert [j.id for j in done.rows] == [5, 4, 3, 2, 1]
        seen = []
        for _ in range(3):
            await pilot.press("u")
            seen.append(done.cursor_job.id)  # type: ignore[union-attr]
        assert seen == [4, 2, 4]  # and round again

        for job_id in (4, 2):
            await svc.mark_read(job_id, (await svc.logs(job_id))[-1].seq)
        await until(pilot, lambda: done.get_job(2).unread is None)  # type: ignore[union-attr]
        await until(pilot, lambda: done.get_job(4).unread is None)  # type: ignore[union-attr]
        await pilot.press("u")
        assert done.cursor_job.id == 4  # type: ignore[union-attr]
        assert "No job with unread errors here" in messages(app)


async def test_the_scheduled_tab_marks_the_latest_run(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(PANE_CONFIG))
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    job = await svc.run_schedule_now("nightly")
    await wait_finished(svc, job.id)
    app = PaneApp(svc, widget=lambda: SchedulesPane(svc))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SchedulesPane)
        await pane_until(pilot, lambda: pane.table.row_count == 1)
        await pane_until(pilot, lambda: pane.table.rows[0].cells[-1] == Cell("●1", "accent"))
        assert pane.table.row_text(0).rstrip().endswith("●1")  # in the `new` column
        await svc.mark_read(job.id, (await svc.logs(job.id))[-1].seq)
        await pane_until(pilot, lambda: pane.table.rows[0].cells[-1] == Cell("", "dim"))
