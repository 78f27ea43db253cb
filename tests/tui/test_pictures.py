"""The dashboard's pictures on a seeded store (a real SQLite file): each says the numbers
the store holds, and `v` shows them as text (and back), on every screen that has one.

What each picture must say is computed here from the seed (`picture_harness`), by hand,
not by the code that draws it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from jobdash.present.durations import duration
from jobdash.tui.app import JobdashApp
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from jobdash.tui.widgets.agents_pane import AgentsPane, text_sparkline
from jobdash.tui.widgets.chart import Chart
from tests.tui.app_harness import screen_text
from tests.tui.pane_harness import until
from tests.tui.picture_harness import (
    AGENT_TASKS,
    FAILED_NIGHTLY,
    FAILED_RUNS,
    FIRST_NIGHTLY,
    FIRST_RUN,
    NIGHTLIES,
    RUNS,
    nightly_times,
    run_times,
)

SIZE = (120, 40)


@pytest.fixture
def app(history_app: Callable[[], JobdashApp]) -> JobdashApp:
    return history_app()


def chart(app: JobdashApp, selector: str) -> Chart:
    return app.screen.query_one(selector, Chart)


def drawn(app: JobdashApp, selector: str) -> bool:
    """The screen in front has this picture, with something to show."""
    found = app.screen.query(selector)
    return bool(found) and bool(found.only_one(Chart).series)


async def toggles(pilot: Pilot[Any], app: JobdashApp, selector: str, words: str) -> None:
    """`v` shows `words` (the numbers) where the bars were, and `v` again the bars."""
    picture = chart(app, selector)
    assert not picture.numbers
    assert words not in screen_text(app).replace("\n ", " ")
    await pilot.press("v")
    await until(pilot, lambda: picture.numbers)
    await pilot.pause()
    assert words in " ".join(screen_text(app).split()), screen_text(app)
    await pilot.press("v")
    await until(pilot, lambda: not picture.numbers)
    await pilot.pause()
    assert words not in " ".join(screen_text(app).split())


async def test_job_details_show_the_types_last_runs_this_one_marked(app: JobdashApp) -> None:
    this = FIRST_RUN + FAILED_RUNS[0] - 1  # a failed run of export-report
    async with app.run_test(size=SIZE) as pilot:
        app.open_details(this)
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        await until(pilot, lambda: drawn(app, "#details-runs"))
        await pilot.pause(0.2)
        # The type's finished runs: the seeded twelve, and the harness's jobs 2 (failed,
        # 195 s) and 5 (succeeded, 295 s); job 7 (paused) has not ended.
        times = {2: 195.0, 5: 295.0} | {
            FIRST_RUN + k - 1: run_times(k)[1] - run_times(k)[0] for k in range(1, RUNS + 1)
        }
        failed = {2} | {FIRST_RUN + k - 1 for k in FAILED_RUNS}
        note = (
            f"{len(times)} runs · median {duration(statistics.median(times.values()))} · "
            f"longest {duration(max(times.values()))} · ✘ {len(failed)} failed · "
            f"▲ this run {duration(times[this])}"
        )
        assert note == "14 runs · median 5m35s · longest 12m05s · ✘ 3 failed · ▲ this run 3m05s"
        text = screen_text(app)
        assert note in text  # the note is always shown
        assert "▲" in text.split(note, 1)[1]  # under its bar
        entries = " · ".join(
            f"job {i} {'✘ failed' if i in failed else '✔ succeeded'} {duration(t)}"
            + (" (this run)" if i == this else "")
            for i, t in sorted(times.items())
        )
        await toggles(pilot, app, "#details-runs", "oldest first: " + entries)


async def test_completed_header_counts_the_last_24_hours(app: JobdashApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: drawn(app, "#completed-header"))
        await pilot.pause(0.2)
        # Hour buckets back from NOW (14:30): 0 from 13:30, 1 from 12:30, …  The harness:
        # job 5 ✔ 3300 s ago, 2 ✘ 7000, 3 ⚠ 5100 (a warning counts as succeeded), 4 ⊗ 3900;
        # run k ended 1800k s ago; the nightly runs a day and more ago (not counted).
        good = [0] * 24
        bad = [0] * 24
        good[0] += 1
        bad[1] += 1
        good[1] += 1
        for k in range(1, RUNS + 1):
            (bad if k in FAILED_RUNS else good)[1800 * k // 3600] += 1
        assert (sum(good), sum(bad)) == (12, 3)
        hours = {0: "13:30", 1: "12:30", 2: "11:30", 3: "10:30", 4: "09:30", 5: "08:30"}
        hours[6] = "07:30"
        entries = " · ".join(
            f"{hours[b]} ✔{good[b]} ✘{bad[b]}" + (" ⊗1" if b == 1 else "")
            for b in range(23, -1, -1)
            if good[b] or bad[b] or b == 1
        )
        assert entries.startswith("07:30 ✔1 ✘0 · 08:30 ✔2 ✘0 · 09:30 ✔1 ✘1")
        note = "✔ 12 ✘ 3 · last failure 1–2 h ago"  # bucket 1: from 12:30 to 13:30
        assert note in screen_text(app)
        await toggles(pilot, app, "#completed-header", entries)


async def test_agents_tab_counts_tasks_per_minute_per_agent_and_in_total(
    app: JobdashApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: drawn(app, "#agents-chart"))
        await pilot.pause(0.2)
        per: dict[str, list[int]] = {"vm-a": [0] * 60, "vm-b": [0] * 60}
        for agent, ago, n in AGENT_TASKS:
            per[agent][59 - ago // 60] += n  # oldest minute first
        per["total"] = [a + b for a, b in zip(per["vm-a"], per["vm-b"], strict=True)]
        for name, minutes in per.items():
            note = (
                f"{sum(minutes)} done in 60 min · last min {minutes[-1]} · peak {max(minutes)}/min"
            )
            words = f"{name}: {note}. per minute, oldest first: " + " ".join(map(str, minutes))
            assert note in screen_text(app)
            if name != "total":  # the table's throughput column: the last 12 minutes
                pane = app.screen.query_one(AgentsPane)
                row = next(
                    pane.table.row_text(i) for i in range(2) if name in pane.table.row_text(i)
                )
                assert text_sparkline(minutes[-12:], 12) in row
            if name == "vm-b":
                assert note == "5 done in 60 min · last min 1 · peak 4/min"
                await toggles(pilot, app, "#agents-chart", words)


async def test_schedule_screen_shows_each_runs_time(app: JobdashApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.open_schedule("nightly-export")
        await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
        await until(pilot, lambda: drawn(app, "#schedule-runs"))
        await pilot.pause(0.2)
        times = {
            FIRST_NIGHTLY + k - 1: nightly_times(k)[1] - nightly_times(k)[0]
            for k in range(1, NIGHTLIES + 1)
        }
        failed = FIRST_NIGHTLY + FAILED_NIGHTLY - 1
        note = (
            f"{NIGHTLIES} runs · median {duration(statistics.median(times.values()))} · "
            f"longest {duration(max(times.values()))} · ✘ 1 failed"
        )
        assert note == "8 runs · median 3m10s · longest 4m20s · ✘ 1 failed"
        assert note in screen_text(app)
        entries = " · ".join(
            f"job {i} {'✘ failed' if i == failed else '✔ succeeded'} {duration(t)}"
            for i, t in sorted(times.items())
        )
        await toggles(pilot, app, "#schedule-runs", entries)


async def test_v_does_nothing_where_there_is_no_picture(app: JobdashApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("?")  # help: a modal screen without a picture
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        assert not app.show_numbers
