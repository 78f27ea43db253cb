"""Agent deaths charged only where attributable, retry of a quarantined task, and the output
of an attempt whose claim was taken over (issue 8, items 11 and 13).

Real `jobdash agent` processes killed by their own task (`kill -9 $PPID`), real SIGSTOP and
SIGCONT, the real SQLite file; the store-level tests drive the same store in-process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.deaths import SUSPECT_DRAIN, LostTask, judge
from jobdash.core.model import TaskStatus
from jobdash.core.processes import group_alive
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant, NewJob, NewTask, Outcome
from tests.conftest import new_job
from tests.test_agents import FAST, Cluster, read_lines, until

CONFIG = """
# Kills the agent that runs it, half a second in.
[types.killer]
command = ['sh', '-c', 'sleep 0.5; kill -9 $PPID']
retries = 5

# Innocent.
[types.nap]
command = ['sleep', '3']
retries = 2

# Attempt 1 prints a line, then another while its agent is frozen, then hangs.
[types.chatty]
params.dir = { required = true }
command = ['sh', '-c', 'echo $$ > {dir}/pid.$JOBDASH_ATTEMPT; echo "early $JOBDASH_ATTEMPT"; if [ "$JOBDASH_ATTEMPT" = 1 ]; then sleep 2; echo "late $JOBDASH_ATTEMPT"; sleep 300; fi; echo "done $JOBDASH_ATTEMPT"']
retries = 1
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    c.cfg.write_text(CONFIG)
    try:
        yield c
    finally:
        c.close()


def task_row(c: Cluster, job: int) -> dict[str, Any]:
    cols = ("status", "attempt", "lost", "charged", "error")
    (row,) = c.q(f"SELECT {', '.join(cols)} FROM tasks WHERE job_id = ?", (job,))
    return dict(zip(cols, row, strict=True))


# --------------------------------------------------------------------------- item 11


def test_an_innocent_neighbour_of_a_task_that_kills_its_agent_is_not_quarantined(
    cluster: Cluster,
) -> None:
    nap = cluster.run("nap")
    killer = cluster.run("killer")
    deaths = 0

    def settled() -> bool:
        return cluster.job(killer)["status"] == "failed" and cluster.job(nap)["status"] in (
            "succeeded",
            "failed",
        )

    for i in range(8):
        proc = cluster.start(f"k{i}", "--slots", "2", env=FAST)
        until(lambda p=proc: p.poll() is not None or settled(), 40, "agent killed or all done")
        if proc.poll() is None:
            break
        deaths += 1
        if i == 0:
            # The first agent died running both.
            for job in (nap, killer):
                assert cluster.tasks(job).popitem()[1]["agent"] == "k0"
                assert task_row(cluster, job)["status"] == "running"
    # Death 1: both ran there, not attributable; then each ran alone: the nap succeeded,
    # the killer killed two more agents alone and was quarantined (retries were left).
    assert deaths == 3
    assert task_row(cluster, nap) == {
        "status": "succeeded",
        "attempt": 2,
        "lost": 1,
        "charged": 0,
        "error": "",
    }
    assert cluster.job(nap)["status"] == "succeeded"
    assert task_row(cluster, killer) == {
        "status": "failed",
        "attempt": 3,
        "lost": 3,
        "charged": 2,
        "error": "quarantined: killed its agent 2 times",
    }
    (first,) = [t for t in cluster.system_log(nap) if "lost with agent k0" in t]
    assert "running 2 tasks" in first and "not attributable" in first
    assert f"job {killer} #1 killer" in first and f"job {nap} #1 nap" in first
    assert "running it again, alone" in first
    killer_log = cluster.system_log(killer)
    assert any("lost with agent k1, where it ran alone: charged" in t for t in killer_log)
    assert any("quarantined: killed its agent 2 times, not run again" in t for t in killer_log)
    assert not any("charged" in t for t in cluster.system_log(nap))
    # The live agent never claims it again.
    time.sleep(1)
    assert task_row(cluster, killer)["attempt"] == 3


# --------------------------------------------------------------------------- the store


def commands(name: str, tasks: int = 1, retries: int = 3) -> NewJob:
    """A job of `tasks` command tasks named name0, name1…"""
    return new_job(
        name,
        [NewTask(f"{name}{i}", f"{name}{i}", "command", None) for i in range(tasks)],
        retries=retries,
        backoff=0,
    )


async def die(store: Store, owner: str, n: int) -> list[int]:
    """An agent claims `n` tasks and dies at once (its leases already ran out)."""
    claims = await store.claim(Claimant(owner, owner, n, -1))
    assert await store.recover_lost() == len(claims)
    return [c.task_id for c in claims]


async def lines(store: Store, job: int) -> list[str]:
    return [ln.text for ln in await store.logs(job) if ln.stream == "system"]


async def test_a_death_beside_others_charges_no_one_and_each_suspect_then_runs_alone(
    tmp_path: Path,
) -> None:
    store = await open_store(str(tmp_path / "s.db"))
    try:
        a = await store.create_job(commands("a"))
        b = await store.create_job(commands("b"))
        await store.admit()
        assert len(await die(store, "d1", 4)) == 2
        for job in (a, b):
            (t,) = await store.tasks(job.id)
            assert (t.status, t.attempt, t.error) == (TaskStatus.PENDING, 1, "agent lost")
            (text,) = await lines(store, job.id)
            assert "not attributable" in text and "suspects" in text
        c = await store.create_job(commands("c", tasks=2))
        await store.admit()
        # A suspect is waiting: a busy agent claims nothing (it drains), an idle one takes
        # the suspect alone, and nothing beside it.
        assert await store.claim(Claimant("busy", "busy", 3, 15, idle=False)) == []
        (first,) = await store.claim(Claimant("idle", "idle", 4, 15))
        assert first.job_id == a.id and first.alone
        assert await store.claim(Claimant("idle", "idle", 3, 15, idle=False)) == []
        # Alone, it is charged with a death.
        await store.complete(Outcome(first.task_id, first.attempt, "idle", TaskStatus.SUCCEEDED))
        (second,) = await die(store, "d2", 4)
        assert second == (await store.tasks(b.id))[0].id
        (t,) = await store.tasks(b.id)
        assert (t.status, t.error) == (TaskStatus.PENDING, "agent lost")
        assert (
            "where it ran alone: charged with that death (1 so far)"
            in (await lines(store, b.id))[-1]
        )
        # A second death alone: quarantined, though retries are left.
        await die(store, "d3", 4)
        (t,) = await store.tasks(b.id)
        assert (t.status, t.error) == (TaskStatus.FAILED, "quarantined: killed its agent 2 times")
        # The ordinary tasks run side by side again.
        claims = await store.claim(Claimant("idle", "idle", 4, 15))
        assert sorted(cl.job_id for cl in claims) == [c.id, c.id]
        assert not any(cl.alone for cl in claims)
    finally:
        await store.close()


async def test_busy_agents_make_way_for_a_suspect_for_a_bounded_time(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = await open_store(str(db))
    try:
        await store.create_job(commands("a", tasks=2))
        await store.admit()
        await die(store, "d1", 4)  # both: suspects
        b = await store.create_job(commands("b"))
        await store.admit()
        assert await store.has_claimable(idle=True)
        assert not await store.has_claimable(idle=False)
        assert await store.claim(Claimant("busy", "busy", 2, 15, idle=False)) == []
        con = sqlite3.connect(db)  # SQLite poke: 30 s pass (no store call moves not_before)
        with con:  # the suspects have waited longer than SUSPECT_DRAIN
            con.execute("UPDATE tasks SET not_before = not_before - ?", (SUSPECT_DRAIN + 1,))
        con.close()
        assert await store.has_claimable(idle=False)
        (claim,) = await store.claim(Claimant("busy", "busy", 2, 15, idle=False))
        assert claim.job_id == b.id and not claim.alone
    finally:
        await store.close()


def lost_task(task_id: int, name: str, lost: int = 0, charged: int = 0) -> LostTask:
    return LostTask(task_id, 7, task_id, name, 2, 0, 5, "running", lost, charged, "vm-1")


def test_of_several_tasks_the_one_lost_before_is_charged() -> None:
    """An agent without the one-at-a-time rule (an older jobdash) ran two suspects' worth
    of tasks: the one common to this death and an earlier one is charged, and named."""
    old, new = lost_task(1, "old", lost=1, charged=1), lost_task(2, "new")
    v_old, v_new = judge([old, new])
    assert (v_old.status, v_old.charged, v_old.error) == (
        "failed",
        2,
        "quarantined: killed its agent 2 times",
    )
    assert "only it was lost with an agent before: charged with that death (2 so far)" in (
        v_old.text
    )
    assert (v_new.status, v_new.charged, v_new.lost) == ("pending", 0, 1)
    assert "suspected: job 7 #1 old" in v_new.text
    # Two lost before: no one is charged.
    both = judge([lost_task(1, "a", lost=1), lost_task(2, "b", lost=1)])
    assert [v.charged for v in both] == [0, 0]
    assert all("not attributable (suspects: job 7 #1 a, job 7 #2 b)" in v.text for v in both)


async def quarantined_job(db: Path) -> int:
    """A finished job: task 1 quarantined (two deaths alone), task 2 succeeded."""
    store = await open_store(str(db))
    try:
        job = await store.create_job(commands("crash", tasks=2, retries=5))
        await store.admit()
        await die(store, "d1", 1)
        await die(store, "d2", 1)
        (ok,) = await store.claim(Claimant("a", "a", 1, 15))
        assert await store.complete(Outcome(ok.task_id, ok.attempt, "a", TaskStatus.SUCCEEDED))
        done = await store.get_job(job.id)
        assert done.status == "failed" and "quarantined" in done.info, done.info
        return job.id
    finally:
        await store.close()


def test_retry_of_a_quarantined_task_warns_on_the_cli(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    db = tmp_path / "s.db"
    job = asyncio.run(quarantined_job(db))
    r = run_cli("retry", str(job), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"job {job}: 1 task queued again\n"
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(
        "jobdash: warning: task 1 (crash0) was quarantined (killed its agent 2 times)"
    ), r.stderr
    assert "runs again alone" in r.stderr


async def test_retry_of_a_quarantined_task_asks_first_in_the_dashboard(tmp_path: Path) -> None:
    from jobdash.core.service import Service
    from jobdash.tui.dialogs.confirm import ConfirmScreen
    from tests.tui.test_app import loaded, make_app, messages
    from tests.tui.test_app import until as until_ui

    db = tmp_path / "s.db"
    job = await quarantined_job(db)
    svc = await Service.open(db=str(db), user="root")
    try:
        app = make_app(svc)
        async with app.run_test(size=(120, 40)) as pilot:
            dash = await loaded(pilot)
            await pilot.press("2")
            assert dash.table("completed").select_job(job)
            await pilot.press("R")
            await until_ui(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            screen = app.screen
            assert isinstance(screen, ConfirmScreen)
            assert "quarantined" in screen.question
            assert "crash0" in screen.detail and "killed its agent 2 times" in screen.detail
            assert (await svc.store.tasks(job))[0].status is TaskStatus.FAILED  # not yet
            await pilot.press("y")
            await until_ui(pilot, lambda: any("Retrying 1 task" in m for m in messages(app)))
        (t, _) = await svc.store.tasks(job)
        assert t.status is TaskStatus.PENDING
    finally:
        await svc.close()


# --------------------------------------------------------------------------- item 13


def test_output_of_a_frozen_attempt_is_kept_and_marked_as_that_attempts(
    cluster: Cluster,
) -> None:
    a = cluster.start("a", env=FAST)
    d = cluster.tmp / "chatty"
    d.mkdir()
    job = cluster.run("chatty", dir=str(d))

    def texts() -> list[tuple[str, int | None]]:
        lines = cluster.read(lambda store: store.logs(job))
        return [(ln.text, ln.attempt) for ln in lines if ln.stream == "stdout"]

    until(lambda: ("early 1", 1) in texts(), 20, "attempt 1 printed")
    pid1 = int(read_lines(d / "pid.1")[0])
    cluster.pids_to_kill.append(pid1)
    os.kill(a.pid, signal.SIGSTOP)
    try:
        # Attempt 1 prints "late 1" into its pipe while its agent is frozen; b takes over.
        cluster.start("b", env=FAST)
        until(lambda: cluster.job(job)["status"] == "succeeded", 30, "job done by b")
        time.sleep(2.5)  # "late 1" is written by now
    finally:
        os.kill(a.pid, signal.SIGCONT)
    until(lambda: any(t == "late 1" for t, _ in texts()), 10, "a stored what it had read")
    until(lambda: not group_alive(pid1), 10, "a stopped attempt 1")
    shown = texts()
    assert shown.index(("done 2", 2)) < shown.index(("late 1", 1)), shown
    assert set(shown) == {("early 1", 1), ("early 2", 2), ("done 2", 2), ("late 1", 1)}
    # `jobdash logs` marks the lines of an attempt that is not the task's last.
    out = cluster.cli("logs", str(job)).stdout.splitlines()
    assert "[attempt 1] late 1" in out and "[attempt 1] early 1" in out
    assert "done 2" in out and "early 2" in out
    assert any(ln.startswith("chatty: attempt 1 lost with agent a") for ln in out)


async def test_the_log_pane_marks_the_lines_of_an_earlier_attempt() -> None:
    from dataclasses import replace

    from jobdash.core.model import LogLine
    from jobdash.tui.widgets.log_view import LogView
    from tests.tui.test_log_view import LogApp, rows

    line = LogLine(1, 1, 10, 1_700_000_000.0, "stdout", "late 1", attempt=1, earlier=True)
    latest = replace(line, seq=2, text="done 2", attempt=2, earlier=False)
    app = LogApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        view.append([line, latest])
        await pilot.pause()
        assert [r.strip() for r in rows(view)[:2]] == ["[attempt 1] late 1", "done 2"]
        assert view.export_text() == "[attempt 1] late 1\ndone 2\n"
