"""Pilot tests of the dashboard's hardening (issue 8): the Agents tab's `d` toggles drain,
the `x` dialog says what it clears and clears exactly that, hints follow the keymap, a
cancelled or paused job's progress and time tell the truth, `ctrl+s` starts a job from
anywhere in the form."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Label

from jobdash.core.model import LogLine
from jobdash.core.service import Service
from jobdash.tui.app import DashboardScreen, JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.widgets.agents_pane import AgentsPane
from jobdash.tui.widgets.log_view import LogView
from tests.conftest import run_cli
from tests.tui.app_harness import build_store, frozen, write_config
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

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
    return JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)


async def loaded(pilot: Any) -> DashboardScreen:
    dash = pilot.app.screen_stack[0]
    assert isinstance(dash, DashboardScreen)
    await until(pilot, lambda: dash.loaded)
    await pilot.pause()
    return dash


def messages(app: JobdashApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


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
    """One focused LogView under a keymap that remaps the log's keys."""

    def compose(self) -> ComposeResult:
        yield LogView()

    def on_mount(self) -> None:
        self.set_keymap({"log.follow": "L", "log.next": "j", "log.prev": "k"})
        self.query_one(LogView).focus()


def log_rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


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
        assert "⏸ following paused — 0 new lines (L to follow)" in log_rows(view)[-1]
        await pilot.press("L")  # the remapped key does it; `f` no longer does
        await until(pilot, lambda: view.following)
        await pilot.press("slash", *"line 1", "enter")
        await until(pilot, lambda: "next/previous" in log_rows(view)[-1])
        assert "j/k next/previous" in log_rows(view)[-1]


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
