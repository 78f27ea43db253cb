"""Pilot tests of the dashboard shell: every key and its effect in the store.

A real SQLite store in tmp_path, with deterministic jobs (see app_harness). Most tests
run without an engine, so jobs stay where the test put them; the ones that need real
work (retry, the live move from In Progress to Completed, quitting with running
tasks) start one.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.content import Content
from textual.widgets import OptionList

from jobdash.cli import main as cli_main
from jobdash.core.model import JobStatus
from jobdash.core.service import Service
from jobdash.demo import DEMO_TYPES
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.dialogs.start_job import StartJobScreen
from jobdash.tui.first_rows import FirstRows
from jobdash.tui.screens.dashboard import DashboardScreen
from jobdash.tui.screens.help import HelpScreen
from tests.conftest import wait_finished, wait_for
from tests.tui.app_harness import (
    NOW,
    finish_behind,
    frozen,
    screen_text,
    write_config,
)

SIZE = (120, 40)

Open = Callable[..., Awaitable[Service]]


def make_app(svc: Service, **kwargs: Any) -> JobdashApp:
    """The dashboard on `svc`, keeping every toast it shows (message, severity) in `told`:
    Textual's own list drops a toast once it has timed out, which on a loaded machine can
    be before a test looks."""
    kwargs.setdefault("embedded_engine", False)
    kwargs.setdefault("clock", frozen())
    kwargs.setdefault("watch_interval", 0.05)
    app = JobdashApp(svc, **kwargs)
    told: list[tuple[str, str]] = []
    show = app.notify

    def notify(message: str, **options: Any) -> None:
        told.append((str(message), str(options.get("severity", "information"))))
        show(message, **options)

    app.notify = notify  # type: ignore[method-assign]
    app.told = told  # type: ignore[attr-defined]
    return app


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; screen:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


def dashboard(app: JobdashApp) -> DashboardScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, DashboardScreen)
    return screen


async def loaded(pilot: Any) -> DashboardScreen:
    dash = dashboard(pilot.app)
    await until(pilot, lambda: dash.loaded)
    await pilot.pause()
    return dash


def messages(app: JobdashApp) -> list[str]:
    """Every toast the app showed (`make_app` keeps them), in order."""
    return [message for message, _ in getattr(app, "told", [])]


def errors(app: JobdashApp) -> list[str]:
    return [message for message, severity in getattr(app, "told", []) if severity == "error"]


async def job_status(svc: Service, job_id: int) -> JobStatus:
    return (await svc.store.get_job(job_id)).status


# --------------------------------------------------------------------------- tabs, loading


async def test_tabs_load_and_switch(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        running, done = dash.table("inprogress"), dash.table("completed")
        assert [j.id for j in running.rows] == [9, 8, 7, 6]
        assert [j.id for j in done.rows] == [5, 4, 3, 2, 1]  # newest first
        assert str(dash.tabs.get_tab("inprogress").label) == "In Progress (4)"
        assert str(dash.tabs.get_tab("completed").label) == "Completed (5)"
        assert running.has_focus

        for key, pane in (
            ("2", "completed"),
            ("3", "scheduled"),
            ("4", "agents"),
            ("5", "failures"),
            ("1", "inprogress"),
        ):
            await pilot.press(key)
            assert dash.tabs.active == pane
        assert running.has_focus
        await pilot.press("right_square_bracket")
        assert dash.tabs.active == "completed"
        assert done.has_focus
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert dash.tabs.active == "failures"
        await pilot.press("right_square_bracket")
        assert dash.tabs.active == "inprogress"


@pytest.mark.parametrize("asked", ["", "full"])
async def test_a_tab_relabelled_moves_its_underline_at_once_unless_animations_are_asked_for(
    open_service: Open, monkeypatch: pytest.MonkeyPatch, asked: str
) -> None:
    """A count in a tab's title changes its width at every filter keystroke: the underline
    jumps (Textual's slide is 0.3 s of frames of the whole screen), unless the user asks
    for animations (TEXTUAL_ANIMATIONS)."""
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", asked)
    svc = await open_service()
    app = make_app(svc)
    assert app.animation_level == ("none" if not asked else "full")
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2")
        await pilot.pause(0.5)  # the switch's own slide, where there is one, has ended
        underline = dash.tabs.query_one("Underline")
        animated: list[str] = []
        animate = underline.animate

        def spy(attribute: str, *args: Any, **kwargs: Any) -> None:
            animated.append(attribute)
            animate(attribute, *args, **kwargs)

        monkeypatch.setattr(underline, "animate", spy)
        dash.tabs.get_tab("completed").label = Content("Completed (1,000+ of 1,000,000)")
        # Its new place is set after a refresh (with a slide: 0.02 s later, then for 0.3 s);
        # asked whether it slid, not whether it still slides (a busy machine lags).
        for _ in range(25):
            await pilot.pause(0.02)
        assert ("highlight_end" in animated) == bool(asked)


async def test_live_changes_move_jobs_and_keep_cursor(open_service: Open, db: Path) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        running, done = dash.table("inprogress"), dash.table("completed")
        await pilot.press("down", "down")
        assert running.cursor_job is not None and running.cursor_job.id == 7

        # Another process submits a job: it shows up, the cursor stays on job 7.
        other = await open_service(user="alice")
        new = await other.submit("export-report", {"format": "json"})
        await until(pilot, lambda: running.get_job(new.id) is not None)
        assert running.cursor_job is not None and running.cursor_job.id == 7
        assert str(dash.tabs.get_tab("inprogress").label) == "In Progress (5)"

        # Job 8 finishes (written behind the dashboard's back): it moves to Completed. A
        # poke of the SQLite file: the harness's jobs have made-up counts and times.
        finish_behind(db, 8)
        await until(pilot, lambda: done.get_job(8) is not None)
        assert running.get_job(8) is None
        assert running.cursor_job is not None and running.cursor_job.id == 7
        assert str(dash.tabs.get_tab("completed").label) == "Completed (6)"


# --------------------------------------------------------------------------- actions


async def said_no(pilot: Any, app: JobdashApp, question: str) -> None:
    """Wait for the confirmation `question`, its No focused, and answer No (enter)."""
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    confirm = app.screen
    assert isinstance(confirm, ConfirmScreen)
    assert confirm.question == question
    assert app.focused is not None and app.focused.id == "no"
    await pilot.press("enter")  # No
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))


async def test_cancel_asks_naming_the_job_no_by_default(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "c")  # job 8, waiting
        await said_no(pilot, app, "Cancel job 8 (import-files /srv/in/2026-11)?")
        assert await job_status(svc, 8) is JobStatus.WAITING

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("Cancelling job 8" in m for m in messages(app)))
        assert await job_status(svc, 8) in (JobStatus.CANCELLING, JobStatus.CANCELLED)
        trail = await svc.store.audit_events("job:8")
        assert [e.action for e in trail][:1] == ["cancel"]


async def test_force_kill(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "C")  # job 6, running
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Force-kill job 6 (import-files /srv/in/2026-11)?"  # type: ignore[attr-defined]
        await pilot.click("#yes")
        await until(pilot, lambda: any("Force-killing job 6" in m for m in messages(app)))
        _status, force = (await svc.store.job_statuses([6]))[6]
        assert force == 1


async def test_cancel_refusals_are_one_line(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("c")  # job 9: rebuild-index, cancellable = false
        await until(pilot, lambda: bool(errors(app)))
        assert not isinstance(app.screen, ConfirmScreen)
        assert errors(app) == [
            "job 9 (rebuild-index) cannot be cancelled: its type says cancellable = false"
        ]
        await pilot.press("2", "c")  # job 5: finished
        await until(pilot, lambda: len(errors(app)) == 2)
        assert errors(app)[1] == "job 5 has ended (succeeded); there is nothing to cancel"


async def test_pause_and_resume(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("p")  # job 9, queued
        await until(pilot, lambda: any("Paused job 9" in m for m in messages(app)))
        assert await job_status(svc, 9) is JobStatus.PAUSED
        await until(pilot, lambda: dash.table("inprogress").rows[0].status is JobStatus.PAUSED)
        await pilot.press("p")
        await until(pilot, lambda: any("Resumed job 9" in m for m in messages(app)))
        assert await job_status(svc, 9) is not JobStatus.PAUSED


async def test_rerun_starts_same_type_and_params(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2", "down")  # job 4: import-files /srv/in/old, cancelled
        await pilot.press("r")  # a new job, which no key undoes: asked first
        await said_no(pilot, app, "Run job 4 (import-files /srv/in/old) again?")
        assert 10 not in [job.id for job in await svc.jobs()]
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("Started job 10" in m for m in messages(app)))
        job = await svc.store.get_job(10)
        assert (job.type, job.params["source"]) == ("import-files", "/srv/in/old")
        assert dash.tabs.active == "inprogress"
        cursor = dash.table("inprogress").cursor_job
        assert cursor is not None and cursor.id == 10


async def test_a_rerun_the_filter_hides_says_so(open_service: Open) -> None:
    """The new job of a rerun from the Completed tab, filtered to `status:cancelled`,
    landed in In Progress hidden by that filter, with nothing said: the toast says so."""
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2", "slash", *"status:cancelled", "enter")
        assert dash.table("completed").select_job(4)  # import-files /srv/in/old, cancelled
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("Started job 10" in m for m in messages(app)))
        assert 10 in [job.id for job in await svc.jobs()]
        assert dash.tabs.active == "inprogress"
        said = [m for m in messages(app) if "Started job 10" in m]
        assert said == [
            "Started job 10 (import-files /srv/in/old): "
            "the filter 'status:cancelled' hides it (esc clears it)"
        ]


async def test_retry_failed_tasks(open_service: Open) -> None:
    svc = await open_service()
    await svc.start_engine(slots=2)
    failed = await svc.submit("flaky")
    await wait_finished(svc, failed.id)
    app = make_app(svc, clock=time.time)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2")
        assert dash.table("completed").select_job(failed.id)
        await pilot.press("R")
        await until(pilot, lambda: any("Retrying 1 task of" in m for m in messages(app)))
        events = await svc.store.audit_events(f"job:{failed.id}")
        assert "retry" in [e.action for e in events]
        job = await wait_finished(svc, failed.id)
        assert job.status is JobStatus.FAILED
        # Retry of a job with nothing failed is refused in one line.
        assert dash.table("completed").select_job(5)
        await pilot.press("R")
        await until(pilot, lambda: bool(errors(app)))


async def test_export_writes_the_filtered_list(open_service: Open, tmp_path: Path) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2", "slash", *"-status:succeeded", "enter", "e")
        await until(pilot, lambda: any("Exported 3 jobs to" in m for m in messages(app)))
        (path,) = tmp_path.glob("jobdash-export-*.csv")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(NOW))
        assert path.name == f"jobdash-export-{stamp}.csv"
        rows = list(csv.reader(io.StringIO(path.read_text())))
        assert rows[0][:6] == ["startDate", "endDate", "jobName", "jobStatus", "jobInfo", "jobUser"]
        assert [r[3] for r in rows[1:]] == ["cancelled", "warning", "failed"]


async def test_clear_finished_after_confirm(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert len(await svc.jobs(active=False)) == 5
        await pilot.press("x", "y")
        await until(pilot, lambda: any("Cleared 5 finished jobs" in m for m in messages(app)))
        assert await svc.jobs(active=False) == []
        await until(pilot, lambda: dash.table("completed").total_count == 0)
        assert dash.table("inprogress").total_count == 4


async def test_copy_id(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "y")
        assert app.clipboard == "8"
        assert "Copied job id 8" in messages(app)


async def test_sort_keys_reach_the_table(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        table = dash.table("inprogress")
        await pilot.press("s")
        assert table.sort_column == "type"
        await pilot.press("S")
        assert table.sort_reverse is False


# --------------------------------------------------------------------------- start a job


async def test_start_job_form_validates_and_submits(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, StartJobScreen))
        form = app.screen
        assert isinstance(form, StartJobScreen)
        # The cursor was on job 9 (rebuild-index): that type is picked.
        assert form.job_type is not None and form.job_type.name == "rebuild-index"
        types = form.query_one("#start-types", OptionList)
        types.highlighted = [t.name for t in form.types].index("import-files")
        await until(pilot, lambda: "source" in form._inputs)
        assert form._inputs["batch"].value == "500"  # the default
        # Tab from the types goes to the first field: what is typed next is in it (the
        # form's scroll container took the first Tab, and the keys after were lost).
        types.focus()
        await pilot.press("tab", "x")
        assert app.focused is form._inputs["source"] and form._inputs["source"].value == "x"
        form._inputs["source"].value = ""
        # source is required: the service's error shows inline, nothing is created.
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "required" in str(form.query_one("#start-error").render()))
        assert len(await svc.jobs()) == 9
        form._inputs["source"].value = "/data/drop"
        form._inputs["source"].focus()
        await pilot.press("enter", "enter")  # next field, then start
        await until(pilot, lambda: not isinstance(app.screen, StartJobScreen))
        job = await svc.store.get_job(10)
        assert job.type == "import-files"
        assert job.params == {"source": "/data/drop", "batch": "500"}
        assert job.total == 4
        cursor = dash.table("inprogress").cursor_job
        assert cursor is not None and cursor.id == 10
        assert any("Started job 10 (import-files /data/drop)" in m for m in messages(app))


async def test_start_job_escape_cancels(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, StartJobScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert len(await svc.jobs()) == 9


# --------------------------------------------------------------------------- screens


async def test_enter_opens_details(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: not isinstance(app.screen, DashboardScreen))
        assert getattr(app.screen, "job_id", None) == 8
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_help_lists_active_bindings_grouped(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        by_id = {e.binding_id: e for e in help_screen.entries}
        for binding_id in (
            "job.cancel",
            "job.kill",
            "job.new",
            "job.pause",
            "job.retry",
            "job.rerun",
            "job.export",
            "job.clear",
            "job.copy",
            "filter.open",
            "tab.next",
            "app.help",
            "app.quit",
            "app.theme",
            "app.palette",
            "jobtable.sort_next",
            "jobtable.select",
        ):
            assert binding_id in by_id, binding_id
        assert by_id["job.cancel"].keys == "c" and by_id["job.cancel"].group == "Jobs"
        assert by_id["job.kill"].keys == "C"
        groups = list(dict.fromkeys(e.group for e in help_screen.entries))
        assert groups[:3] == ["General", "Tabs", "Jobs"]
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_command_palette_runs_actions(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Jobs: Cancel")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question.startswith("Cancel job 8 ")  # type: ignore[attr-defined]


async def test_keymap_from_config(open_service: Open, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        '\n[keymap]\n"job.cancel" = "k"\n"tab.completed" = "f2"\n',
    )
    svc = await open_service(cfg=cfg)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("c")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("down", "k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("f2")
        assert dash.tabs.active == "completed"


async def test_themes(open_service: Open, tmp_path: Path) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.theme == "jobdash-night"
        assert {"jobdash-night", "jobdash-paper"} <= set(app.available_themes)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))

    app = make_app(svc, theme="jobdash-paper")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "jobdash-paper"

    cfg = (
        write_config(tmp_path, "")
        .read_text()
        .replace('timezone = "UTC"', 'timezone = "UTC"\ntheme = "nord"')
    )
    (tmp_path / "themed.toml").write_text(cfg)
    svc2 = await open_service(cfg=tmp_path / "themed.toml")
    app = make_app(svc2)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord"


async def test_read_only_refuses_in_one_line(open_service: Open) -> None:
    svc = await open_service(read_only=True)
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert "read-only" in app.sub_title
        await pilot.press("p")
        await until(pilot, lambda: bool(errors(app)))
        assert errors(app) == ["read-only: cannot pause"]
        assert await job_status(svc, 9) is JobStatus.QUEUED


async def test_not_yours_is_refused(open_service: Open) -> None:
    """bob is no admin: he sees only his jobs, and a refusal is one line."""
    svc = await open_service(user="bob")
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        assert [j.id for j in dash.table("inprogress").rows] == [7]
        assert [j.id for j in dash.table("completed").rows] == [2]
        await pilot.press("x", "y")
        await until(pilot, lambda: any("Cleared 1 finished job" in m for m in messages(app)))
        assert [j.id for j in await (await open_service()).jobs(active=False)] == [5, 4, 3, 1]


async def test_resize_to_80x24_and_back(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        for size in ((80, 24), (60, 15), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.press("2", "1", "slash", "a", "escape")
            assert app.size == size
        assert "In Progress" in screen_text(app)
        assert dash.table("inprogress").cursor_job is not None


# --------------------------------------------------------------------------- quitting


async def test_q_quits_when_nothing_runs(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc, embedded_engine=True)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        # Job 6 claims 2 running tasks in the fixture; make it idle.
        dash.table("inprogress").remove_jobs([6])
        await pilot.press("q")
        await until(pilot, lambda: app._exit)
    assert app.return_code == 0


async def test_quit_with_running_tasks_asks_first(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc, embedded_engine=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("q")  # job 6 has 2 running tasks
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Quit? 2 tasks are running here."  # type: ignore[attr-defined]
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert not app._exit
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app._exit)


async def test_q_pressed_at_the_first_frame_with_tasks_running_asks_first(
    open_service: Open,
) -> None:
    """`q` pressed as the dashboard opens, its first rows read before it, as `jobdash`
    reads them: the question is asked as it is later, its dialog's module loaded by the key
    (not before the first frame)."""
    svc = await open_service()
    app = make_app(svc, embedded_engine=True, first_rows=await FirstRows.read(svc))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")  # job 6 has 2 running tasks; nothing waited for before
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Quit? 2 tasks are running here."  # type: ignore[attr-defined]
        assert not app._exit


async def test_attached_dashboard_quits_without_asking(open_service: Open) -> None:
    svc = await open_service()
    app = make_app(svc, embedded_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("q")
        await until(pilot, lambda: app._exit)


async def test_attached_names_the_engine(open_service: Open) -> None:
    engine = await open_service()
    agent = await engine.start_engine(slots=1)
    svc = await open_service()
    app = make_app(svc, embedded_engine=False, clock=time.time)
    app.engine_look_every = 0.2
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "attached to engine" in app.sub_title)
        assert agent.name in app.sub_title
        # The engine stops: said within a look, not left named for as long as it runs.
        await engine.close()
        await until(pilot, lambda: "no engine running" in app.sub_title)
        assert agent.name not in app.sub_title


# --------------------------------------------------------------------------- demo, entry


async def test_demo_starts_jobs_when_few_are_active(tmp_path: Path) -> None:
    svc = await Service.open(db=str(tmp_path / "demo.db"), extra_types=DEMO_TYPES, user="alice")
    try:
        app = JobdashApp(svc, embedded_engine=False, demo=True, watch_interval=0.05)
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            await until(pilot, lambda: dash.table("inprogress").total_count >= 5)
        types = sorted(j.type for j in await svc.jobs(active=True))
        assert types[0] == "archive-space" and "import-files" in types
    finally:
        await svc.close()


async def test_demo_jobs_of_an_older_jobdash_do_not_stop_the_demo(tmp_path: Path) -> None:
    """Demo jobs left unfinished by an older jobdash wait for good (their type changed since
    submit): `--demo` starts new ones beside them rather than count them as active."""
    db = tmp_path / "demo.db"
    svc = await Service.open(db=str(db), extra_types=DEMO_TYPES, user="alice")
    try:
        await svc.start_engine(slots=0)  # live, its catalogue published; it runs nothing
        # Not an exclusive type: the engine may admit the first before the poke below, and
        # the others would then wait for its exclusive slot, not for their type.
        old = [await svc.submit("export-report", {"format": "csv"}) for _ in range(3)]
        con = sqlite3.connect(db)  # SQLite poke: as an older jobdash's definition hashed
        with con:
            con.execute(
                "UPDATE jobs SET type_hash = 'older' WHERE id IN (?, ?, ?)", [j.id for j in old]
            )
        con.close()
        assert {(await svc.why(j.id)).kind for j in old} == {"type"}
        app = JobdashApp(svc, embedded_engine=True, demo=True, watch_interval=0.05)
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            await until(pilot, lambda: dash.table("inprogress").total_count >= 3 + 5)
    finally:
        await svc.close()


async def test_embedded_engine_runs_jobs_live(open_service: Open) -> None:
    """With an engine, a new job goes from In Progress to Completed by itself."""
    svc = await open_service()
    await svc.start_engine(slots=2)
    app = make_app(svc, clock=time.time, embedded_engine=True)
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        job = await svc.submit("export-report")
        await until(pilot, lambda: dash.table("completed").get_job(job.id) is not None)
        assert dash.table("inprogress").get_job(job.id) is None
        await wait_for(svc, job.id, lambda j: j.status.finished)


def test_bad_config_exits_2_before_the_ui(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[types.x]\ncommand = 3\n")
    assert cli_main(["--db", str(tmp_path / "x.db"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jobdash: ") and err.count("\n") == 1


def test_unknown_theme_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--db", str(tmp_path / "x.db"), "--theme", "nope"]) == 2
    assert "unknown theme 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_dashboard_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, jobdash.cli; print('textual.app' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
