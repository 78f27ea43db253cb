"""Pilot tests of the Completed tab as a window onto a long history (window_table.py).

A real SQLite store of finished jobs written with SQL (ids 1..N, alternating users and
types, a unique word in each info), beside the harness's small one; the dashboard is told
that a history of more than 50 jobs is long, so a few hundred rows exercise what a million
would: pages read as they come into view, the count and every filter answered by the store,
the end key reading the oldest page from the far end.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.model import Job
from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.tui import first_rows
from jobdash.tui.app import JobdashApp
from jobdash.tui.screens import dashboard as dashboard_module
from jobdash.tui.screens import dashboard_rows
from jobdash.tui.widgets import job_window
from jobdash.tui.widgets.filter_bar import FilterBar
from jobdash.tui.widgets.window_table import JobWindowTable
from tests.tui.app_harness import NOW, build_store, finish_behind, frozen, write_config
from tests.tui.test_app import loaded, until

SIZE = (120, 40)
N = 600
USERS = ("alice", "bob", "carol")
TYPES = ("import-files", "export-report", "rebuild-index")


def seed(db: Path, n: int = N) -> None:
    """`n` finished jobs after the harness's, one revision each (as written one by one)."""
    con = sqlite3.connect(db)
    with con:
        first = con.execute("SELECT max(id) FROM jobs").fetchone()[0] + 1
        rev = con.execute("SELECT rev FROM counter").fetchone()[0]
        con.executemany(
            "INSERT INTO jobs (id, type, params, user, trigger, status, created, updated, "
            "started, finished, succeeded, failed, progress, info, target, rev) "
            "VALUES (?, ?, ?, ?, 'manual', ?, ?, ?, ?, ?, 1, 0, 1, ?, '', ?)",
            [
                (
                    i,
                    TYPES[i % 3],
                    json.dumps({"source": f"/in/{i % 7}"}),
                    USERS[i % 3],
                    "failed" if i % 10 == 0 else "succeeded",
                    NOW - 86400 + i,
                    NOW - 86400 + i + 5,
                    NOW - 86400 + i + 1,
                    NOW - 86400 + i + 5,
                    f"word{i:05d} done",
                    rev + i,
                )
                for i in range(first, first + n)
            ],
        )
        con.execute("UPDATE counter SET rev = ?", (rev + first + n,))
    con.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "window.db"
    build_store(path, write_config(tmp_path))
    seed(path)
    return path


@pytest.fixture
async def svc(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setattr(dashboard_module, "WINDOW_ABOVE", 50)
    config = tmp_path / "jobdash.toml"
    service = await Service.open(db=str(db), config=str(config), user="alice")
    yield service
    await service.close()


def make_app(svc: Service) -> JobdashApp:
    return JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)


def title(app: JobdashApp) -> str:
    dash = app.screen_stack[0]
    assert isinstance(dash, dashboard_module.DashboardScreen)
    return str(dash.tabs.get_tab("completed").label)


async def completed_tab(pilot: Any) -> JobWindowTable:
    """The Completed tab, shown once the dashboard has loaded, its cursor on a row."""
    table = (await loaded(pilot)).completed
    await pilot.press("2")
    await until(pilot, lambda: table.cursor_job is not None)
    return table


async def test_a_long_history_is_a_window_with_the_stores_count(svc: Service) -> None:
    finished = await svc.count_finished(Query())
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        assert table.windowed
        await pilot.press("2")
        await until(pilot, lambda: title(app) == f"Completed ({finished})")
        await until(pilot, lambda: table.cursor_job is not None)
        newest = table.cursor_job
        assert newest is not None and newest.id == 9 + N  # the harness's 9 jobs, then N more
        # Only pages that came into view are held, never the history.
        assert 0 < len(table.rows) <= job_window.KEEP_PAGES * job_window.PAGE
        assert len(table.rows) < finished


async def test_end_jumps_to_the_oldest_job_and_home_back(svc: Service) -> None:
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        table = await completed_tab(pilot)
        await pilot.press("end")
        # The oldest finished job is the harness's job 1 (the active ones are 6 to 9).
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 1)
        assert table.cursor_row == table.shown_count - 1
        held = {job.id for job in table.rows}
        assert 2 in held and 300 not in held  # read from the far end, not through the middle
        await pilot.press("up")
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 2)
        await pilot.press("home")
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 9 + N)
        # Paging down through the window reads each page once, in order.
        ids = []
        for _ in range(8):
            await pilot.press("pagedown")
            await until(pilot, lambda: table.cursor_job is not None)
            assert table.cursor_job is not None
            ids.append(table.cursor_job.id)
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


async def test_free_word_and_field_filters_are_answered_by_the_store(svc: Service) -> None:
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        finished = await svc.count_finished(Query())
        await pilot.press("2", "slash", *"word00377")
        await until(pilot, lambda: title(app) == f"Completed (1 of {finished})")
        await until(pilot, lambda: table.cursor_job is not None)
        assert table.cursor_job is not None and table.cursor_job.id == 377
        bar = app.screen.query_one(FilterBar)
        bar.input.value = "user:bob status:failed"
        want = [j.id for j in await svc.jobs(Query.parse("user:bob status:failed"), active=False)]
        assert 0 < len(want) < 50
        await until(pilot, lambda: title(app) == f"Completed ({len(want)} of {finished})")
        await until(pilot, lambda: [j.id for j in table.rows] == want)
        # Free word and field together, the word short enough to need no index.
        bar.input.value = "type:export 7"
        want = [j.id for j in await svc.jobs(Query.parse("type:export 7"), active=False)]
        await until(pilot, lambda: title(app) == f"Completed ({len(want)} of {finished})")
        await until(pilot, lambda: [j.id for j in table.rows] == want[: len(table.rows)])
        await pilot.press("escape")
        await until(pilot, lambda: title(app) == f"Completed ({finished})")


def first_page_at_counts(table: JobWindowTable, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the window's first page was held, at each count the table announced."""
    held_at_count: list[bool] = []
    post = table.post_message

    def spy(message: Any) -> bool:
        if isinstance(message, JobWindowTable.Counted) and table.window is not None:
            held_at_count.append(0 in table.window.pages)
        return post(message)

    monkeypatch.setattr(table, "post_message", spy)
    return held_at_count


async def test_a_filter_key_draws_its_count_and_its_rows_in_one_frame(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new filter's count comes with the rows the view shows: when the tab's title gets
    the count, the rows under it are held, so that no frame shows the new count over blank
    rows (a frame more at each key)."""
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        await pilot.press("2")
        await until(pilot, lambda: table.windowed)
        held_at_count = first_page_at_counts(table, monkeypatch)
        finished = await svc.count_finished(Query())
        for text in ("user:bob", "word0037", "type:export 7"):
            held_at_count.clear()
            bar = app.screen.query_one(FilterBar)
            if not bar.display:
                await pilot.press("slash")
            bar.input.value = text
            want = await svc.count_finished(Query.parse(text))
            await until(pilot, lambda w=want: title(app) == f"Completed ({w} of {finished})")
            assert held_at_count and all(held_at_count), (text, held_at_count)


async def test_a_count_waits_for_the_pages_a_frame_asked_for_meanwhile(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame drawn while a filter's count is read asks for the rows it shows; when the
    count comes while they are read (a slow page, a busy machine), it waits for them: the
    count is still never shown over blank rows."""
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        table = await completed_tab(pilot)
        fetch, count = table._fetch, table._count
        reads: list[str] = []

        async def slow_fetch(*args: Any) -> Any:
            reads.append("page")
            await asyncio.sleep(0.4)
            return await fetch(*args)

        async def slow_count(*args: Any) -> Any:
            await asyncio.sleep(0.15)  # after a frame asked for the page, before it is read
            reads.append("count")
            return await count(*args)

        monkeypatch.setattr(table, "_fetch", slow_fetch)
        monkeypatch.setattr(table, "_count", slow_count)
        held_at_count = first_page_at_counts(table, monkeypatch)
        finished = await svc.count_finished(Query())
        await pilot.press("slash")
        app.screen.query_one(FilterBar).input.value = "user:bob"
        want = await svc.count_finished(Query.parse("user:bob"))
        await until(pilot, lambda: title(app) == f"Completed ({want} of {finished})")
        assert reads[:2] == ["page", "count"]  # the case: the page's read began first
        assert held_at_count and all(held_at_count), held_at_count


async def test_a_filter_key_announces_the_job_under_the_cursor_once_its_page_is_read(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a filter's first page is read, the row under the cursor is not known: the
    table says nothing until it is (not "no job", then the job), so the footer, greyed by
    the job under the cursor, is not redrawn twice a key."""
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        table = await completed_tab(pilot)
        said: list[int | None] = []
        post = table.post_message

        def record(message: Any) -> bool:
            if isinstance(message, JobWindowTable.Highlighted):
                said.append(message.key)  # type: ignore[attr-defined]
            return post(message)

        monkeypatch.setattr(table, "post_message", record)
        fetch = table._fetch
        pages: list[tuple[Any, ...]] = []

        async def slow_fetch(*args: Any) -> Any:  # a page of a long history takes a while
            pages.append(args)
            await asyncio.sleep(0.2)
            return await fetch(*args)

        monkeypatch.setattr(table, "_fetch", slow_fetch)
        await pilot.press("slash", *"word0037")  # every prefix matches some jobs
        want = [j.id for j in await svc.jobs(Query.parse("word0037"), active=False)]
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == want[0])
        await pilot.pause(0.3)
        assert pages  # the pages were read (slowly) while the keys came
        assert None not in said, said
        assert said[-1] == want[0]


async def test_a_large_filtered_count_says_more_than_and_end_counts_it(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_window, "CAP", 100)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        finished = await svc.count_finished(Query())
        want = await svc.count_finished(Query.parse("user:carol"))
        assert want > 100
        await pilot.press("2", "slash", *"user:carol", "enter")
        await until(pilot, lambda: title(app) == f"Completed (100+ of {finished})")
        await pilot.press("end")
        await until(pilot, lambda: title(app) == f"Completed ({want} of {finished})")
        oldest = min(j.id for j in await svc.jobs(Query.parse("user:carol"), active=False))
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == oldest)


async def test_a_capped_count_landing_after_the_exact_one_does_not_undo_it(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end key's exact count and the capped count of a pause in typing run side by
    side; when the capped one comes back last, the window keeps the exact count (CI once
    saw "100+" again, and the cursor left at the top, after the end key)."""
    monkeypatch.setattr(job_window, "CAP", 100)
    query = Query.parse("user:carol")
    want = await svc.count_finished(query)
    assert want > 100
    window = job_window.JobWindow()
    window.query = query
    exact_done = asyncio.Event()

    async def count(q: Query, cap: int | None, indexed: bool) -> int:
        if cap is not None:  # the capped count answers only after the exact one
            await exact_done.wait()
        return await svc.count_finished(q, cap, indexed)

    capped = asyncio.create_task(window.recount(count, cap=100))
    await asyncio.sleep(0)
    assert await window.recount(count, exact=True)
    exact_done.set()
    assert await capped
    assert (window.exact, window.total, window.count_text()) == (True, want, str(want))
    # A new query (or sort, or data) is counted afresh: capped again.
    window.reset()
    assert await window.recount(count, cap=100)
    assert (window.exact, window.count_text()) == (False, "100+")


async def test_a_job_finishing_is_counted_and_shown(svc: Service, tmp_path: Path) -> None:
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        finished = await svc.count_finished(Query())
        await pilot.press("2")
        await until(pilot, lambda: title(app) == f"Completed ({finished})")
        # Job 8 (running) finishes behind the dashboard's back: it joins the window.
        finish_behind(tmp_path / "window.db", 8)
        await until(pilot, lambda: title(app) == f"Completed ({finished + 1})")
        await pilot.press("end")  # among the oldest, by id: 1 to 5, then 8
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 1)
        await pilot.press(*["up"] * 5)
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 8)
        assert dash.table("inprogress").get_job(8) is None
        assert isinstance(table, JobWindowTable)


async def test_a_history_held_whole_is_read_in_pages_and_all_of_it_shown(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the window's size the history is held whole, read a page at a time (so that
    another read waits for a page, not the whole history): every job once, newest first."""
    whole = [job.id for job in await svc.jobs(active=False, limit=None)]
    assert len(whole) > 600
    paged = [job.id for job in await first_rows.read_history(svc, page=7)]
    assert paged == whole
    exact = [job.id for job in await first_rows.read_history(svc, page=len(whole))]
    assert exact == whole  # a last page that is exactly full ends the reading too
    go = asyncio.Event()  # cleared: the reading waits (another tab is in front)
    waiting = asyncio.create_task(first_rows.read_history(svc, page=7, go=go))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    go.set()
    assert [job.id for job in await waiting] == whole
    monkeypatch.setattr(dashboard_module, "WINDOW_ABOVE", 10_000)
    monkeypatch.setattr(first_rows, "HISTORY_PAGE", 50)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.completed
        assert not table.windowed
        assert [job.id for job in table.rows] == whole
        await pilot.press("2")
        await until(pilot, lambda: title(app) == f"Completed ({len(whole)})")
        # Another tab in front holds the history's reading back; a job table lets it go.
        assert dash.history_wanted.is_set()
        await pilot.press("5")
        await until(pilot, lambda: not dash.history_wanted.is_set())
        await pilot.press("1")
        await until(pilot, lambda: dash.history_wanted.is_set())


async def test_changes_are_shown_while_the_history_loads(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that finishes while the history is still being read leaves In Progress at
    once (the tabs' counts follow), and is among the finished jobs once the history is in."""
    monkeypatch.setattr(dashboard_module, "WINDOW_ABOVE", 10_000)
    release = asyncio.Event()
    real_read = dashboard_rows.read_history

    async def slow_history(*args: Any, **kwargs: Any) -> list[Job]:
        await release.wait()  # the history is "still loading" until the test says
        return await real_read(*args, **kwargs)

    monkeypatch.setattr(dashboard_rows, "read_history", slow_history)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = app.screen_stack[0]
        assert isinstance(dash, dashboard_module.DashboardScreen)
        running = dash.table("inprogress")
        await until(pilot, lambda: running.get_job(8) is not None)
        finish_behind(tmp_path / "window.db", 8)
        await until(pilot, lambda: running.get_job(8) is None)
        assert not dash.loaded  # shown before the history came
        assert dash.completed.get_job(8) is not None
        release.set()
        await until(pilot, lambda: dash.loaded)
        assert running.get_job(8) is None
        done = dash.completed.get_job(8)
        assert done is not None and done.status.finished
