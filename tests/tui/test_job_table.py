"""Pilot tests for JobTable: big data, live patches, cursor identity, sort, filter, inert text."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from jobdash.core.model import Job, JobStatus
from jobdash.present.status import look
from jobdash.present.text import sanitize
from jobdash.tui.widgets.job_table import JobTable
from tests.tui.job_factory import NOW, make_job

SIZE = (120, 40)


class TableApp(App[None]):
    """Mounts one JobTable, focused, and records its messages."""

    def __init__(self, jobs: list[Job], **table_args: Any) -> None:
        super().__init__()
        self.jobs = jobs
        self.table_args = table_args
        self.highlighted: list[Job | None] = []
        self.selected: list[Job] = []

    def compose(self) -> ComposeResult:
        yield JobTable(clock=lambda: NOW, tick=None, **self.table_args)

    def on_mount(self) -> None:
        table = self.query_one(JobTable)
        table.set_jobs(self.jobs)
        table.focus()

    def on_job_table_highlighted(self, message: JobTable.Highlighted) -> None:
        self.highlighted.append(message.job)

    def on_job_table_selected(self, message: JobTable.Selected) -> None:
        self.selected.append(message.job)


def line(table: JobTable, y: int) -> str:
    return table.render_line(y).text


def screen_row_of(table: JobTable, job_id: int) -> int:
    """The screen line (1 = first row under the header) showing `job_id`."""
    return table.rows.index(table.get_job(job_id)) - round(table.scroll_y) + 1  # type: ignore[arg-type]


async def test_100k_rows_navigate_and_render() -> None:
    jobs = [make_job(i) for i in range(1, 100_001)]
    app = TableApp(jobs)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        assert table.total_count == table.shown_count == 100_000
        header = line(table, 0)
        assert header.split()[:4] == ["▼id", "type", "target", "user"]
        assert "status" in header and "progress" in header and "info" in header
        first = line(table, 1)
        assert first.lstrip().startswith("100000 import")
        assert "✔ succeeded" in first
        assert "13:48:22" in first  # started, today: HH:MM:SS
        assert "10m00s" in first  # duration of a finished job
        assert "███" in first and "3/3" in first
        assert table.cursor_job is not None and table.cursor_job.id == 100_000

        await pilot.press("down", "down", "down")
        assert table.cursor_job.id == 99_997
        await pilot.press("pagedown")
        page = table.scrollable_content_region.height - 1
        assert table.cursor_job.id == 99_997 - page
        assert screen_row_of(table, table.cursor_job.id) in range(1, page + 1)

        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_job.id == 1
        last_line = table.scrollable_content_region.height - 1
        assert line(table, last_line).lstrip().startswith("1 import")
        assert line(table, 0) == header  # the header does not scroll away

        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_job.id == 100_000
        assert table.scroll_y == 0
        assert app.highlighted[-1] is table.cursor_job


async def test_upsert_repaints_changed_row_and_cursor_keeps_its_job() -> None:
    jobs = [make_job(i) for i in range(1, 51)]
    app = TableApp(jobs)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        await pilot.press("down", "down", "down", "down", "down")  # ids 50..46 -> 45
        assert table.cursor_job is not None and table.cursor_job.id == 45

        y = screen_row_of(table, 48)
        before = line(table, y)
        assert "✔ succeeded" in before

        refreshed: list[tuple[Any, ...]] = []
        original_refresh = table.refresh

        def spy(*regions: Region, **kwargs: Any) -> Any:
            if kwargs.get("repaint", True):  # layout-only refreshes repaint nothing
                refreshed.append(regions)
            return original_refresh(*regions, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]
        table.upsert([make_job(48, JobStatus.FAILED, failed=2, info="disk full")])
        table.refresh = original_refresh  # type: ignore[method-assign]
        # Only that one line was invalidated, not the whole widget.
        assert refreshed and all(
            len(regions) == 1 and regions[0].height == 1 for regions in refreshed
        )
        after = line(table, y)
        assert after != before
        assert "✘ failed" in after and "disk full" in after
        assert table.cursor_job.id == 45

        # An unchanged job (equal, new object) repaints nothing.
        table.refresh = spy  # type: ignore[method-assign]
        refreshed.clear()
        table.upsert([make_job(47)])
        table.refresh = original_refresh  # type: ignore[method-assign]
        assert refreshed == []

        # Sort by another column: the cursor is still on job 45.
        table.sort_by("updated", reverse=False)
        assert table.cursor_job.id == 45
        assert table.rows[0].id == 1

        # An update that moves job 45 to the end of the order: the cursor goes with it.
        table.upsert([make_job(45, JobStatus.SUCCEEDED, updated=NOW)])
        await pilot.pause()
        assert table.cursor_job.id == 45
        assert table.cursor_row == 49
        assert [job.id for job in table.rows][-2:] == [50, 45]
        assert "t45" in line(table, screen_row_of(table, 45))

        # New jobs land in sorted position.
        table.sort_by("id", reverse=True)
        table.upsert([make_job(1000), make_job(255, JobStatus.RUNNING)])
        assert [job.id for job in table.rows][:2] == [1000, 255]
        assert table.cursor_job.id == 45
        assert table.total_count == 52


async def test_filter_counts_and_cursor() -> None:
    jobs = [
        make_job(i, JobStatus.FAILED if i % 10 == 0 else JobStatus.SUCCEEDED) for i in range(1, 101)
    ]
    app = TableApp(jobs)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.select_job(90)
        table.set_filter(lambda job: job.status is JobStatus.FAILED)
        assert (table.shown_count, table.total_count) == (10, 100)
        assert table.cursor_job is not None and table.cursor_job.id == 90  # still on its job
        assert all("✘ failed" in line(table, y) for y in range(1, 11))

        # A job that stops matching leaves the list; the cursor stays at the same index.
        table.upsert([make_job(90, JobStatus.SUCCEEDED)])
        assert table.shown_count == 9
        assert table.cursor_job.id == 80

        # A job that starts matching joins it.
        table.upsert([make_job(55, JobStatus.FAILED)])
        assert [job.id for job in table.rows] == [100, 80, 70, 60, 55, 50, 40, 30, 20, 10]

        table.set_filter(lambda job: False)
        await pilot.pause()
        assert table.cursor_job is None
        text = "\n".join(line(table, y) for y in range(40))
        assert "No jobs match the filter" in text

        table.filter = None
        assert table.shown_count == 100


async def test_narrowing_filter_keeps_rows_cursor_and_view_as_a_full_one() -> None:
    """`set_filter(narrows=True)` filters the shown rows only; rows, cursor and scroll
    position end exactly as with a full pass, including when nothing was hidden (the
    index is kept) and when the cursor was scrolled off screen (it comes to the middle)."""
    jobs = [
        make_job(i, JobStatus.FAILED if i % 3 == 0 else JobStatus.SUCCEEDED) for i in range(1, 301)
    ]
    steps: list[tuple[Any, bool]] = [
        (lambda job: job.id % 3 == 0 or job.id > 200, False),
        (lambda job: job.id % 3 == 0 or job.id > 200, True),  # hides nothing
        (lambda job: job.id % 3 == 0, True),
        (lambda job: job.id % 6 == 0, True),
        (lambda job: job.id % 6 == 0 and job.id != 120, True),  # the cursor's job goes
    ]
    outcomes: list[list[tuple[list[int], int | None, float]]] = []
    for narrow in (False, True):
        app = TableApp(jobs)
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(JobTable)
            await pilot.pause()
            table.select_job(120)
            seen = []
            for predicate, narrows in steps:
                table.scroll_to(y=0, animate=False)  # the cursor off screen
                await pilot.pause()
                table.set_filter(predicate, narrows=narrows and narrow)
                await pilot.pause()
                job = table.cursor_job
                seen.append(([j.id for j in table.rows], job and job.id, table.scroll_y))
                assert table.select_job(job.id) if job else True  # the index is right
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][-1][1] not in (None, 120)


async def test_empty_table_shows_empty_text() -> None:
    app = TableApp([], empty_text="Nothing here yet")
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        text = [line(table, y) for y in range(table.scrollable_content_region.height)]
        centred = [row for row in text if "Nothing here yet" in row]
        assert len(centred) == 1
        assert centred[0].strip() == "Nothing here yet"
        assert table.cursor_job is None
        await pilot.press("down", "enter")
        assert app.selected == []


async def test_sort_keys_cycle_and_reverse() -> None:
    jobs = [make_job(1, type="zeta"), make_job(2, type="alpha"), make_job(3, type="mid")]
    app = TableApp(jobs)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        assert [job.id for job in table.rows] == [3, 2, 1]
        assert table.sort_column == "id" and table.sort_reverse
        table.move_cursor(0)  # job 3

        await pilot.press("s")
        assert table.sort_column == "type"
        assert [job.type for job in table.rows] == ["zeta", "mid", "alpha"]
        assert "type▼" in line(table, 0)
        assert table.cursor_job is not None and table.cursor_job.id == 3

        await pilot.press("S")
        assert not table.sort_reverse
        assert [job.type for job in table.rows] == ["alpha", "mid", "zeta"]
        assert "type▲" in line(table, 0)
        assert table.cursor_job.id == 3
        await pilot.pause()
        assert "mid" in line(table, 1 + table.cursor_row)

        for _ in range(20):
            if table.sort_column == "id":
                break
            await pilot.press("s")
        assert table.sort_column == "id"


async def test_messages_enter_and_click() -> None:
    jobs = [make_job(i) for i in range(1, 21)]
    app = TableApp(jobs)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        assert app.highlighted and app.highlighted[-1] is not None
        assert app.highlighted[-1].id == 20

        await pilot.press("down")
        await pilot.pause()
        assert app.highlighted[-1] is not None and app.highlighted[-1].id == 19
        await pilot.press("enter")
        await pilot.pause()
        assert [job.id for job in app.selected] == [19]

        # Click the 4th row (screen line 4): the cursor goes there.
        await pilot.click(JobTable, offset=(3, 4))
        await pilot.pause()
        assert table.cursor_job is not None and table.cursor_job.id == 17
        assert app.highlighted[-1] is not None and app.highlighted[-1].id == 17
        # Clicking the cursor row again selects it.
        await pilot.click(JobTable, offset=(3, 4))
        await pilot.pause()
        assert [job.id for job in app.selected] == [19, 17]

        # Clicking a header label sorts by that column.
        x = line(table, 0).index("user")
        await pilot.click(JobTable, offset=(x, 0))
        assert table.sort_column == "user"


async def test_remove_jobs_clamps_cursor() -> None:
    app = TableApp([make_job(i) for i in range(1, 6)])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.action_cursor_bottom()
        assert table.cursor_job is not None and table.cursor_job.id == 1
        table.remove_jobs([1, 2, 999])
        assert table.total_count == 3
        assert table.cursor_job is not None and table.cursor_job.id == 3
        await pilot.pause()
        assert line(table, 4).strip() == ""


async def test_job_text_is_inert() -> None:
    evil = "[bold red]x[/]"
    jobs = [
        make_job(
            1,
            type="[b]t[/b]",
            target="[i]tgt[/i]",
            user="\x1b[31mbob",
            info=evil + " \x1b[2J\x1b]52;c;aGk=\x07 [link=http://x]y[/link]",
        )
    ]
    app = TableApp(jobs)
    async with app.run_test(size=(180, 10)) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        strip = table.render_line(1)
        text = strip.text
        assert evil in text
        assert "[b]t[/b]" in text and "[i]tgt[/i]" in text
        assert "␛[2J␛]52;c;aGk=␇ [link=http://x]y[/link]" in text
        assert "␛[31mbob" in text
        for segment in strip:
            assert "\x1b" not in segment.text and "\x07" not in segment.text
            assert segment.style is None or segment.style.link is None
        screen_text = "".join(segment.text for y in range(3) for segment in table.render_line(y))
        assert "\x1b" not in screen_text and "\x07" not in screen_text


def test_sanitize() -> None:
    assert sanitize("plain [bold]text[/]") == "plain [bold]text[/]"
    assert sanitize("\x1b[2J") == "␛[2J"
    assert sanitize("\x1b]52;c;aGk=\x07") == "␛]52;c;aGk=␇"
    assert sanitize("a\tb\r\n\x7f\x9b") == "a b␍␊␡\ufffd"
    raw = "x\x00y\x1f\x85z"
    assert len(sanitize(raw)) == len(raw)
    assert all(not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) for c in sanitize(raw))


async def test_older_times_use_date_format() -> None:
    yesterday = NOW - 86_400
    app = TableApp([make_job(1, started=yesterday, updated=yesterday, finished=yesterday + 60)])
    async with app.run_test(size=(160, 10)) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        text = line(table, 1)
        assert "2024-03-11 14:03" in text
        assert "1m00s" in text


@pytest.mark.parametrize("status", list(JobStatus))
async def test_every_status_shows_glyph_and_word(status: JobStatus) -> None:
    app = TableApp([make_job(1, status)])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.blur()
        await pilot.pause()
        assert look(status).text in line(table, 1)


async def test_running_job_shows_eta() -> None:
    job = make_job(1, JobStatus.RUNNING, started=NOW - 600, progress=50.0)
    app = TableApp([job])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        assert "~10m " in line(table, 1)


async def test_upsert_batch_duplicates_and_readded_ids() -> None:
    app = TableApp([make_job(i) for i in range(1, 11)])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.upsert([make_job(11, info="v1"), make_job(11, info="v2"), make_job(5, info="a")])
        table.upsert([make_job(5, info="b"), make_job(5, info="c")])
        ids = [job.id for job in table.rows]
        assert ids == sorted(set(ids), reverse=True) and len(ids) == 11
        assert "v2" in line(table, 1)

        # A removed id that comes back is drawn from its new data, not a stale cache entry.
        assert "info 10" in line(table, 2)
        table.remove_jobs([10])
        table.upsert([make_job(10, info="reborn")])
        await pilot.pause()
        assert "reborn" in line(table, 2)


async def test_new_rows_above_keep_the_cursor_line_when_scrolled() -> None:
    app = TableApp([make_job(i) for i in range(1, 1001)])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.move_cursor(500)
        await pilot.pause()
        assert table.cursor_job is not None
        job_id = table.cursor_job.id
        y = screen_row_of(table, job_id)
        assert table.scroll_y > 0
        table.upsert([make_job(2000 + n) for n in range(5)])  # newest first: above the view
        await pilot.pause()
        assert table.cursor_job is not None and table.cursor_job.id == job_id
        assert table.cursor_row == 505
        assert screen_row_of(table, job_id) == y
        assert line(table, y).lstrip().startswith(f"{job_id} ")


async def test_running_eta_ticks_with_the_clock() -> None:
    now = [NOW]
    job = make_job(1, JobStatus.RUNNING, started=NOW - 600, progress=50.0)

    class TickApp(App[None]):
        def compose(self) -> ComposeResult:
            yield JobTable(clock=lambda: now[0], tick=0.05)

    app = TickApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        table.set_jobs([job])
        await pilot.pause()
        assert "~10m" in line(table, 1)
        now[0] += 30  # 10m30s left: shown as "~11m" (ETAs are coarse, see eta_text)
        await pilot.pause(0.3)
        assert "~11m" in line(table, 1)


async def test_removing_rows_under_the_view_clamps_the_scroll() -> None:
    app = TableApp([make_job(i) for i in range(1, 201)])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.scroll_to(y=table.max_scroll_y, animate=False)  # cursor (top row) off screen
        await pilot.pause()
        table.remove_jobs(range(1, 151))
        await pilot.pause()
        assert table.scroll_y <= table.max_scroll_y
        assert line(table, 1).lstrip().startswith(str(200 - round(table.scroll_y)))


def test_eta_text_is_coarse() -> None:
    from jobdash.present.durations import eta as eta_text

    assert eta_text(None) == ""
    assert eta_text(0) == "~5s"
    assert eta_text(41) == "~45s"
    assert eta_text(61) == "~2m"
    assert eta_text(600) == "~10m"
    assert eta_text(7500) == "~2h05m"


async def test_live_changes_to_a_row_are_coalesced_but_status_is_immediate() -> None:
    running = JobStatus.RUNNING
    app = TableApp([make_job(1, running, info="a")], live_interval=0.3, live_budget=1.0)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await pilot.pause()
        table.upsert([make_job(1, running, info="b")])  # first change: painted at once
        assert not table._deferred
        table.upsert([make_job(1, running, info="c")])  # too soon: waits for its turn
        assert table._deferred == {1: {"info"}}
        assert "c" in line(table, 1)  # the data is current; only the repaint waits
        await pilot.pause(0.5)
        assert not table._deferred
        table.upsert([make_job(1, running, info="d")])
        table.upsert([make_job(1, JobStatus.SUCCEEDED, info="e")])  # a status change: now
        assert not table._deferred


async def test_a_wide_view_shows_whole_targets_and_users_and_a_narrow_one_cuts_them() -> None:
    """At 200 columns "scheduler" showed as "schedul…" beside 60 blank cells: target and
    user grow to their longest value where info keeps its room; at 120 they stay cut."""
    target = "/data/incoming/region-eu-west"
    jobs = [make_job(1, user="scheduler", target=target), make_job(2, user="al")]
    for width, whole in ((200, True), (120, False)):
        app = TableApp(jobs)
        async with app.run_test(size=(width, 10)) as pilot:
            table = app.query_one(JobTable)
            await pilot.pause()
            head, row = line(table, 0), line(table, 2)  # newest first: job 1 is second
            assert (target in row and "scheduler" in row) is whole, (width, head, row)
            assert len(head) == width and "info" in head
