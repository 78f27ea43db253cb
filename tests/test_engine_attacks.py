"""What an outside attack on the engine found, each fixed at its cause and proved here with
real processes: an engine with no job types idles quietly (it used to print a traceback ten
times a second); a job parameter or a job function cannot freeze the engine (bounded
parameters, bounded `add_task`); SIGTERM and SIGHUP end a dashboard with an embedded
engine as `q` does (its tasks stopped, their claims given back, the terminal restored); an
agent that was only stopped (SIGSTOP, a paused VM) is not charged with a death."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.agent import STALE_AFTER, leftover_groups
from jobdash.core.processes import group_alive
from jobdash.core.runners import JobContext
from jobdash.core.service import Service
from jobdash.core.store.engine_records import Claimant
from jobdash.core.store.sqlite import SqliteStore
from tests.conftest import run_cli, wait_finished
from tests.test_agents import until

TIMEOUT = 60  # a hang fails the test instead of blocking the suite


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the store as any SQLite client can (the engines keep writing it): read-only, and
    of columns no store read shows (owner, pgid, charged, lost)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Process:
    """A jobdash command line in its own session, its output in a file; killed (SIGKILL,
    the whole session) at the end of the test whatever happened, so an engine that ignores
    SIGTERM never outlives its test."""

    def __init__(self, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as f:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobdash", *args],
                stdout=f,
                stderr=f,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, words: str, timeout: float = 30) -> None:
        until(lambda: words in self.text() or self.proc.poll() is not None, timeout, words)
        assert words in self.text(), self.text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send `sig`; the exit status, or None when the process did not end in time."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(TIMEOUT)


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(log: Path, *args: str, env: dict[str, str] | None = None) -> Process:
        p = Process(log, *args, env=env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def kill_commands(db: Path) -> None:
    """Kill what the agents of `db` left running (a test that failed: its engines were
    killed, not stopped), found as a restarted engine finds it."""
    if not db.exists():
        return
    owners = [o for (o,) in query(db, "SELECT owner FROM agents")]
    for pgid in leftover_groups(owners):
        if pgid != os.getpgrp() and group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


class Terminal:
    """A real dashboard (`jobdash ARGS`) in a pseudo-terminal of 120x40, in its own session
    (as a login shell starts it); what it draws is collected."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobdash", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            # Its size is the pty's: COLUMNS and LINES (pytest-xdist's workers have them)
            # would override it.
            env={
                **{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
                "TERM": "xterm-256color",
                **(env or {}),
            },
            start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()

    def read(self, seconds: float = 0.1) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and self.master >= 0:
            if select.select([self.master], [], [], left)[0]:
                try:
                    data = os.read(self.master, 1 << 16)
                except OSError:  # the process is gone and its side of the pty with it
                    return
                if not data:
                    return
                self.output += data

    def wait_for(self, text: str, timeout: float = 30, since: int = 0) -> None:
        """Wait until `text` is drawn: anywhere in what was drawn from byte `since` on (pass
        `len(term.output)` taken before a key, to wait for what that key brings)."""

        def seen() -> bool:
            self.read()
            return text.encode() in self.output[since:] or self.proc.poll() is not None

        until(seen, timeout, f"{text!r} on the screen")
        assert text.encode() in self.output[since:], bytes(self.output[-2000:])

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def hang_up(self) -> None:
        """The terminal goes away (an SSH connection dropped): its master side closes."""
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(TIMEOUT)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


# --------------------------------------------------------------------------- no job types


async def test_a_store_claims_nothing_for_an_empty_catalogue(db_path: Path) -> None:
    """The query behind it: `type_hash IN ()` with `INDEXED BY` has no plan in SQLite."""
    store = await SqliteStore.open(db_path)
    try:
        assert await store.has_claimable(frozenset()) is False
        assert await store.claim(Claimant("o", "a", 4, 15.0, types=frozenset())) == []
    finally:
        await store.close()


@pytest.mark.parametrize("command", ["serve", "agent"])
def test_an_engine_without_job_types_idles_quietly_and_says_why_a_job_waits(
    tmp_path: Path, processes: Callable[..., Process], command: str
) -> None:
    """What a new user runs after `--demo`: `jobdash serve` with no config at all."""
    db = tmp_path / "store.db"
    config = tmp_path / "elsewhere.toml"
    config.write_text('[types.hello]\ncommand = ["true"]\n')
    # Submitted by another process, whose config has the type; then the engine starts.
    assert run_cli("--db", str(db), "--config", str(config), "run", "hello").returncode == 0
    engine = processes(tmp_path / "engine.log", "--db", str(db), command)
    engine.wait_for("slots on")
    time.sleep(2)  # ~20 claim polls, each of which printed a traceback
    out = engine.text()
    assert "Traceback" not in out and "no query solution" not in out, out
    assert "no job types (no config file): this engine runs no jobs" in out

    def reason() -> str:
        return str(query(db, "SELECT status, info FROM jobs WHERE id = 1")[0])

    until(lambda: "does not define type hello" in reason(), 30, "the job's waiting reason")
    assert engine.stop() == 0
    assert "Traceback" not in engine.text()
    assert query(db, "SELECT status FROM jobs WHERE id = 1") == [("waiting",)]
    # Once an engine does run the type, the job runs.
    runner = processes(tmp_path / "runner.log", "--db", str(db), "--config", str(config), command)
    until(lambda: query(db, "SELECT status FROM jobs")[0][0] == "succeeded", 30, "the job to run")
    assert runner.stop() == 0


# --------------------------------------------------------------------------- planning

PLANNER = """
import asyncio

async def tight(ctx):
    # A plain loop of add_task: the event loop never runs meanwhile.
    for i in range(int(ctx.params["n"])):
        ctx.add_task(noop, i)

async def awaiting(ctx):
    # A long plan that lets the engine run now and then (not even through checkpoint).
    for i in range(int(ctx.params["n"])):
        ctx.add_task(noop, i)
        if i % 1000 == 999:
            await asyncio.sleep(0.02)

async def checkpointing(ctx):
    # Each batch written before the next is added: what it added is all in the store.
    for i in range(int(ctx.params["n"])):
        ctx.add_task(noop, i)
        if i % 1000 == 999:
            await ctx.checkpoint()

async def noop(ctx, item):
    await asyncio.sleep(float(ctx.params["nap"]))
"""

PLANNER_CONFIG = """
[types.tight]
function = "planner:tight"
params.n = { default = "200000" }
params.nap = { default = "0.05" }

[types.awaiting]
function = "planner:awaiting"
parallel = 2
params.n = { default = "200000" }
params.nap = { default = "0.05" }

[types.checkpointing]
function = "planner:checkpointing"
params.n = { default = "200000" }
params.nap = { default = "0.05" }

[types.hello]
command = ["true"]
"""

FAST = {"JOBDASH_LEASE": "3", "JOBDASH_HEARTBEAT": "0.3"}  # stale after 1.9 s of silence


def job(db: Path, job_id: int) -> dict[str, Any]:
    row = query(
        db,
        "SELECT status, info, pending + running + succeeded + failed + cancelled "
        "+ skipped FROM jobs WHERE id = ?",
        job_id,
    )[0]
    return {"status": row[0], "info": row[1], "tasks": row[2]}


def heartbeat_age(db: Path) -> float:
    (beat,) = query(db, "SELECT max(heartbeat) FROM agents WHERE state != 'offline'")[0]
    return time.time() - beat


def test_a_job_function_planning_too_many_tasks_never_freezes_the_engine(
    tmp_path: Path, processes: Callable[..., Process]
) -> None:
    (tmp_path / "planner.py").write_text(PLANNER)
    config = tmp_path / "jobdash.toml"
    config.write_text(PLANNER_CONFIG)
    db = tmp_path / "store.db"
    base = ("--db", str(db), "--config", str(config))
    engine = processes(tmp_path / "engine.log", *base, "serve", "--grace", "2", env=FAST)
    engine.wait_for("slots on")

    def submit(*args: str) -> int:
        done = run_cli(*base, "run", *args, "--json", timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
        return int(json.loads(done.stdout)["id"])

    # 200,000 tasks in a plain loop: refused past the bound, saying how to do it.
    tight = submit("tight")
    until(lambda: job(db, tight)["status"] == "failed", 30, "the tight planner to fail")
    (error,) = query(db, "SELECT error FROM tasks WHERE job_id = ? AND seq = 1", tight)[0]
    assert "TooManyTasks" in error and "without an await" in error, error
    assert "await ctx.checkpoint()" in error
    assert heartbeat_age(db) < STALE_AFTER  # the engine is alive and well
    hello = submit("hello")
    until(lambda: job(db, hello)["status"] == "succeeded", 30, "another job to run")

    # 200,000 tasks planned with awaits between: written as they come, and the engine
    # heart-beats, obeys a cancel and a signal meanwhile.
    planning = submit("awaiting")
    ages = []

    def planned_some() -> bool:
        ages.append(heartbeat_age(db))
        return job(db, planning)["tasks"] > 5_000

    until(planned_some, 60, "tasks written while the job function still plans")
    assert query(db, "SELECT status FROM tasks WHERE job_id = ? AND seq = 1", planning) == [
        ("running",)
    ]  # the job function plans on
    assert max(ages) < STALE_AFTER, ages
    assert run_cli(*base, "cancel", str(planning)).returncode == 0
    until(lambda: job(db, planning)["status"] == "cancelled", 30, "the cancel to take effect")

    again = submit("awaiting")
    until(lambda: job(db, again)["tasks"] > 5_000, 60, "a second plan under way")
    assert engine.stop(signal.SIGTERM, timeout=30) == 0, engine.text()
    assert "Traceback" not in engine.text()
    assert query(db, "SELECT state FROM agents") == [("offline",)]


async def test_a_job_function_adds_at_most_max_job_tasks(
    services: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound on a job's tasks in all (1,000,000; lowered here), however the job function
    awaits between them. (The tasks a failed job function added are kept only as far as
    they were written: its checkpoints write them, so all 3,000 are here; with a plain
    sleep between batches, how many were written when it failed depends on the machine.)"""
    monkeypatch.setattr(JobContext, "MAX_JOB_TASKS", 3_000)
    (tmp_path / "planner.py").write_text(PLANNER)
    config = tmp_path / "jobdash.toml"
    config.write_text(PLANNER_CONFIG)
    svc: Service = await services(config=config)
    j = await svc.submit("checkpointing", {"n": "5000", "nap": "0"})
    done = await wait_finished(svc, j.id, timeout=60)
    tasks = await svc.store.tasks(j.id)
    assert tasks[0].error == "TooManyTasks: a job function adds at most 3,000 tasks"
    assert len(tasks) == 1 + 3_000 and done.status.value == "failed"


def test_a_bounded_parameter_is_checked_at_submit_by_any_submitter(
    tmp_path: Path, processes: Callable[..., Process]
) -> None:
    """`files` of the demo's import-files: checked as every parameter is, in one line, also
    by a submitter that knows the type only from the engine that publishes it."""
    db = tmp_path / "store.db"
    engine = processes(tmp_path / "engine.log", "--db", str(db), "serve", "--demo")
    engine.wait_for("slots on")
    for given in ("99999999999999999999999", "0", "-1", "1e3", "many"):
        done = run_cli("--db", str(db), "run", "import-files", "-p", f"files={given}")
        assert done.returncode == 2, (given, done.stdout, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"jobdash: parameter 'files' of type import-files must be a whole number from 1 "
            f"to 1000, got '{given}'"
        ]
    # The demo's import-files schedule (every 5 minutes, on the clock) may fire meanwhile.
    submitted = "SELECT count(*) FROM jobs WHERE type = 'import-files' AND trigger = 'manual'"
    assert query(db, submitted) == [(0,)]
    ok = run_cli("--db", str(db), "run", "import-files", "-p", "files=3", "--json")
    assert ok.returncode == 0, ok.stderr
    assert query(db, submitted) == [(1,)]  # the count would have seen one
    assert engine.stop() == 0


# --------------------------------------------------------------------------- signals

SLEEPER = '[types.sleeper]\ncommand = ["sh", "-c", "sleep 77"]\n'


@pytest.mark.parametrize(
    "sig",
    [signal.SIGTERM, signal.SIGHUP, None],
    ids=["SIGTERM", "SIGHUP", "hung-up-without-signal"],
)
def test_a_signal_ends_a_dashboard_as_quitting_does(tmp_path: Path, sig: int | None) -> None:
    """SIGTERM (a shutdown), SIGHUP (the SSH connection dropped), or a terminal that hangs
    up with no signal at all (it was no session's controlling terminal, as here: its input
    then reads as end of file for ever, which Textual's input thread spun on at a full core,
    never ending): the embedded engine's command is stopped (its whole process group), its
    task is pending again for the next engine, the agent is offline, the terminal is
    restored, and the process ends."""
    db = tmp_path / "store.db"
    config = tmp_path / "jobdash.toml"
    config.write_text(SLEEPER)
    term = Terminal("--db", str(db), "--config", str(config))
    try:
        term.wait_for("engine")  # the header names the embedded engine
        assert run_cli("--db", str(db), "--config", str(config), "run", "sleeper").returncode == 0

        def running_group() -> int | None:
            term.read()
            rows = query(db, "SELECT status, pgid FROM tasks")
            return rows[0][1] if rows and rows[0][0] == "running" else None

        pgid = until(running_group, 30, "the command to run")
        assert group_alive(pgid)
        term.read(0.5)
        if sig != signal.SIGTERM:
            term.hang_up()
        drawn = len(term.output)
        if sig is not None:
            term.proc.send_signal(sig)
        try:
            status = term.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        term.read(0.5)
        assert status == 0, status
        until(lambda: not group_alive(pgid), 10, "the command's process group to end")
        assert query(db, "SELECT status, owner FROM tasks") == [("pending", None)]
        assert query(db, "SELECT state FROM agents") == [("offline",)]
        if sig == signal.SIGTERM:
            after = bytes(term.output[drawn:])
            assert b"\x1b[?1049l" in after  # out of the alternate screen
    finally:
        term.close()
        kill_commands(db)


# --------------------------------------------------------------------------- stopped agents


def test_an_agent_that_was_only_stopped_is_not_charged_with_a_death(
    tmp_path: Path, processes: Callable[..., Process]
) -> None:
    """SIGSTOP (as a paused VM): its lease runs out, another engine runs the task again
    (right: it cannot know), and charges the loss as a death. When the stopped agent's
    heartbeat comes back it was no death: the charge is withdrawn, and the log says so."""
    db = tmp_path / "store.db"
    config = tmp_path / "jobdash.toml"
    config.write_text(SLEEPER + "retries = 1\n")
    base = ("--db", str(db), "--config", str(config))
    env = {"JOBDASH_LEASE": "2", "JOBDASH_HEARTBEAT": "0.3"}

    def agent(name: str) -> Process:
        log = tmp_path / f"{name}.log"
        return processes(log, *base, "agent", "--name", name, "--grace", "1", env=env)

    first = agent("a")
    try:
        first.wait_for("slots on")
        assert run_cli(*base, "run", "sleeper").returncode == 0
        until(
            lambda: query(db, "SELECT agent FROM tasks WHERE status = 'running'") == [("a",)],
            30,
            "agent a to run the task",
        )
        first.proc.send_signal(signal.SIGSTOP)
        second = agent("b")
        until(
            lambda: query(db, "SELECT agent, charged FROM tasks") == [("b", 1)],
            30,
            "agent b to take the task over, charged with a's death",
        )
        first.proc.send_signal(signal.SIGCONT)
        until(
            lambda: query(db, "SELECT charged FROM tasks") == [(0,)],
            30,
            "the charge to be withdrawn",
        )
        lines = [t for (t,) in query(db, "SELECT text FROM logs WHERE stream = 'system'")]
        assert any(
            re.search(r"agent a was stopped, not dead .* withdrawn \(0 so far\)", t) for t in lines
        ), lines
        assert query(db, "SELECT agent, status, lost FROM tasks") == [("b", "running", 1)]
        for p in (first, second):
            assert p.stop() == 0
    finally:
        kill_commands(db)
