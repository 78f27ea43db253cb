"""Pilot tests for the job details screen on a real SQLite store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.service import Service
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.conftest import wait_finished, wait_for
from tests.tui.pane_harness import CONFIG, SIZE, PaneApp, until
from tests.tui.test_log_view import rows

Open = Callable[..., Awaitable[Service]]
EVIL = "[bold red]x[/] \x1b[2J \x1b]52;c;aGk=\x07 end"
# jobdash's own line in the log of "three"'s task b, which fails for good
B_FAILED = "b: attempt 1 of 1 failed (exit 1); no retries left"


def log_texts(screen: JobDetailsScreen) -> list[str]:
    return [line.text for line in screen.log_view.lines]


def header_text(screen: JobDetailsScreen) -> str:
    return str(screen.header.render())


async def open_details(svc: Service, job_id: int, **kw: object) -> PaneApp:
    return PaneApp(svc, screen=lambda: JobDetailsScreen(svc, job_id), **kw)  # type: ignore[arg-type]


async def finished_three(services: Open, write_config: Callable[[str], Path]) -> PaneApp:
    """The details of a finished job of type `three` (three tasks, the second failed)."""
    svc = await services(write_config(CONFIG))
    job = await wait_finished(svc, (await svc.submit("three")).id)
    return await open_details(svc, job.id)


async def test_header_tasks_and_log_of_a_finished_job(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("three")
    job = await wait_finished(svc, job.id)
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.tasks_table.row_count == 3 and screen.log_view.lines)
        head = header_text(screen)
        assert "✘ failed" in head
        assert "3/3 tasks" in head
        assert "failed 1" in head
        assert "duration " in head
        assert f"job {job.id} · three" in head
        assert "started by root (manual)" in head
        texts = log_texts(screen)
        for item in "abc":
            assert f"task {item}" in texts
        assert "✘ failed" in screen.tasks_table.row_text(1)
        assert "exit 1" in screen.tasks_table.row_text(1)

        # F: failed tasks only, and back.
        await pilot.press("F")
        assert screen.tasks_table.row_count == 1
        assert screen.tasks_table.rows[0].key == 2
        await pilot.press("F")
        assert screen.tasks_table.row_count == 3

        # The cursor on a task shows that task's log only; `a` shows all again.
        screen.tasks_table.focus()
        await pilot.press("down")  # first task
        await until(pilot, lambda: set(log_texts(screen)) == {"task a", "more a"})
        await pilot.press("down")
        await until(pilot, lambda: set(log_texts(screen)) == {"task b", "more b", B_FAILED})
        assert screen.log_task == 2
        await pilot.press("a")
        await until(pilot, lambda: len(log_texts(screen)) == 7)
        assert screen.log_task is None
        assert screen.tasks_table.cursor_key is None

        # q goes back.
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, JobDetailsScreen)


async def test_log_streams_while_running_and_header_follows(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("ticker")
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: "tick 40" in log_texts(screen))
        assert log_texts(screen) == [f"tick {i}" for i in range(1, 41)]
        await until(pilot, lambda: screen.job is not None and screen.job.status.finished)
        assert "✔ succeeded" in header_text(screen)
        view = screen.log_view
        assert view.following
        assert "tick 40" in " ".join(rows(view))


async def test_log_keys_follow_wrap_timestamps_search_and_save(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    job = await wait_finished(svc, (await svc.submit("three")).id)
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        view = screen.log_view
        await until(pilot, lambda: len(view.lines) == 7)
        await pilot.press("f")
        assert not view.following
        await pilot.press("f")
        assert view.following
        await pilot.press("w")
        assert view.wrap
        await pilot.press("t")
        assert view.timestamps
        # The keys also work with the focus on the tasks table.
        screen.tasks_table.focus()
        await pilot.press("t")
        assert not view.timestamps
        view.focus()
        await pilot.press("slash", *"more", "enter")
        assert view.match_count == 3
        first = view.current_match
        await pilot.press("n")
        assert view.current_match != first
        await pilot.press("N")
        assert view.current_match == first
        await pilot.press("escape")  # closes the search, not the screen
        assert isinstance(app.screen, JobDetailsScreen)
        await pilot.press("s")
        path = tmp_path / f"jobdash-job-{job.id}.log"
        await until(pilot, path.exists)
        await until(pilot, lambda: len(path.read_text().splitlines()) == 7)
        # time, task, stream, text (tests/tui/test_untrusted_text_tui.py checks the format)
        fields = [line.split("\t")[1:] for line in path.read_text().splitlines()]
        assert ["#1 a", "stdout", "task a"] in fields
        assert any(str(path) in str(n.message) for n in app._notifications)


async def test_cancel_and_force_ask_first_then_act(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("slow")
    await wait_for(svc, job.id, lambda j: j.status is JobStatus.RUNNING)
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"job {job.id}" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("enter")  # focus starts on No
        await pilot.pause()
        assert (await svc.job(job.id)).status is JobStatus.RUNNING
        assert isinstance(app.screen, JobDetailsScreen)
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_finished(svc, job.id)
        assert (await svc.job(job.id)).status is JobStatus.CANCELLED
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: "⊗ cancelled" in header_text(screen))


async def test_cancel_confirmed(services: Open, write_config: Callable[[str], Path]) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("slow")
    await wait_for(svc, job.id, lambda j: j.status is JobStatus.RUNNING)
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        done = await wait_finished(svc, job.id)
        assert done.status is JobStatus.CANCELLED


async def test_pause_resume_and_refusal(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("slow")
    await wait_for(svc, job.id, lambda j: j.status is JobStatus.RUNNING)
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.job is not None)
        await pilot.press("p")
        await wait_for(svc, job.id, lambda j: j.status is JobStatus.PAUSED)
        await until(pilot, lambda: "⏸ paused" in header_text(screen))
        # While it is paused, the header says why it waits: who paused it, and when (the
        # service's answer, `jobdash why`'s).
        await until(pilot, lambda: "waiting paused by root at " in header_text(screen))
        await pilot.press("p")
        await wait_for(svc, job.id, lambda j: j.status is not JobStatus.PAUSED)
        # Retrying a job with nothing failed is refused in one line.
        await pilot.press("R")
        await until(pilot, lambda: bool(app.refusals))
        assert len(app.refusals[0].splitlines()) == 1
        await svc.cancel(job.id, force=True)


async def test_retry_requeues_failed_tasks(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG))
    job = await wait_finished(svc, (await svc.submit("three")).id)
    assert job.status is JobStatus.FAILED
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await until(pilot, lambda: any(t.attempt == 2 for t in screen_tasks(app)), timeout=20)
        tasks = await svc.tasks(job.id)
        retried = next(t for t in tasks if t.seq == 2)
        assert retried.attempt == 2
        assert [t.attempt for t in tasks if t.seq != 2] == [1, 1]
        assert retried.status in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.FAILED)


def screen_tasks(app: PaneApp) -> list:  # type: ignore[type-arg]
    screen = app.screen
    return list(screen._tasks) if isinstance(screen, JobDetailsScreen) else []


async def test_job_output_is_displayed_inert(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """Markup, ANSI escapes and OSC 52 in a log line are shown literally, never acted on."""
    svc = await services(write_config(CONFIG), engine=False)
    job = await svc.submit("quick")
    await svc.store.append_log(job.id, None, "stdout", EVIL)
    await svc.store.flush()
    app = await open_details(svc, job.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: bool(screen.log_view.lines))
        await pilot.pause()
        strips = [screen.log_view.lines_view.render_line(y) for y in range(5)]
        shown = "\n".join(strip.text for strip in strips)
        assert "[bold red]x[/] ␛[2J ␛]52;c;aGk=␇ end" in shown
        for strip in strips:
            for segment in strip:
                assert "\x1b" not in segment.text and "\x07" not in segment.text
                # Not styled as markup would have it: no bold red on the job's text.
                if "x[/]" in segment.text and segment.style is not None:
                    assert not segment.style.bold
        # The whole screen as the compositor draws it carries no raw ESC/BEL from the job.
        lines = app.screen._compositor.render_strips()
        drawn = "\n".join(strip.text for strip in lines)
        assert "[bold red]x[/]" in drawn
        assert "\x1b" not in drawn and "\x07" not in drawn
        # Saving keeps the raw bytes (a file is not a terminal).
        assert EVIL in screen.log_view.export_text()


async def test_at_80x24_the_log_has_the_rows_the_tasks_do_not_need(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """A job of three tasks: the table is as high as its rows (no blank rows under them),
    and the log has the rest, also with the pictures as text (`v`), whose words take more
    rows (the walk-through found the log one row high there, under four blank rows)."""
    app = await finished_three(services, write_config)
    app.show_numbers = True  # type: ignore[attr-defined]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.tasks_table.row_count == 3 and screen.log_view.lines)
        await pilot.pause()
        table, log = screen.tasks_table, screen.log_view.lines_view
        assert table.size.height == 1 + 3
        assert log.size.height >= 8


async def test_the_log_of_several_tasks_says_which_task_wrote_each_line(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """All the tasks' lines (interleaved when tasks run side by side): each starts with
    its task's number, as `jobdash logs` labels them; one task's log, or the log of a job
    of one task, has no labels."""
    app = await finished_three(services, write_config)
    svc = app.service
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        view = screen.log_view
        await until(pilot, lambda: len(log_texts(screen)) == 7 and "#1" in rows(view)[0])
        shown = [row.rstrip() for row in rows(view) if row.strip()]
        # Padded to "job", the label of a line no task wrote (none here).
        assert shown[:2] == [" #1  │ task a", " #1  │ more a"]
        assert " #2  │ task b" in shown and " #3  │ more c" in shown

        screen.tasks_table.focus()
        await pilot.press("down", "down")  # task 2's log only: no labels
        await until(pilot, lambda: set(log_texts(screen)) == {"task b", "more b", B_FAILED})
        assert [row.rstrip() for row in rows(view)][:2] == [" task b", " more b"]
        await pilot.press("a")  # every task's again
        await until(pilot, lambda: len(log_texts(screen)) == 7)
        assert rows(view)[0].rstrip() == " #1  │ task a"

    one = await wait_finished(svc, (await svc.submit("quick")).id)
    app = await open_details(svc, one.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        await until(pilot, lambda: screen.tasks_table.row_count == 1 and log_texts(screen))
        await pilot.pause(0.3)
        assert rows(screen.log_view)[0].rstrip() == " hello"
