"""Pilot tests for the Agents tab."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import JobStatus
from jobdash.core.service import Service
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.widgets.agents_pane import AgentsPane, text_sparkline
from tests.conftest import wait_for
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]


class Clock:
    def __init__(self) -> None:
        import time

        self.offset = 0.0
        self._time = time.time

    def __call__(self) -> float:
        return self._time() + self.offset


async def test_agent_row_running_tasks_heartbeat_and_drain(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=3)
    assert svc.engine is not None
    name = (await svc.agents())[0][0].name
    job = await svc.submit("slow")
    await wait_for(svc, job.id, lambda j: j.status is JobStatus.RUNNING)
    clock = Clock()
    app = PaneApp(svc, widget=lambda: AgentsPane(svc, sample_every=60), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(AgentsPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        await until(pilot, lambda: f"{job.id}#1 slow" in pane.table.row_text(0))
        assert pane.table.row_text(0).startswith(f"{name} ")
        # The agent reports its running count with its next heartbeat (every 3 s).
        await until(pilot, lambda: "▶ busy" in pane.table.row_text(0))
        assert "1/3" in pane.table.row_text(0)
        # Heartbeat age follows the clock, re-rendered by the 1 s timer.
        clock.offset = 125
        await until(pilot, lambda: " 2m0" in pane.table.row_text(0), timeout=5)
        clock.offset = 0

        pane.table.focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert name in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("n")
        await pilot.pause()
        assert not dict((i.name, d) for i, d in await svc.agents())[name]
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "◐ draining" in pane.table.row_text(0))
        assert dict((i.name, d) for i, d in await svc.agents())[name]
        await svc.cancel(job.id, force=True)


def test_text_sparkline() -> None:
    assert text_sparkline([]) == ""
    assert text_sparkline([0, 8]) == "▁█"
    assert len(text_sparkline(range(40))) == 12
