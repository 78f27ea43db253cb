"""An agent that cannot renew its claims stops their work before the claims run out, so
that a task never runs twice at once: here the store's write lock is held by another
process (as a long migration, a backup tool or a hung client would) for longer than the
lease, with a real engine and a real command. Across hosts the same watch acts on a network
cut (tests/test_two_hosts.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobdash.core.processes import group_alive
from tests.conftest import run_cli
from tests.test_agents import until
from tests.test_engine_attacks import Process, kill_commands, query

LEASE, HEARTBEAT = 3.0, 0.5
ENV = {"JOBDASH_LEASE": str(LEASE), "JOBDASH_HEARTBEAT": str(HEARTBEAT)}


def test_an_agent_cut_off_from_its_store_stops_its_work_before_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.db"
    pids = tmp_path / "pids"
    config = tmp_path / "jobdash.toml"
    config.write_text(f'[types.holder]\ncommand = ["sh", "-c", "echo $$ >> {pids}; sleep 60"]\n')
    base = ("--db", str(db), "--config", str(config))
    engine = Process(tmp_path / "agent.log", *base, "agent", "--name", "a", env=ENV)
    try:
        engine.wait_for("slots on")
        assert run_cli(*base, "run", "holder").returncode == 0
        until(lambda: pids.exists() and pids.read_text().count("\n") == 1, 30, "it to run")
        first = int(pids.read_text())

        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # no heartbeat, no claim, no result gets through
        try:
            until(lambda: not group_alive(first), 30, "the agent to stop attempt 1 on its own")
            # Nothing could start another attempt meanwhile: the store was locked throughout.
            assert pids.read_text().count("\n") == 1
        finally:
            lock.execute("ROLLBACK")
            lock.close()

        # The store answers again: the claim is given back (or was recovered) and the task
        # runs again, once; the agent is no dead one, so no death stays charged to it.
        until(lambda: pids.read_text().count("\n") == 2, 30, "the task to run again")
        second = int(pids.read_text().splitlines()[1])
        assert group_alive(second)
        until(lambda: query(db, "SELECT charged FROM tasks") == [(0,)], 30, "no death charged")
        assert query(db, "SELECT status FROM tasks") == [("running",)]

        # The stop's line was buffered while the store was locked; the flusher writes it on
        # its next try, which may come after the new attempt's claim (a second later).
        def system_lines() -> list[str]:
            return [t for (t,) in query(db, "SELECT text FROM logs WHERE stream = 'system'")]

        until(lambda: bool(system_lines()), 10, "the stop to be logged")
        lines = system_lines()
        assert any("holder: agent a could not renew its claim for" in t for t in lines), lines
        assert any("attempt 1 stopped, so that it never runs beside" in t for t in lines), lines
        assert engine.proc.poll() is None
    finally:
        engine.kill()
        kill_commands(db)
