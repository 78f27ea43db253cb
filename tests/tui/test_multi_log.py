"""Pilot tests for `L`: the marked jobs' logs (or the cursor job's) in one pane, each line
prefixed with its job and task in the job's colour, followed as lines are written, with the
single-job pane's search, grep mode and save.

The dashboard's store is app_harness's (jobs 1–9: In Progress shows 9 queued, 8 waiting,
7 paused, 6 running); log lines are written into that real SQLite file, before the pane
opens and while it follows (the engine would write them the same way: the store's `logs`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from jobdash.tui.screens.multi_log import MultiLogScreen, saved_stem
from jobdash.tui.widgets.log_view import LogView
from tests.tui.app_harness import NOW, screen_text
from tests.tui.conftest import Open
from tests.tui.test_app import errors, messages, until
from tests.tui.test_marks import dashboard


def write_lines(db: Path, lines: list[tuple[int, int, str]]) -> None:
    """(job, task seq, text) lines, in this order, as the engine writes them."""
    con = sqlite3.connect(db)
    with con:
        for n, (job, seq, text) in enumerate(lines):
            (task,) = con.execute(
                "SELECT id FROM tasks WHERE job_id = ? AND seq = ?", (job, seq)
            ).fetchone()
            con.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, ?, ?, ?, ?)",
                (job, task, NOW + n, "stdout", text),
            )
    con.close()


def interleaved(start: int, count: int) -> list[tuple[int, int, str]]:
    """Jobs 9, 8 and 6 writing in turn; 8's lines from its tasks 1 and 2."""
    out = []
    for i in range(start, start + count):
        out += [(9, 1, f"nine {i}"), (8, 1 + i % 2, f"eight {i}"), (6, 1, f"six {i}")]
    return out


def pane_rows(app: Any) -> list[str]:
    screen = app.screen
    assert isinstance(screen, MultiLogScreen)
    lines = screen.log_view.lines_view
    return [
        lines.render_line(y).text.rstrip() for y in range(lines.scrollable_content_region.height)
    ]


async def test_L_follows_every_marked_job_in_one_pane(open_service: Open, db: Path) -> None:
    write_lines(db, interleaved(0, 5))
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, dash):
        await pilot.press("space", "space", "down", "space")
        assert list(dash.marks.items) == [9, 8, 6]
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, MultiLogScreen))
        screen = app.screen
        assert isinstance(screen, MultiLogScreen) and screen.job_ids == [9, 8, 6]
        await until(pilot, lambda: len(screen.log_view.lines) == 15)
        await pilot.pause()
        rows = [row for row in pane_rows(app) if row.strip()]
        # Every line once, in the order written, each with its job and task, aligned.
        expected = []
        for job, seq, text in interleaved(0, 5):
            name = {9: "#1 rebuild-index", 8: f"#{seq} {'ab'[seq - 1]}.csv", 6: "#1 a.csv"}[job]
            expected.append((f"{job} {name}", text))
        got = [tuple(part.strip() for part in row.split("│")) for row in rows]
        assert got == expected
        assert len({row.index("│") for row in rows}) == 1
        # Each job in its own colour.
        lines = screen.log_view.lines_view
        colours = {}
        for y, row in enumerate(pane_rows(app)):
            if row.strip():
                label = lines.render_line(y)._segments[1]
                colours.setdefault(row.split()[0], set()).add(label.style.color)
        assert all(len(found) == 1 for found in colours.values())
        assert len({next(iter(found)) for found in colours.values()}) == 3
        # The header names each job, its status and type.
        text = screen_text(app)
        for line in ("9 ○ queued", "8 ◷ waiting", "6 ▶ running"):
            assert line in text

        write_lines(db, interleaved(5, 3))  # written while the pane follows
        await until(pilot, lambda: len(screen.log_view.lines) == 24)
        await pilot.pause()
        assert [row.split("│")[1].strip() for row in pane_rows(app) if row.strip()][-3:] == [
            "nine 7",
            "eight 7",
            "six 7",
        ]
        assert screen.log_view.following

        await pilot.press("q")
        await until(pilot, lambda: app.screen is dash)
        assert list(dash.marks.items) == [9, 8, 6]  # following logs changes nothing
        assert not errors(app)


async def test_L_without_marks_shows_the_cursor_job(open_service: Open, db: Path) -> None:
    write_lines(db, interleaved(0, 2))
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, _dash):
        await pilot.press("down", "L")
        await until(pilot, lambda: isinstance(app.screen, MultiLogScreen))
        screen = app.screen
        assert isinstance(screen, MultiLogScreen) and screen.job_ids == [8]
        await until(pilot, lambda: len(screen.log_view.lines) == 2)
        assert [row.split("│")[1].strip() for row in pane_rows(app) if row.strip()] == [
            "eight 0",
            "eight 1",
        ]


async def test_search_grep_and_save_in_the_pane_of_several_jobs(
    open_service: Open, db: Path, tmp_path: Path
) -> None:
    write_lines(db, interleaved(0, 40))
    svc = await open_service()
    async with dashboard(svc) as (app, pilot, _dash):
        await pilot.press("space", "space", "down", "space", "L")
        await until(pilot, lambda: isinstance(app.screen, MultiLogScreen))
        screen = app.screen
        assert isinstance(screen, MultiLogScreen)
        view = screen.query_one(LogView)
        await until(pilot, lambda: len(view.lines) == 120)
        await pilot.press("slash", *"eight 2", "ctrl+g")  # eight 2, eight 20 … 29
        await pilot.pause()
        assert view.match_count == 11
        kept = [line.text for line in view.lines]
        # eight 2 with 3 lines before and after, the 50 lines up to eight 20's context
        # left out, then eight 20 … 29 with theirs.
        assert kept[:8] == [
            "eight 1",
            "six 1",
            "nine 2",
            "eight 2",
            "six 2",
            "nine 3",
            "eight 3",
            "┄┄ 47 lines not matching ┄┄",
        ]
        assert kept[8:] == [text for _, _, text in interleaved(0, 40)[58:92]]
        assert any("lines not matching" in row for row in pane_rows(app))
        await pilot.press("ctrl+g", "escape")
        assert view.grep_context is None

        await pilot.press("s")
        name = f"{saved_stem([9, 8, 6])}.log"
        assert name == "jobdash-jobs-9-8-6.log"
        await until(pilot, lambda: any(name in m for m in messages(app)))
        path = tmp_path / name if (tmp_path / name).exists() else Path(name)
        assert path.stat().st_mode & 0o777 == 0o600
        saved = [line.split("\t")[1:] for line in path.read_text().splitlines()]
        assert saved[:3] == [
            ["9 #1 rebuild-index", "stdout", "nine 0"],
            ["8 #1 a.csv", "stdout", "eight 0"],
            ["6 #1 a.csv", "stdout", "six 0"],
        ]
        assert len(saved) == 120
