"""The dashboard shows text it did not write itself inert: a store tampered with plain
sqlite3 (an agent's name and host, a job's type, target and info, a task's name) and a
config's descriptions carry escapes, OSC 52, BEL, a screen clear, an 8-bit CSI, a
right-to-left override and Rich markup.  What the compositor draws (header, tabs, tables,
details, dialogs, toasts) holds visible stand-ins and never a raw control character.
Read-only, as the issue saw it: watching alone must not let a name drive the terminal."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.content import Content

from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.dialogs.start_job import StartJobScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.tui.app_harness import build_store, frozen, screen_text, write_config

SIZE = (160, 40)
EVIL = "E\x1b[2J O\x1b]52;c;aGk=\x07 C\x9b31m B\u202eevil [bold]M[/bold]"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
EXTRA = """
[types.tricky]
description = "D\\u001b[2J O\\u001b]52;c;aGk=\\u0007 C\\u009b31m B\\u202eevil [bold]M[/bold]"
params.p = { default = "d\\u001b]52;c;aGk=\\u0007", help = "H\\u001b[2J [bold]M[/bold]" }
command = ["true"]
"""

Open = Callable[..., Awaitable[Service]]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The harness's store, then tampered: job 6 (running) and an agent get EVIL text."""
    path = tmp_path / "app.db"
    config = write_config(tmp_path, EXTRA)
    build_store(path, config)
    now = time.time()
    con = sqlite3.connect(path)  # the SQLite file tampered (the threat); a heartbeat ahead
    with con:
        con.execute("UPDATE jobs SET type = ?, target = ?, info = ? WHERE id = 6", (EVIL,) * 3)
        con.execute("UPDATE tasks SET name = ? WHERE job_id = 6 AND seq = 1", (EVIL,))
        con.execute(
            "INSERT INTO agents (name, owner, host, pid, version, slots, state, "
            "started, heartbeat) VALUES (?, 'root', ?, 4242, '1', 2, 'idle', ?, ?)",
            (EVIL, EVIL, now - 60, now + 3600),  # a heartbeat that stays fresh
        )
    con.close()
    return path


@pytest.fixture
async def service(db: Path, tmp_path: Path) -> AsyncIterator[Service]:
    svc = await Service.open(
        db=str(db), config=str(tmp_path / "jobdash.toml"), user="alice", read_only=True
    )
    yield svc
    await svc.close()


def make_app(svc: Service) -> JobdashApp:
    return JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)


def drawn(app: Any) -> str:
    """Every character the compositor sends for the screen in front (toasts included)."""
    return "".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_inert(app: Any) -> str:
    text = drawn(app)
    assert RAW.findall(text) == [], screen_text(app)
    return text


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, screen_text(pilot.app)
        await pilot.pause(0.02)


async def test_header_tables_agents_and_details_show_stand_ins(service: Service) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        # The header names the live engine (agent) the dashboard is attached to.
        await until(pilot, lambda: "attached to engine" in drawn(app))
        text = assert_inert(app)
        assert "attached to engine E␛[2J O␛]52;c;aGk=␇ C�31m B⇚evil" in text
        assert "read-only" in text
        # The In Progress table: job 6's type and info.
        await until(pilot, lambda: "E␛[2J" in drawn(app).split("attached", 1)[1])
        assert_inert(app)

        await pilot.press("4")  # Agents: the table and the throughput picture's label
        await until(pilot, lambda: "E␛[2J O␛]52;c;a…" in drawn(app).split("per minute")[-1])
        text = assert_inert(app)
        # The header, the name and host cells (cut to their columns) and the picture's label.
        assert text.count("E␛[2J O␛]5") >= 4, screen_text(app)
        assert "[bold]M[/bold]" in text  # markup shown as written

        app.open_details(6)
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        await until(pilot, lambda: "job 6 · E␛[2J" in drawn(app))  # the screen's header
        assert_inert(app)


@pytest.fixture
async def writable(db: Path, tmp_path: Path) -> AsyncIterator[Service]:
    """As `service`, but not read-only: a confirmation opens only where it could act."""
    svc = await Service.open(db=str(db), config=str(tmp_path / "jobdash.toml"), user="alice")
    yield svc
    await svc.close()


async def test_confirmations_and_toasts_are_inert(writable: Service) -> None:
    app = make_app(writable)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        dash = app.screen
        await until(pilot, lambda: dash.loaded)  # type: ignore[attr-defined]
        assert dash.table("inprogress").select_job(6)  # type: ignore[attr-defined]
        await pilot.press("c")  # "Cancel job 6 (EVIL EVIL)?", answered No
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        text = assert_inert(app)
        assert "Cancel job 6 (E␛[2J O␛]52;c;aGk=␇" in text
        await pilot.press("escape")
        # A toast that quotes a job is shown as written: no markup, no escapes.
        app.notify(f"Started job 6 ({EVIL})")
        await until(pilot, lambda: bool(app.screen.query("Toast")))
        await pilot.pause()
        assert_inert(app)
        (toast,) = app.screen.query("Toast")
        shown = toast.render()
        assert isinstance(shown, Content)
        assert shown.plain == "Started job 6 (E␛[2J O␛]52;c;aGk=␇ C�31m B⇚evil [bold]M[/bold])"


async def test_start_dialog_shows_a_config_s_text_inert(service: Service) -> None:
    app = make_app(service)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "In Progress" in drawn(app))
        app.push_screen(StartJobScreen(service, selected="tricky"))
        await until(pilot, lambda: "H␛[2J" in drawn(app))
        text = assert_inert(app)
        assert "D␛[2J O␛]52;c;aGk=␇ C�31m B⇚evil [bold]M[/bold]" in text  # description
        assert "H␛[2J [bold]M[/bold]" in text  # parameter help
        assert "default: d␛]52;c;aGk=␇" in text  # an unprintable default, as a hint
        screen = app.screen
        assert isinstance(screen, StartJobScreen)
        assert screen.values() == {}  # left empty, the service fills in the real default
