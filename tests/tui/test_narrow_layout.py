"""The dashboard on a small terminal (an admin over SSH at 80×24) and its empty panes.

Which columns give way first (the time of a job's last change before why it waits), paths
cut at their start (`…/2026/customer-4711.csv`: the end tells the rows apart), a footer that
shows whole keys only, a Scheduled tab whose planning gets what the columns beside it do
not use, and a short dim message in every pane with nothing to show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Footer

from jobdash.core.model import Job, JobStatus, Unread
from jobdash.tui.app import JobdashApp
from jobdash.tui.widgets.job_columns import INFO_MIN_WIDTH, INFO_WANTED
from jobdash.tui.widgets.job_table import JobTable
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.line_table import LineTable, Row, TableColumn
from jobdash.tui.widgets.schedules_pane import schedules_table
from tests.tui.app_harness import build_store, frozen_app, screen_text, write_config
from tests.tui.job_factory import NOW, make_job
from tests.tui.test_snapshots import SIZE, SMALL, _utc, settle  # noqa: F401

EXPORTS = "/srv/data/exports/2026/customer-{}.csv"


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[], JobdashApp]:
    """The dashboard on the snapshots' jobs (frozen clock, no engine)."""
    config = write_config(tmp_path)
    db = tmp_path / "snap.db"
    build_store(db, config)
    return lambda: frozen_app(db, config)  # type: ignore[no-any-return]


@pytest.fixture
def empty_app(tmp_path: Path) -> JobdashApp:
    """The dashboard on a store with no job, no agent and no schedule."""
    config = write_config(tmp_path)
    db = tmp_path / "empty.db"
    build_store(db, config, rows=[])
    app: JobdashApp = frozen_app(db, config)
    return app


WAITING = "waiting: exclusive slot held by job 4"
SHOWN_WAITING = "exclusive slot held by job 4"  # beside "◷ waiting", said once


def narrow_jobs(first_id: int = 1, marks: bool = True) -> list[Job]:
    """Running and waiting jobs on long paths of one folder, with wide unread marks."""
    jobs = []
    for n in range(4):
        jobs.append(
            make_job(
                first_id + n,
                JobStatus.RUNNING if n % 2 else JobStatus.WAITING,
                type="export-report",
                target=EXPORTS.format(4711 + n),
                info="reading table customers" if n % 2 else WAITING,
                unread=Unread(lines=2300 + n, warnings=3, errors=12) if n and marks else None,
            )
        )
    return jobs


class TableApp(App[None]):
    """One JobTable on the given jobs, with a frozen clock."""

    def __init__(self, jobs: list[Job]) -> None:
        super().__init__()
        self.jobs = jobs

    def compose(self) -> ComposeResult:
        yield JobTable(clock=lambda: NOW, tick=None)

    def on_mount(self) -> None:
        self.query_one(JobTable).set_jobs(self.jobs)


def header_and_rows(table: JobTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.shown_count + 1)]


def info_cells(table: JobTable) -> list[str]:
    """The info column's text on each row (it is the last column)."""
    header, *rows = header_and_rows(table)
    start = header.index("info")
    return [row[start:].rstrip() for row in rows]


def test_the_job_table_at_80x24(snap_compare: Any) -> None:
    """Names and bars narrow, user, started and updated go; targets keep their ends; the
    marks show their gravest part; info keeps its room, cut with "…"."""
    assert snap_compare(TableApp(narrow_jobs()), terminal_size=SMALL)


async def test_info_is_never_pushed_off_an_80_column_screen() -> None:
    """Wide marks and five-digit ids: the table did not fit and scrolled, and the screen's
    edge cut info to `waiti` with no "…"."""
    app = TableApp(narrow_jobs(first_id=12_345))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        table = app.query_one(JobTable)
        assert table._table_width() <= table.scrollable_content_region.width
        header, *_ = header_and_rows(table)
        assert len(header) - header.index("info") >= INFO_MIN_WIDTH
        for cell in info_cells(table):
            assert cell.startswith(("exclusive slot", "reading table")), cell
            assert cell in (SHOWN_WAITING, "reading table customers") or cell.endswith("…"), cell


async def test_targets_show_the_end_that_tells_them_apart() -> None:
    app = TableApp(narrow_jobs())
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        rows = header_and_rows(app.query_one(JobTable))[1:]
        for n, row in enumerate(rows):
            assert f"…/{4714 - n}" not in row  # not a cut name: the end is whole
        targets = [row.split()[2] for row in rows]
        assert len(set(targets)) == len(rows), targets
        assert all(t.startswith("…") for t in targets), targets


async def test_marks_narrowed_keep_their_errors() -> None:
    app = TableApp(narrow_jobs())
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        rows = header_and_rows(app.query_one(JobTable))[1:]
        assert all("✘12" in row for row in rows[:-1]), rows  # job 1 has nothing unread
        assert not any("⚠3" in row for row in rows), rows


async def test_updated_gives_way_before_info_is_squeezed_at_120() -> None:
    app = TableApp(narrow_jobs(marks=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(JobTable)
        header, *_ = header_and_rows(table)
        assert "updated" not in header
        assert " user " in header and " started " in header
        assert len(header) - header.index("info") >= INFO_WANTED
        assert any(c.startswith("exclusive slot") for c in info_cells(table))


# --------------------------------------------------------------------------- footer


def footer_fits(app: App[Any]) -> None:
    """Every key the footer shows is whole, left of the command palette's key."""
    footer = app.screen.query_one(Footer)
    palette = [k for k in footer.children if k.has_class("-command-palette")]
    right = palette[0].region.x if palette else footer.region.right
    shown = [k for k in footer.children if k.display and k not in palette]
    assert shown
    for key in shown:
        assert key.region.width > 0
        assert key.region.right <= right, (getattr(key, "description", ""), key.region, right)
    assert any(getattr(k, "action", "").endswith("help") for k in shown)


async def test_the_details_footer_shows_whole_keys_at_120(
    make_app: Callable[..., JobdashApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen.query_one(Footer), KeyFooter)
        footer_fits(app)


async def test_the_footers_show_whole_keys_at_80(make_app: Callable[..., JobdashApp]) -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        for tab in "123":
            await pilot.press(tab)
            await pilot.pause(0.1)
            footer_fits(app)
        await pilot.press("1", "enter")
        await pilot.pause(0.3)
        footer_fits(app)
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.2)
        shown = [k for k in app.screen.query_one(Footer).children if k.display]
        assert any(getattr(k, "description", "") == "Cancel" for k in shown)  # back


def test_the_details_screen_at_80x24(
    snap_compare: Any, make_app: Callable[..., JobdashApp]
) -> None:
    """A queued job's details at 80×24: its footer's keys whole, its log pane says so."""
    assert snap_compare(make_app(), press=["enter"], terminal_size=SMALL, run_before=settle)


# --------------------------------------------------------------------------- Scheduled


class ScheduleApp(App[None]):
    """A line table like the Scheduled tab's: sized columns beside a flexible one."""

    def compose(self) -> ComposeResult:
        yield LineTable(
            [
                TableColumn("id", 16, shrink=True),
                TableColumn("planning", 0, min_width=16),
                TableColumn("time zone", 16, shrink=True),
            ]
        )

    def on_mount(self) -> None:
        self.query_one(LineTable).set_rows(
            [Row("a", ("export", "cron: 30 2 * * 1-5 (auto)", "Etc/UTC"))]
        )


async def test_a_sized_column_gives_its_blanks_to_the_planning() -> None:
    app = ScheduleApp()
    async with app.run_test(size=(50, 5)) as pilot:
        await pilot.pause()
        table = app.query_one(LineTable)
        row = table.render_line(1).text
        assert "cron: 30 2 * * 1-5 (auto)" in row, row
        assert "Etc/UTC  " not in row.rstrip(), row  # the zone is not padded to 16


class SchedulesApp(App[None]):
    """The Scheduled tab's table (its columns, drops and widths) on two schedules (and
    `more`)."""

    def __init__(self, more: tuple[tuple[str, ...], ...] = ()) -> None:
        super().__init__()
        self.more = more

    def compose(self) -> ComposeResult:
        yield schedules_table(NOW)

    def on_mount(self) -> None:
        rows = [
            ("·", "export-report", "export-report", "cron: 0 6 * * * (auto)", "Etc/UTC"),
            ("✔", "import-files", "import-files", "interval: 5m (auto)", "Etc/UTC"),
            *self.more,
        ]
        self.query_one(LineTable).set_rows(
            [
                Row(row[1], (*row, "● enabled", "14:35:00 #6 running", "14:40:00", "●12 ✘8"))
                for row in rows
            ]
        )


async def test_the_scheduled_tab_shows_the_whole_planning_at_120() -> None:
    """The planning was cut (`cron: 0 6 * * *…`) beside a time zone padded to 16."""
    app = SchedulesApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(LineTable)
        rows = [table.render_line(y).text for y in (1, 2)]
        assert "cron: 0 6 * * * (auto)" in rows[0], rows
        assert "Etc/UTC    " not in rows[0], rows  # padded to its title only
        assert "…" not in "".join(rows), rows


LONG_ID = ("✘", "nightly-export-reports-eu", "export-report", "cron: 0 2 * * *", "Etc/UTC")


@pytest.mark.parametrize("more", [(), (LONG_ID,)], ids=["demo-ids", "long-id"])
async def test_the_scheduled_tab_shows_whole_ids_at_80(more: tuple[tuple[str, ...], ...]) -> None:
    """At 80 columns the id narrowed to 9 cells (`export-r…`): an id is what a user types
    and two that start alike looked the same. Ids stay whole; the planning keeps at least
    its least width (a long id makes the last run's time go, not the table scroll and the
    screen's edge cut the next run)."""
    app = SchedulesApp(more)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        table = app.query_one(LineTable)
        assert table._table_width() <= table.scrollable_content_region.width
        header = table.render_line(0).text
        rows = [table.render_line(y).text for y in range(1, 3 + len(more))]
        for row, schedule in zip(
            rows, ["export-report", "import-files", *[m[1] for m in more]], strict=True
        ):
            assert f" {schedule} " in row, rows
        assert "next run" in header and "state" in header, header
        planning = header.index("planning")
        assert header.index("state") - planning - 1 >= 16, header  # its least width
        if not more:  # room for all: the last run's time stays
            assert "last run" in header and "14:35:00" in rows[0], (header, rows)


# --------------------------------------------------------------------------- empty panes


async def test_a_filter_that_matches_nothing_says_so_inertly(
    make_app: Callable[..., JobdashApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zz[b]x", "enter")
        await pilot.pause(0.5)
        assert "No jobs match “zz[b]x”" in screen_text(app)
        await pilot.press("2")
        await pilot.pause(0.3)
        assert "No jobs match “zz[b]x”" in screen_text(app)
        await pilot.press("5")
        await pilot.pause(0.5)
        assert "No failed tasks match “zz[b]x”" in screen_text(app)


async def test_a_log_with_no_lines_yet_says_so(make_app: Callable[..., JobdashApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # job 9, queued: nothing logged
        await pilot.pause(0.5)
        assert "No lines yet" in screen_text(app)


async def test_every_pane_of_an_empty_store_says_it_is_empty(empty_app: JobdashApp) -> None:
    app = empty_app
    async with app.run_test(size=SMALL) as pilot:
        for _ in range(200):
            if getattr(app.screen_stack[0], "loaded", False):
                break
            await pilot.pause(0.02)
        for tab, message in (
            ("1", "No jobs in progress"),
            ("2", "No completed jobs yet"),
            ("4", "No agents have run on this store"),
            ("5", "No failed tasks"),
        ):
            await pilot.press(tab)
            await pilot.pause(0.5)
            assert message in screen_text(app), tab
