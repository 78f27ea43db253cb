"""Permission groups in the dashboard: a key whose action the user's roles do not allow on
the job under the cursor is greyed in the footer with a tooltip saying why, and follows the
cursor; pressed anyway, it asks nothing and is refused in one toast naming the missing
right. The store is app_harness's (In Progress, top down: 9 rebuild-index queued, 8
import-files waiting, 7 paused, 6 running), seen by dan, who owns none of its jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.widgets.schedules_pane import SchedulesPane
from tests.test_cli_several import SCHEDULED
from tests.tui.app_harness import write_config
from tests.tui.conftest import Open
from tests.tui.pane_harness import SIZE
from tests.tui.test_app import errors, job_status, loaded, make_app, until

ROLES = """
[roles.watchers]
members = ["dan"]
can = ["view"]

[roles.importers]
members = ["dan"]
can = ["cancel", "pause"]
types = ["import-*"]
"""


async def as_dan(open_service: Open, tmp_path: Path, roles: str = ROLES) -> Service:
    """The harness's store seen by dan, under a config of `roles` (in a folder of its own)."""
    folder = tmp_path / "roles"
    folder.mkdir()
    return await open_service(user="dan", cfg=write_config(folder, roles))


def footer_key(dash: DashboardScreen, key: str) -> Any:
    """The footer's entry for `key` (found by its type's name: Textual does not export it)."""
    (found,) = [k for k in dash.query("FooterKey") if getattr(k, "key", None) == key]
    return found


async def test_keys_not_allowed_are_greyed_say_why_and_are_refused(
    open_service: Open, tmp_path: Path
) -> None:
    svc = await as_dan(open_service, tmp_path)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.table("inprogress")
        table.focus()
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 9)
        # rebuild-index: dan may see it (watchers) but not act on it.
        await until(pilot, lambda: footer_key(dash, "c").has_class("-disabled"))
        for key, right in (("c", "cancel"), ("p", "pause"), ("R", "retry"), ("n", "run")):
            assert footer_key(dash, key).has_class("-disabled"), key
            assert dash.active_bindings[key].tooltip == f"not allowed: no right to {right}"
        await pilot.press("c")
        await until(pilot, lambda: len(errors(app)) == 1)
        assert not isinstance(app.screen, ConfirmScreen)
        assert errors(app) == [
            "dan may not cancel job 9 (rebuild-index): no role allows cancel there "
            "(dan's roles: watchers, importers)"
        ]
        await pilot.press("p")
        await until(pilot, lambda: len(errors(app)) == 2)
        assert "dan may not pause or resume job 9" in errors(app)[1]
        assert (await job_status(svc, 9)).value == "queued"

        # import-files: within the importers' types, so cancel and pause are dan's.
        await pilot.press("down")
        await until(pilot, lambda: table.cursor_job is not None and table.cursor_job.id == 8)
        await until(pilot, lambda: not footer_key(dash, "c").has_class("-disabled"))
        assert not footer_key(dash, "p").has_class("-disabled")
        assert footer_key(dash, "R").has_class("-disabled")  # retry is not theirs
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Cancelling job 8" in " ".join(m for m, _ in app.told))
        assert (await job_status(svc, 8)).value in ("cancelling", "cancelled")


async def test_schedule_keys_follow_the_schedule_under_the_cursor(
    open_service: Open, tmp_path: Path
) -> None:
    """dan may change the nightly schedule only: on the Scheduled tab r p E M are greyed
    on the others, saying why, and pressed there they are refused naming the right."""
    night = '[roles.night]\nmembers = ["dan"]\ncan = ["schedule"]\ntypes = ["nightly"]\n'
    svc = await as_dan(open_service, tmp_path, SCHEDULED + night)
    await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("3")
        pane = dash.query_one(SchedulesPane)
        await until(pilot, lambda: pane.table.row_count == 3)
        pane.table.focus()
        seen: dict[str, bool] = {}
        for _ in range(3):
            await pilot.pause()
            s = pane.current_schedule()
            assert s is not None
            want = s.id != "nightly"
            await until(
                pilot, lambda want=want: footer_key(dash, "r").has_class("-disabled") == want
            )  # type: ignore[misc]
            for key in ("p", "E", "M"):
                assert footer_key(dash, key).has_class("-disabled") == want, (s.id, key)
            seen[s.id] = want
            if want:
                tip = [b.tooltip for b in dash.active_bindings.values() if b.binding.key == "r"]
                assert tip == ["not allowed: no right to schedule"]
                await pilot.press("p")
                await until(pilot, lambda: len(errors(app)) >= 1)
                assert errors(app)[-1].startswith(f"dan may not change or run schedule {s.id}")
                assert (await svc.schedule(s.id)).enabled
            await pilot.press("down")
        assert seen == {"nightly": False, "weekly": True, "hourly": True}


async def test_a_rerun_not_allowed_asks_nothing(open_service: Open, tmp_path: Path) -> None:
    """`r` makes a new job, so it asks first; dan may not run one, so it is refused at once
    instead, naming the right, as the other keys are (it asked, then refused, before)."""
    svc = await as_dan(open_service, tmp_path)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2")
        assert dash.table("completed").select_job(4)  # import-files, alice's
        await pilot.press("r")
        await until(pilot, lambda: len(errors(app)) == 1)
        assert not isinstance(app.screen, ConfirmScreen)
        assert errors(app)[0].startswith("dan may not start a job"), errors(app)
        assert 10 not in [job.id for job in await svc.jobs()]
