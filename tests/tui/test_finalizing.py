"""Pilot test: a job finalizing in the dashboard, with a real engine running a command type's
finalize step on a real SQLite store. The In Progress tab shows it `◔ finalizing`, its details
name the step, list it as the job's last task and show its log lines; `c` cancels it and
the job ends cancelled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.conftest import wait_for
from tests.tui.app_harness import screen_text
from tests.tui.test_app import SIZE, loaded, until

Open = Callable[..., Awaitable[Service]]

CONFIG = """
[jobdash]
admins = ["root"]

[types.collect]
params.dir = { required = true }
items = ["a", "b"]
command = ["sh", "-c", "echo part {item}"]
finalize = ["sh", "-c", "echo $$ > {dir}/step; echo compiling parts; while true; do sleep 0.05; done"]
parallel = 2
"""


async def test_finalizing_in_the_dashboard_then_cancelled(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("collect", {"dir": str(tmp_path)})
    await wait_for(svc, job.id, lambda j: j.status is JobStatus.FINALIZING)
    app = JobdashApp(svc, embedded_engine=False, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        running = dash.table("inprogress")
        await until(pilot, lambda: running.get_job(job.id) is not None)
        await until(pilot, lambda: "◔ finalizing" in screen_text(app))

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.tasks_table.row_count == 3)
        head = str(screen.header.render())
        assert "◔ finalizing" in head
        assert "then finalize sh -c 'echo $$ > {dir}/step;" in head
        last = screen.tasks_table.row_text(2)
        assert "finalize" in last and "▶ running" in last
        await until(pilot, lambda: "compiling parts" in [ln.text for ln in screen.log_view.lines])

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        ended = await wait_for(svc, job.id, lambda j: j.status.finished)
        assert (ended.status, ended.info) == (
            JobStatus.CANCELLED,
            "cancelled while finalizing (1 of 3 tasks cancelled)",
        )
        await until(pilot, lambda: "⊗ cancelled" in str(screen.header.render()))
        tasks = await svc.tasks(job.id)
        assert [(t.name, t.status) for t in tasks][-1] == ("finalize", TaskStatus.CANCELLED)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
