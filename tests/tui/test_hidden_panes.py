"""Panes behind another tab read nothing: a dashboard left on In Progress while jobs run
must not read the agents, or count the last day's jobs, for no one. Shown again, a pane
reads at once what changed while it was behind."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.widget import Widget

from jobdash.core.model import JobStatus
from jobdash.core.service import Service
from jobdash.tui.widgets.agents_pane import AgentsPane
from jobdash.tui.widgets.completed_header import CompletedHeader
from tests.conftest import wait_for
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]


def counted(svc: Service, name: str) -> list[float]:
    """The times `svc.<name>` is called from now on (the real method still answers)."""
    calls: list[float] = []
    method = getattr(svc, name)

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        return await method(*args, **kwargs)

    setattr(svc, name, counting)
    return calls


async def end_jobs_while_hidden(svc: Service, pilot: Any, pane: Widget, n: int) -> None:
    """Hide `pane`, then let `n` jobs end and its timers pass."""
    pane.display = False
    await until(pilot, lambda: not pane.is_on_screen)
    await pilot.pause(0.3)  # a load under way when it was hidden ends
    for _ in range(n):  # changes to the jobs, each of which a shown pane reloads for
        job = await svc.submit("quick")
        await wait_for(svc, job.id, lambda j: j.status is JobStatus.SUCCEEDED)
        await pilot.pause(0.6)
    await pilot.pause(1.2)  # past the 1 s tick and several samples


async def test_the_agents_pane_behind_another_tab(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=3)
    reads = counted(svc, "agents")
    app = PaneApp(svc, widget=lambda: AgentsPane(svc, sample_every=0.2))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(AgentsPane)
        await until(pilot, lambda: pane.table.row_count == 1)
        assert reads
        hidden_at = time.monotonic()
        await end_jobs_while_hidden(svc, pilot, pane, 3)
        assert [t for t in reads if t > hidden_at + 0.3] == []
        pane.display = True
        await until(pilot, lambda: bool(reads) and reads[-1] > hidden_at + 0.3, timeout=5)
        # What it shows is what happened while it was behind: the three tasks ended.
        await until(pilot, lambda: " 3 " in pane.table.row_text(0), timeout=5)


async def test_the_completed_header_behind_another_tab(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), slots=3)
    reads = counted(svc, "jobs_ended")
    app = PaneApp(svc, widget=lambda: CompletedHeader(svc, every=0.2, min_interval=0.1))
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one(CompletedHeader)
        await until(pilot, lambda: bool(reads))
        hidden_at = time.monotonic()
        await end_jobs_while_hidden(svc, pilot, header, 2)
        assert [t for t in reads if t > hidden_at + 0.3] == []
        header.display = True
        await until(pilot, lambda: bool(reads) and reads[-1] > hidden_at + 0.3, timeout=5)
        await until(pilot, lambda: "✔ 2" in str(header.render_line(0).text), timeout=5)
