"""Pilot tests of the dashboard's hardening (issue 8): the Agents tab's `d` toggles drain,
the `x` dialog says what it clears and clears exactly that, hints follow the keymap, a
cancelled or paused job's progress and time tell the truth, `ctrl+s` starts a job from
anywhere in the form."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Label, OptionList, Static

from jobdash.core.model import LogLine
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.dialogs.start_job import StartJobScreen
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.widgets.agents_pane import AgentsPane
from jobdash.tui.widgets.log_view import LogView
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.conftest import run_cli
from tests.tui.app_harness import (
    NOW,
    build_store,
    frozen,
    frozen_app,
    pictures_drawn,
    screen_text,
    write_config,
)
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until
from tests.tui.test_log_view import rows

# Autouse, as there: times in the tables are local, so the zone is pinned to UTC.
from tests.tui.test_snapshots import _utc  # noqa: F401

Open = Callable[..., Awaitable[Service]]


def first_row(table: Any) -> str:
    return table.row_text(0) if table.row_count else ""


# --------------------------------------------------------------------------- agents: d


async def test_d_undrains_a_drained_agent_after_asking(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=2)
    name = (await svc.agents())[0][0].name
    await svc.drain_agent(name)
    app = PaneApp(svc, widget=lambda: AgentsPane(svc, sample_every=60))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(AgentsPane)
        await until(pilot, lambda: "◐ draining" in first_row(pane.table))
        pane.table.focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == f"Undrain agent {name}?"  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: "○ idle" in first_row(pane.table))
        assert dict((i.name, d) for i, d in await svc.agents())[name] is False
        # And `d` again drains it.
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == f"Drain agent {name}?"  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: "◐ draining" in first_row(pane.table))


# --------------------------------------------------------------------------- x: clear


@pytest.fixture
def dash_store(tmp_path: Path) -> tuple[Path, Path]:
    """The deterministic store of the snapshot tests (jobs 1..9, see app_harness)."""
    config = write_config(tmp_path)
    db = tmp_path / "app.db"
    build_store(db, config)
    return db, config


@pytest.fixture
async def dashboard_service(dash_store: tuple[Path, Path]) -> AsyncIterator[Open]:
    db, config = dash_store
    opened: list[Service] = []

    async def open_(user: str = "alice", cfg: Path | None = None) -> Service:
        svc = await Service.open(db=str(db), config=str(cfg or config), user=user)
        opened.append(svc)
        return svc

    yield open_
    for svc in reversed(opened):
        await svc.close()


def make_app(svc: Service) -> JobdashApp:
    """The dashboard on `svc`, keeping every toast it shows in `told`: Textual's own list
    drops a toast once it has timed out, which on a loaded machine can be before a test
    looks."""
    app = JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)
    told: list[str] = []
    show = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        told.append(str(message))
        show(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    app.told = told  # type: ignore[attr-defined]
    return app


async def loaded(pilot: Any) -> DashboardScreen:
    dash = pilot.app.screen_stack[0]
    assert isinstance(dash, DashboardScreen)
    await until(pilot, lambda: dash.loaded)
    await pilot.pause()
    return dash


def messages(app: JobdashApp) -> list[str]:
    """Every toast the app showed (`make_app` keeps them), in order."""
    return list(getattr(app, "told", []))


async def test_x_says_what_it_clears_and_clears_exactly_that(dashboard_service: Open) -> None:
    """An admin with the filter on: the dialog counts the 2 jobs shown, names whose they
    are, and only those 2 go; the 3 finished jobs filtered out stay."""
    svc = await dashboard_service()
    app = make_app(svc)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2", "slash", *"status:failed status:cancelled", "enter")
        await until(pilot, lambda: dash.table("completed").shown_count == 2)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question == "Clear 2 finished jobs?"
        assert dialog.detail.startswith(
            "The ones shown in Completed (filtered), of 2 users: bob 1, carol 1:"
        )
        await pilot.press("y")
        await until(pilot, lambda: any("Cleared 2 finished jobs" in m for m in messages(app)))
        assert sorted(j.id for j in await svc.jobs(active=False)) == [1, 3, 5]


async def test_x_for_a_user_says_yours(dashboard_service: Open) -> None:
    svc = await dashboard_service(user="bob")
    app = make_app(svc)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question == "Clear 1 finished job?"
        assert dialog.detail.startswith("The one shown in Completed, yours:")


# --------------------------------------------------------------------------- keymap


class LogApp(App[None]):
    """One focused LogView under a keymap that remaps the log's keys, kept as JobdashApp
    keeps it: in `keymap`, where hints read it, and given to Textual, which applies it."""

    def compose(self) -> ComposeResult:
        yield LogView()

    def on_mount(self) -> None:
        self.keymap = {"log.follow": "L", "log.next": "j", "log.prev": "k"}
        self.set_keymap(self.keymap)
        self.query_one(LogView).focus()


async def test_log_hints_name_the_remapped_keys() -> None:
    app = LogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        view.append(
            [LogLine(n, 1, None, 1_700_000_000.0 + n, "stdout", f"line {n}") for n in range(200)]
        )
        await pilot.pause()
        await pilot.press("up")  # scrolling up pauses following
        await until(pilot, lambda: not view.following)
        assert "⏸ following paused (L to follow)" in rows(view)[-1]
        await pilot.press("L")  # the remapped key does it; `f` no longer does
        await until(pilot, lambda: view.following)
        await pilot.press("slash", *"line 1", "enter")
        await until(pilot, lambda: "next/previous" in rows(view)[-1])
        assert "j/k next/previous" in rows(view)[-1]


async def test_dashboard_hints_follow_the_keymap(
    dash_store: tuple[Path, Path], tmp_path: Path
) -> None:
    db, config = dash_store
    remapped = tmp_path / "remapped.toml"
    remapped.write_text(
        config.read_text()
        + '\n[keymap]\n"details.failed_only" = "X"\n"filter.escape" = "ctrl+g"\n'
        + '"job.new" = "N"\n'
    )
    svc = await Service.open(db=str(db), config=str(remapped), user="alice")
    try:
        app = make_app(svc)
        async with app.run_test(size=(120, 40)) as pilot:
            dash = await loaded(pilot)
            await pilot.press("slash")
            placeholder = dash.filter_bar.input.placeholder
            assert placeholder.endswith("(^g clears)"), placeholder
            await pilot.press("ctrl+g")
            assert dash.table("inprogress").empty_text == "No jobs in progress: N starts one"
            await pilot.press("enter")  # job 9's details
            await until(pilot, lambda: type(app.screen).__name__ == "JobDetailsScreen")
            await pilot.press("X")
            title = app.screen.query_one("#details-tasks-title", Label)
            await until(pilot, lambda: "failed only" in str(title.render()))
            assert str(title.render()).endswith("(X: all)")
    finally:
        await svc.close()


def test_a_keymap_giving_one_key_two_actions_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text('[keymap]\n"log.follow" = "F"\n')
    r = run_cli("check", "--config", str(config))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and r.stdout == "", r.stderr
    assert 'key "F"' in lines[0] and "details.failed_only and log.follow" in lines[0]
    assert str(config) in lines[0] and "job details" in lines[0]
    # The dashboard refuses to start with it, the same way.
    r = run_cli("--config", str(config), "--db", str(tmp_path / "x.db"))
    assert r.returncode == 2 and r.stderr.strip() == lines[0], r.stderr
    # A remap that takes a free key is fine, and so is swapping two keys.
    config.write_text('[keymap]\n"log.follow" = "L"\n"job.cancel" = "p"\n"job.pause" = "c"\n')
    r = run_cli("check", "--config", str(config))
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------- 80×24

SMALL = (80, 24)
SCHEDULED = """
[types.nightly-backup]
description = "Back up the archive"
command = ["true"]
schedule = "cron: 30 2 * * *"

[types.mirror-sync]
command = ["true"]
schedule = "interval: 15m"
"""
FUTURE = NOW + 400 * 86400  # a watermark after the machine's clock: fixed next runs


@pytest.fixture
def full_store(tmp_path: Path) -> tuple[Path, Path]:
    """The snapshot store (jobs 1..9) with two schedules and three agents, all frozen: an
    agent running two tasks of job 6, an idle one, a draining one."""
    config = write_config(tmp_path, SCHEDULED)
    db = tmp_path / "full.db"
    build_store(db, config)

    async def schedules() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="alice")
        try:
            await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
        finally:
            await svc.close()

    asyncio.run(schedules())
    con = sqlite3.connect(db)  # SQLite poke: fixed times and states no store call would write
    with con:
        con.execute(
            "UPDATE schedules SET last_fire = ?, last_run = ?, last_job = 5, timezone = "
            "'Europe/Paris'",
            (FUTURE, NOW - 3600),
        )
        agents = [
            (
                "build-host-alpha",
                "alpha/1",
                "build-host-alpha.example",
                41234,
                4,
                "busy",
                0,
                1520,
                3,
            ),
            ("build-host-beta", "beta/1", "build-host-beta.example", 41299, 4, "idle", 0, 212, 0),
            ("spare-gamma", "gamma/1", "spare.example", 5012, 2, "draining", 1, 7, 1),
        ]
        for name, owner, host, pid, slots, state, drain, done, failed in agents:
            con.execute(
                "INSERT INTO agents (name, owner, host, pid, version, slots, state, started, "
                "heartbeat, done, failed, drain) VALUES (?, ?, ?, ?, '0.1.0', ?, ?, ?, ?, ?, ?, ?)",
                (name, owner, host, pid, slots, state, NOW - 7200, FUTURE, done, failed, drain),
            )
        con.execute(
            "UPDATE tasks SET status = 'running', owner = 'alpha/1', agent = 'build-host-alpha', "
            "started = ? WHERE job_id = 6 AND seq IN (2, 3)",
            (NOW - 60,),
        )
    con.close()
    return db, config


@pytest.fixture
def small_app(full_store: tuple[Path, Path]) -> Callable[[], JobdashApp]:
    db, config = full_store

    def make() -> JobdashApp:
        app: JobdashApp = frozen_app(db, config)
        return app

    return make


async def settle(pilot: Pilot[Any]) -> None:
    """The jobs, schedules and agents loaded, and a repaint."""
    app = pilot.app
    dash = app.screen_stack[0]
    await until(pilot, lambda: getattr(dash, "loaded", False))
    await until(pilot, lambda: app.query_one(SchedulesPane).table.row_count == 2)
    await until(pilot, lambda: app.query_one(AgentsPane).table.row_count == 3)
    await pictures_drawn(pilot)


@pytest.mark.parametrize("tab", ["1", "2", "3", "4"])
def test_every_tab_at_80x24(
    snap_compare: Any, small_app: Callable[[], JobdashApp], tab: str
) -> None:
    """In Progress, Completed, Scheduled, Agents at 80×24: the least needed columns go
    (Scheduled: type, time zone; Agents: throughput, host), state / last run / next run and
    the agents' slots and counts stay; the footer ends clean."""
    assert snap_compare(small_app(), press=[tab], terminal_size=SMALL, run_before=settle)


async def test_no_row_is_cut_mid_column_at_80x24(small_app: Callable[[], JobdashApp]) -> None:
    app = small_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        dash = app.screen_stack[0]
        assert isinstance(dash, DashboardScreen)
        for tab, labels in (
            ("1", ("status", "progress", "fail", "eta/dur", "info")),
            ("2", ("status", "progress", "fail", "eta/dur", "info")),
            ("3", ("last", "id", "planning", "state", "last run", "next run")),
            ("4", ("name", "state", "slots", "current tasks", "beat", "done", "fail")),
        ):
            await pilot.press(tab)
            await pilot.pause()
            lines = screen_text(app).splitlines()
            header = next((line for line in lines if f" {labels[1]} " in f" {line} "), "")
            for label in labels:
                assert f" {label}" in f" {header} ", (tab, label, header)
            table: Any = (
                dash.table("inprogress" if tab == "1" else "completed")
                if tab in "12"
                else app.query_one(SchedulesPane if tab == "3" else AgentsPane).table
            )
            # Every shown column fits: nothing is drawn past the right edge.
            assert table._table_width() <= table.scrollable_content_region.width, tab
            assert all(len(line) <= SMALL[0] for line in lines)


# --------------------------------------------------------------------------- ctrl+s


def burst(app: JobdashApp, *keys: str) -> None:
    """Keys that arrive together (typed fast, or pasted): no pause between them."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_ctrl_s_right_after_n_says_what_is_missing(dashboard_service: Open) -> None:
    """`n` then `ctrl+s` at once, focus on the type list: the form is still being built.
    The submit waits for the form the user sees and says what it lacks."""
    svc = await dashboard_service()
    app = make_app(svc)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("down")  # job 8: an import-files job
        burst(app, "n", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, StartJobScreen))
        form = app.screen
        assert isinstance(form, StartJobScreen)
        error = form.query_one("#start-error", Static)
        await until(pilot, lambda: error.display)
        assert str(error.render()) == "parameter 'source' is required for type import-files"
        assert isinstance(app.focused, OptionList)
        assert len(await svc.jobs()) == 9  # nothing started


async def test_ctrl_s_on_the_type_list_starts_the_type_shown(dashboard_service: Open) -> None:
    """Moving down the type list and `ctrl+s` at once starts the highlighted type, with the
    values of its own form (not the previous type's)."""
    svc = await dashboard_service()
    app = make_app(svc)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "n")  # import-files highlighted, its form built
        await until(pilot, lambda: isinstance(app.screen, StartJobScreen))
        form = app.screen
        assert isinstance(form, StartJobScreen)
        await until(pilot, lambda: "source" in form._inputs)
        burst(app, "down", "ctrl+s")  # rebuild-index: no parameters
        await until(pilot, lambda: not isinstance(app.screen, StartJobScreen))
        job = await svc.store.get_job(10)
        assert (job.type, job.params) == ("rebuild-index", {})
