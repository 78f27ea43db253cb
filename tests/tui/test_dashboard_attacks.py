"""What an outside attack on the dashboard found, with Textual pilots on a real store, real
files, a real second OS user and a real deleted folder:

- `s` (save log), `e` (export) and the palette's Screenshot create new files (0600) under a
  name of their own and never write through what is at it (a link another user planted in
  a shared folder: the next name is taken);
- in a working folder that was deleted they say so in one toast, and nothing crashes;
- a keymap's keys are shown inert; `--read-only` refuses up front and offers only what works;
- a saved log keeps whole task labels; one long parameter leaves the details header a few
  lines high; the status line stays one line at 80 columns;
- the planning dialog shows the chosen kind without colour; the paused log says "following
  paused" alone until lines come.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
from jobdash.tui.dialogs.start_job import StartJobScreen
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.screens.help import HelpScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.log_view import LogView
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.os_users import OsUser, other_user  # noqa: F401  (a fixture)
from tests.tui.app_harness import NOW, build_store, screen_text, write_config
from tests.tui.pane_harness import CONFIG as PANE_CONFIG
from tests.tui.pane_harness import PaneApp, until
from tests.tui.test_hardening_dash import loaded, make_app, messages
from tests.tui.test_log_view import LogApp, batch, bottom

# Autouse, as there: times in the tables are local, so the zone is pinned to UTC.
from tests.tui.test_snapshots import _utc  # noqa: F401

Open = Callable[..., Awaitable[Service]]
LONG_NAME = "/srv/incoming/2026-11-20/batch-000123-of-a-long-import.csv"
STAMP = time.strftime("%Y%m%d-%H%M%S", time.gmtime(NOW))  # the frozen clock, in UTC


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    """The snapshot tests' store (jobs 1..9); job 6 (running, 4 tasks) has a line from each
    of its first two tasks, the first with a long name."""
    config = write_config(tmp_path)
    db = tmp_path / "app.db"
    build_store(db, config)
    con = sqlite3.connect(db)  # SQLite poke, as the harness: fixed line times, made-up jobs
    with con:
        tasks = con.execute("SELECT id, seq FROM tasks WHERE job_id = 6 ORDER BY seq").fetchall()
        con.execute("UPDATE tasks SET name = ? WHERE id = ?", (LONG_NAME, tasks[0][0]))
        for tid, seq in tasks[:2]:
            con.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) "
                "VALUES (6, ?, ?, 'stdout', ?)",
                (tid, NOW + seq, f"line of task {seq}"),
            )
    con.close()
    return db, config


@pytest.fixture
async def open_service(store: tuple[Path, Path]) -> AsyncIterator[Open]:
    db, config = store
    opened: list[Service] = []

    async def open_(read_only: bool = False, cfg: Path | None = None) -> Service:
        svc = await Service.open(
            db=str(db), config=str(cfg or config), user="alice", read_only=read_only
        )
        opened.append(svc)
        return svc

    yield open_
    for svc in reversed(opened):
        await svc.close()


def toasts(app: JobdashApp) -> list[str]:
    return messages(app)


async def toast(pilot: Any, *words: str) -> str:
    """The first toast that has all `words`, once it is there."""
    app = pilot.app

    def found() -> str | None:
        return next((m for m in toasts(app) if all(w in m for w in words)), None)

    await until(pilot, lambda: found() is not None)
    message = found()
    assert message is not None
    return message


async def open_details(pilot: Any, job_id: int) -> JobDetailsScreen:
    pilot.app.open_details(job_id)
    await until(pilot, lambda: isinstance(pilot.app.screen, JobDetailsScreen))
    screen = pilot.app.screen
    assert isinstance(screen, JobDetailsScreen)
    await until(pilot, lambda: screen.job is not None)
    return screen


async def screenshot_from_the_palette(pilot: Any) -> None:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*"screenshot")
    palette = pilot.app.screen

    def found() -> bool:  # the search runs in a worker: enter before it ends picks nothing
        hits = palette.query(OptionList)
        return (
            bool(hits)
            and hits.first().option_count > 0
            and "creenshot" in str(hits.first().get_option_at_index(0).prompt)
        )

    await until(pilot, found)
    await pilot.press("enter")


# --------------------------------------------------------------------------- 2. planted links


PLANTED = ("jobdash-job-6.log", f"jobdash-export-{STAMP}.csv", f"jobdash-screenshot-{STAMP}.svg")


@pytest.fixture
def shared(other_user: OsUser, tmp_path: Path) -> Iterator[tuple[Path, Path]]:  # noqa: F811
    """A folder of the other user's that everyone may write (1777), like /tmp, where that
    user has pointed each name the dashboard would pick (`PLANTED`) at a file of ours,
    which they may not read; and the next name of the log is a folder. Yields the folder
    and our file."""
    folder = Path(tempfile.mkdtemp(prefix="jobdash-shared-"))
    os.chown(folder, other_user.uid, other_user.gid)
    folder.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.write_text("ours\n")
    victim.chmod(0o600)
    for name in PLANTED:
        subprocess.run(
            ["ln", "-s", str(victim), str(folder / name)],
            user=other_user.uid,
            group=other_user.gid,
            extra_groups=[],
            check=True,
        )
    (folder / "jobdash-job-6-1.log").mkdir()
    yield folder, victim
    shutil.rmtree(folder, ignore_errors=True)


async def test_files_the_dashboard_names_never_go_through_a_planted_link(
    open_service: Open,
    shared: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, victim = shared
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    app = make_app(await open_service())
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        exported = await toast(pilot, "Exported 4 jobs to")
        assert victim.read_text() == "ours\n"
        await open_details(pilot, 6)
        await pilot.press("s")
        first = await toast(pilot, "Saved 2 lines to")
        assert victim.read_text() == "ours\n"
        await pilot.press("s")  # again: a new file beside the first
        await until(pilot, lambda: len([m for m in toasts(app) if "Saved 2 lines" in m]) == 2)
        second = [m for m in toasts(app) if "Saved 2 lines" in m][1]
        await screenshot_from_the_palette(pilot)
        shot = await toast(pilot, "Saved screenshot to")
    assert victim.read_text() == "ours\n"
    for name in PLANTED:
        assert (folder / name).is_symlink() and os.readlink(folder / name) == str(victim)
    created = {
        exported: folder / f"jobdash-export-{STAMP}-1.csv",
        shot: folder / f"jobdash-screenshot-{STAMP}-1.svg",
        first: folder / "jobdash-job-6-2.log",
        second: folder / "jobdash-job-6-3.log",
    }
    for message, path in created.items():
        assert message.endswith(str(path)), message
        st = path.lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid(), path
        assert stat.S_IMODE(st.st_mode) == 0o600, path
    assert list((folder / "jobdash-job-6-1.log").iterdir()) == []


# --------------------------------------------------------------------------- 3. deleted folder


async def test_a_deleted_working_folder_is_one_toast_not_a_crash(
    open_service: Open, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    app = make_app(await open_service())
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        gone.rmdir()
        await pilot.press("e")
        said = await toast(pilot, str(gone), "no longer exists")
        await screenshot_from_the_palette(pilot)
        await until(pilot, lambda: toasts(app).count(said) == 2)
        await open_details(pilot, 6)
        await pilot.press("s")
        await until(pilot, lambda: toasts(app).count(said) == 3)
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.screen, JobDetailsScreen)
    assert app._exception is None
    assert app.return_code in (None, 0)


# --------------------------------------------------------------------------- 4. keymap shown


async def test_keys_are_shown_inert(open_service: Open, tmp_path: Path, store: Any) -> None:
    """A keymap that reached the app without `check` (its start refuses such keys): the
    footer shows the key's escape as visible stand-ins."""
    _db, config = store
    evil = tmp_path / "evil.toml"
    evil.write_text(config.read_text() + '\n[keymap]\n"job.cancel" = "\\u001b]0;pwned\\u0007"\n')
    app = make_app(await open_service(cfg=evil))
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        shown = screen_text(app)
    assert "\x1b" not in shown and "\x07" not in shown
    assert "␛]0;pwned␇" in shown


# --------------------------------------------------------------------------- 6. saved labels


async def test_a_saved_log_keeps_whole_task_labels(open_service: Open, tmp_path: Path) -> None:
    app = make_app(await open_service())
    async with app.run_test(size=(120, 40)) as pilot:
        await open_details(pilot, 6)
        await pilot.press("s")
        await toast(pilot, "Saved 2 lines to")
    lines = (tmp_path / "jobdash-job-6.log").read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == [f"#1 {LONG_NAME}", "#2 b.csv"]


# --------------------------------------------------------------------------- 7. long values


async def test_the_details_header_stays_a_few_lines_high(
    open_service: Open, store: tuple[Path, Path]
) -> None:
    db, _config = store
    con = sqlite3.connect(db)  # SQLite poke: a target is set once, at submit, by the service
    with con:
        con.execute(
            "UPDATE jobs SET target = ?, info = ? WHERE id = 6", ("a" * 120_000, "b" * 50_000)
        )
    con.close()
    app = make_app(await open_service())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_details(pilot, 6)
        await pilot.pause()
        assert screen.header.region.height <= 6
        assert screen.log_view.region.height >= 3
        first = screen_text(app).splitlines()[0]
        assert "▶ running" in first, first
        # The status line is one line at 80 columns: its last field keeps its value.
        assert re.search(r"elapsed \d+m\d*s?$", first.rstrip()), first


# --------------------------------------------------------------------------- 8. read-only


async def test_read_only_refuses_up_front_and_offers_only_what_works(
    open_service: Open,
) -> None:
    app = make_app(await open_service(read_only=True))
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        footer = screen_text(app).splitlines()[-1]
        for offered in ("Cancel", "New job", "Pause/resume", "Retry failed"):
            assert offered not in footer, footer
        assert "Filter" in footer and "Help" in footer
        for key, what in (("c", "cancel"), ("n", "start a job"), ("C", "cancel")):
            await pilot.press(key)
            await toast(pilot, f"read-only: cannot {what}")
            await pilot.pause(0.1)
            assert isinstance(app.screen, DashboardScreen), app.screen
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Cancel" not in screen_text(app)
        await pilot.press("escape")
        screen = await open_details(pilot, 6)
        await pilot.press("c")
        await until(pilot, lambda: toasts(app).count("read-only: cannot cancel") == 3)
        assert app.screen is screen and not isinstance(app.screen, ConfirmScreen)
        assert not isinstance(app.screen, StartJobScreen)


# --------------------------------------------------------------------------- 8. planning dialog


async def test_the_chosen_planning_shows_without_colour(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(PANE_CONFIG), engine=False)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    app = PaneApp(svc, widget=lambda: SchedulesPane(svc))
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        pane.table.focus()
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, EditPlanningScreen))
        await pilot.pause()
        radios = next(line for line in screen_text(app).splitlines() if "interval" in line)
        assert radios.count("●") == 1 and "▐●▌ automatic" in radios, radios
        app.screen.query_one("#kind-daily").value = True  # type: ignore[attr-defined]
        await pilot.pause()
        text = screen_text(app)
        radios = next(line for line in text.splitlines() if "interval" in line)
        assert radios.count("●") == 1 and "▐●▌ daily" in radios, radios
        days = next(line for line in text.splitlines() if "mon" in line and "sun" in line)
        assert "X" not in days, days  # no day ticked yet
        app.screen.query_one("#day-mon").value = True  # type: ignore[attr-defined]
        await pilot.pause()
        days = next(line for line in screen_text(app).splitlines() if "mon" in line)
        assert days.count("X") == 1 and "X▌ mon" in days, days
        assert isinstance(app.screen.query_one("#times"), Input)


# --------------------------------------------------------------------------- 8. paused log


async def test_a_paused_log_says_following_paused_alone_until_lines_come() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        view.append(batch(0, 200))
        await pilot.pause()
        await pilot.press("up")
        await pilot.pause()
        assert bottom(view).strip() == "⏸ following paused (f to follow)"
        view.append(batch(200, 1))
        await pilot.pause()
        assert bottom(view).strip() == "⏸ following paused — 1 new line (f to follow)"
