"""Pilot tests of the dashboard's filter bar (`/`): the query applied as typed, and keys
typed faster than the screen draws (a fast typist, `tmux send-keys`) kept in order.

A real SQLite store in tmp_path, with deterministic jobs (see app_harness), no engine.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from textual import events

from jobdash.core.query import parse_query
from jobdash.tui.app import JobdashApp
from jobdash.tui.widgets.filter_bar import FilterBar
from jobdash.tui.widgets.job_table import JobTable
from tests.tui.test_app import SIZE, Open, loaded, make_app


async def test_filter_bar(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        bar = app.screen.query_one(FilterBar)
        assert not bar.display
        await pilot.press("slash")
        assert bar.display and bar.input.has_focus
        await pilot.press(*"type:import")
        running, done = dash.table("inprogress"), dash.table("completed")
        assert [j.id for j in running.rows] == [8, 6]
        assert [j.id for j in done.rows] == [4, 1]
        assert str(dash.tabs.get_tab("inprogress").label) == "In Progress (2 of 4)"
        assert str(dash.tabs.get_tab("completed").label) == "Completed (2 of 5)"

        # An invalid query: one line of error, the last valid filter stays.
        bar.input.value = "type:import status:bogus"
        await pilot.pause()
        assert "unknown status 'bogus'" in bar.error
        assert [j.id for j in running.rows] == [8, 6]

        # enter keeps the filter and goes back to the table.
        bar.input.value = "-user:alice"
        await pilot.pause()
        assert bar.error == ""
        assert [j.id for j in running.rows] == [7]
        await pilot.press("enter")
        assert running.has_focus and bar.display

        # esc (from the table) clears it and closes the bar.
        await pilot.press("escape")
        assert not bar.display
        assert running.shown_count == 4
        assert str(dash.tabs.get_tab("inprogress").label) == "In Progress (4)"

        # esc in the bar does the same.
        await pilot.press("slash", *"status:failed")
        assert done.shown_count == 1
        await pilot.press("escape")
        assert not bar.display and done.shown_count == 5 and running.has_focus


KEY_NAMES = {"/": "slash", ":": "colon", "\r": "enter"}


def read_at_once(app: JobdashApp, typed: str) -> None:
    """Keys as a terminal delivers those read at once: all queued before the first runs."""
    for char in typed:
        app.post_message(events.Key(KEY_NAMES.get(char, char), char))


async def test_keys_typed_right_after_slash_go_into_the_filter(open_service: Open) -> None:
    """`/` then text typed (or pasted) before the bar could take the focus: every key after
    `/` is the filter's, none is the table's (`s` sorted it, `c` asked to cancel)."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        done = dash.table("completed")
        await pilot.press("2")
        sort_before = (done.sort_column, done.sort_reverse)
        read_at_once(app, "/stat")
        await pilot.pause()
        bar = app.screen.query_one(FilterBar)
        assert bar.input.value == "stat"
        assert (done.sort_column, done.sort_reverse) == sort_before


@pytest.mark.parametrize("opened", [False, True], ids=["slash-in-the-same-read", "bar-open"])
async def test_a_key_typed_right_after_enter_is_the_tables_not_the_filters(
    open_service: Open, opened: bool
) -> None:
    """`/type:import⏎s` read at once (a fast typist, `tmux send-keys`): the filter is
    "type:import", and `s` sorts the table (it used to land in the field, making the filter
    "type:imports", which matches nothing). The same with the bar already open."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        done = dash.table("completed")
        await pilot.press("2")
        if opened:
            await pilot.press("slash")
        sort_before = (done.sort_column, done.sort_reverse)
        read_at_once(app, ("" if opened else "/") + "type:import\rs")
        await pilot.pause()
        await pilot.pause()
        bar = app.screen.query_one(FilterBar)
        assert bar.input.value == "type:import" and bar.display
        assert done.has_focus
        assert [j.id for j in done.rows] == [4, 1]
        assert (done.sort_column, done.sort_reverse) != sort_before


async def test_a_tab_key_then_slash_read_at_once_filter_that_tab(open_service: Open) -> None:
    """`2/status:failed` read at once: the Completed tab shows, filtered."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        read_at_once(app, "2/status:failed")
        await pilot.pause()
        await pilot.pause()
        bar = app.screen.query_one(FilterBar)
        assert dash.tabs.active == "completed"
        assert bar.input.value == "status:failed" and bar.input.has_focus
        assert dash.table("completed").shown_count == 1


async def test_slash_on_a_tab_without_a_filter_says_so(open_service: Open) -> None:
    """On the Scheduled and Agents tabs `/` opens nothing and says that tab has no filter:
    ignored, it let the words typed after it run the tab's keys unseen (`/exp`: `p`
    disabled a schedule)."""
    svc = await open_service()
    app = make_app(svc)
    said: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.notify = lambda message, **_: said.append(str(message))  # type: ignore[method-assign]
        for tab, title in (("3", "Scheduled"), ("4", "Agents")):
            await pilot.press(tab, "slash")
            await pilot.pause()
            assert said[-1] == (
                f"The {title} tab has no filter (/ narrows In Progress, Completed, Failures)"
            )
            assert not app.screen.query_one(FilterBar).display
        await pilot.press("2", "slash")
        await pilot.pause()
        assert app.screen.query_one(FilterBar).display


async def test_filter_since_uses_app_clock(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2", "slash", *"since:1h")
        # Created within the hour before the frozen NOW: only job 5 (-3600) of the finished.
        assert [j.id for j in dash.table("completed").rows] == [5]


async def test_filter_keys_typed_faster_than_filtering_apply_once(
    open_service: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys that reach the input while earlier ones wait to be applied filter the tables
    once, for the newest text: each pass over 100,000 rows would delay the last key."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        running, done = dash.table("inprogress"), dash.table("completed")
        calls: list[bool] = []
        real = JobTable.set_filter

        def counting(table: JobTable, *args: Any, **kwargs: Any) -> None:
            calls.append(table is done)
            real(table, *args, **kwargs)

        monkeypatch.setattr(JobTable, "set_filter", counting)
        await pilot.press("slash")
        bar = app.screen.query_one(FilterBar)
        # Every change posts its own Input.Changed; none is handled before the last one.
        # "type:" alone is invalid: skipped, it must not leave an error behind.
        for text in ("t", "ty", "type:", "type:i", "type:im", "type:import"):
            bar.input.value = text
        await pilot.pause()
        assert calls == [False, True]  # one pass per table
        assert bar.error == "" and bar.query_text == "type:import"
        assert [j.id for j in running.rows] == [8, 6]
        assert [j.id for j in done.rows] == [4, 1]
        assert str(dash.tabs.get_tab("inprogress").label) == "In Progress (2 of 4)"
        assert str(dash.tabs.get_tab("completed").label) == "Completed (2 of 5)"

        # Typed and erased again before it was applied: the filter in force stays.
        calls.clear()
        bar.input.value = "type:import-"
        bar.input.value = "type:import"
        await pilot.pause()
        assert calls == []
        assert [j.id for j in done.rows] == [4, 1]


async def test_filter_narrowing_shows_exactly_the_matching_rows(open_service: Open) -> None:
    """Typing on filters the rows already shown; every other change filters all rows
    again. After each step both tables hold exactly the jobs the query matches, in
    order, whichever way they were computed (and with a job arriving in between)."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        tables = [dash.table("inprogress"), dash.table("completed")]
        extra = replace(tables[1].rows[0], id=99, type="import-files", info="late", rev=10**6)
        await pilot.press("slash")
        bar = app.screen.query_one(FilterBar)
        steps = [
            "i",
            "im",
            "import",  # narrows
            "import a",  # a word added: narrows
            "import",  # a word removed: widens
            "imp",  # backspace: widens
            "status:failed",
            "status:failed status:cancelled",  # a second status widens (OR)
            "status:failed status:cancelled -user:alice",
            "status:failed status:cancelled -user:al",  # user is exact: widens
            "-user:alice",
            "e",
            "ex",
            "e -x",
            "e",  # a negated word removed: widens
            "",
        ]
        for n, text in enumerate(steps):
            bar.input.value = text
            await pilot.pause()
            if n == 2:
                dash.upsert([extra])  # arrives while "import" is in force; matches it
            query = parse_query(text)
            now = app.clock()
            for table in tables:
                every = sorted(
                    (j for j in (table.get_job(i) for i in range(1, 100)) if j is not None),
                    key=lambda j: j.id,
                    reverse=True,
                )
                expected = [j.id for j in every if query.matches(j, now)]
                assert [j.id for j in table.rows] == expected, (text, table.id)
