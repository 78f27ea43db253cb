"""Agents as real processes on one store: `python -m jobdash serve|agent` subprocesses,
real kill -9, SIGSTOP/SIGCONT, SIGTERM (once and twice), drain, quarantine, eight agents; on
SQLite, and on PostgreSQL (marker both_backends, see conftest.py).

The store is read as any other process would: through the Store protocol, and with plain
SQL (sqlite3 read-only, or psycopg) for what no store read shows (a task's owner, an agent's
owner).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from jobdash.core.catalogue import type_hash
from jobdash.core.config import load_config
from jobdash.core.model import Task, TaskStatus
from jobdash.core.processes import group_alive
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import NewTask, Outcome
from tests.conftest import ending_with, new_job, run_cli

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

CONFIG = """
[jobdash]
admins = ["root", "%(user)s"]

# Attempt 1 hangs (its agent gets killed); attempt 2 succeeds at once.
[types.crashy]
params.log = { required = true }
command = ['sh', '-c', 'echo "$JOBDASH_ATTEMPT $$" >> {log}; if [ "$JOBDASH_ATTEMPT" = 1 ]; then sleep 300; fi; echo done']
retries = 1

# Attempt 1: "quick" fails with exit 7 after 1 s, "long" hangs; attempt 2 of both succeeds.
[types.pair]
params.dir = { required = true }
items = ["quick", "long"]
command = ['sh', '-c', 'echo $$ > {dir}/{item}.$JOBDASH_ATTEMPT; if [ "$JOBDASH_ATTEMPT" = 1 ]; then if [ {item} = quick ]; then sleep 1; exit 7; fi; sleep 300; fi; echo ok']
parallel = 2
retries = 1

[types.sleepy]
params.secs = { default = "2" }
items = ["a", "b"]
command = ["sleep", "{secs}"]

[types.stubborn]
params.pidfile = { required = true }
command = ['sh', '-c', "trap '' TERM; echo $$ > {pidfile}; while true; do sleep 0.1; done"]

# Kills the agent that runs it.
[types.killer]
command = ['sh', '-c', 'kill -9 $PPID']
retries = 1

# No-op Python tasks (the eight-agent test writes them straight into the store).
[types.noops]
function = "tests.agent_jobs:plan"
params.out = { required = true }
params.n = { default = "0" }
parallel = 10000
"""

T = TypeVar("T")

FAST = {"JOBDASH_LEASE": "2", "JOBDASH_HEARTBEAT": "0.3"}


class Cluster:
    """Agent processes on one store, killed at the end whatever happens."""

    def __init__(self, tmp: Path, location: str | None = None) -> None:
        self.tmp = tmp
        self.db = location or str(tmp / "jobdash.db")
        self.pg = self.db.startswith("postgresql://")
        self.cfg = tmp / "jobdash.toml"
        self.cfg.write_text(CONFIG % {"user": os.environ.get("USER", "root")})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.pids_to_kill: list[int] = []

    def start(
        self,
        name: str,
        *extra: str,
        kind: str = "agent",
        env: dict[str, str] | None = None,
        wait: bool = True,
        config: Path | None = None,
        wrap: Sequence[str] = (),
        db: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `jobdash KIND` (agent, serve) named NAME, with the cluster's config unless
        `config` names another; `wrap`: the command it runs under (`ip netns exec …`), `db`:
        the store's location as that process reaches it."""
        full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [
                *wrap,
                sys.executable,
                "-m",
                "jobdash",
                kind,
                "--db",
                db or str(self.db),
                "--config",
                str(config or self.cfg),
                "--name",
                name,
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full,
            start_new_session=True,
            preexec_fn=ending_with(os.getpid()),  # ends with pytest, even one killed outright
        )
        log.close()
        self.procs[name] = proc
        if wait:
            until(lambda: self.agent(name).get("pid") == proc.pid, 20, f"agent {name} registered")
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--db", str(self.db), "--config", str(self.cfg))

    def json(self, *args: str) -> Any:
        """What a command prints with `--json`, read; it must succeed."""
        r = self.cli(*args, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def said(self, *args: str) -> str:
        """What a command prints, piped (whole lines), its blanks folded; it must succeed
        and print nothing on stderr."""
        r = self.cli(*args)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        return " ".join(r.stdout.split())

    def run(self, type_: str, **params: str) -> int:
        args = [f"-p{k}={v}" for k, v in params.items()]
        r = self.cli("run", type_, *args)
        assert r.returncode == 0, r.stderr
        return int(r.stdout.split()[1])

    def q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read-only SQL on the store: columns no store read shows (owner, lost…)."""
        if self.pg:
            import psycopg

            with psycopg.connect(self.db, autocommit=True) as pg:
                return pg.execute(sql.replace("?", "%s"), args).fetchall()
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def read(self, fn: Callable[[Store], Awaitable[T]]) -> T:
        """Read the store through the Store protocol, as any other process would."""

        async def go() -> T:
            store = await open_store(str(self.db))
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(go())

    def job(self, job_id: int) -> dict[str, Any]:
        job = self.read(lambda store: store.get_job(job_id))
        cols = ("status", "succeeded", "failed", "pending", "running", "info")
        return {c: getattr(job, c) for c in cols}

    def tasks(self, job_id: int) -> dict[str, dict[str, Any]]:
        cols = ("name", "status", "attempt", "agent", "exit_code", "error", "owner", "lost")
        rows = self.q(
            f"SELECT {', '.join(cols)} FROM tasks WHERE job_id = ? ORDER BY seq", (job_id,)
        )
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def agent(self, name: str) -> dict[str, Any]:
        if not self.pg and not Path(self.db).exists():
            return {}
        cols = ("name", "owner", "pid", "state", "drain", "heartbeat")
        try:
            rows = self.q(f"SELECT {', '.join(cols)} FROM agents WHERE name = ?", (name,))
        except Exception as e:  # not created yet
            if "agents" not in str(e):
                raise
            return {}
        return dict(zip(cols, rows[0], strict=True)) if rows else {}

    def system_log(self, job_id: int) -> list[str]:
        lines = self.read(lambda store: store.logs(job_id))
        return [ln.text for ln in lines if ln.stream == "system"]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in self.pids_to_kill:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # Task processes run in sessions of their own, so killing an agent leaves them running,
        # as a crash would. Those still waiting on a file in this test's folder are ended here.
        mine = str(self.tmp)
        for p in psutil.process_iter(["pid", "cmdline"]):
            if p.info["pid"] != os.getpid() and any(mine in a for a in p.info["cmdline"] or ()):
                with contextlib.suppress(psutil.Error):
                    p.kill()


async def all_tasks(store: Store) -> list[Task]:
    """Every task of every job in the store."""
    return [t for job in await store.list_jobs() for t in await store.tasks(job.id)]


def until(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


def read_lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []


@pytest.fixture
def cluster(tmp_path: Path, store_location: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, store_location)
    try:
        yield c
    finally:
        c.close()


def late_complete(db: str, task_id: int, attempt: int, owner: str) -> bool:
    """What a killed attempt's result would get from the store now."""

    async def go() -> bool:
        store = await open_store(str(db))
        try:
            return await store.complete(Outcome(task_id, attempt, owner, TaskStatus.SUCCEEDED))
        finally:
            await store.close()

    return asyncio.run(go())


# --------------------------------------------------------------------------- kill -9


def test_kill_9_serve_mid_task_then_restart_runs_attempt_2_within_30s(cluster: Cluster) -> None:
    """Default lease. The restarted serve sees its predecessor's process is gone and takes its
    claim at once; the killed attempt's leftover process is killed; its result is refused."""
    s1 = cluster.start("s1", kind="serve")
    owner1 = cluster.agent("s1")["owner"]
    log = cluster.tmp / "attempts"
    job = cluster.run("crashy", log=str(log))
    until(lambda: read_lines(log), 20, "attempt 1 running")
    pid1 = int(read_lines(log)[0].split()[1])
    cluster.pids_to_kill.append(pid1)
    os.kill(s1.pid, signal.SIGKILL)
    s1.wait()
    t0 = time.monotonic()
    cluster.start("s2", kind="serve", wait=False)
    until(lambda: len(read_lines(log)) >= 2, 30, "attempt 2 started")
    recovered = time.monotonic() - t0
    until(lambda: cluster.job(job)["status"] == "succeeded", 30, "job succeeded")
    assert recovered < 30
    assert [ln.split()[0] for ln in read_lines(log)] == ["1", "2"]
    (task,) = cluster.tasks(job).values()
    assert (task["status"], task["attempt"], task["agent"], task["exit_code"]) == (
        "succeeded",
        2,
        "s2",
        0,
    )
    assert task["lost"] == 1
    assert any(
        "attempt 1 lost with agent s1, where it ran alone" in t and "running it again" in t
        for t in cluster.system_log(job)
    )
    # The killed attempt's process (left behind by kill -9) was killed before attempt 2 ran.
    until(lambda: not group_alive(pid1), 5, "attempt 1's process group gone")
    # And a late result of attempt 1 is refused by the store.
    task_id = cluster.read(lambda store: store.tasks(job))[0].id
    assert late_complete(cluster.db, task_id, 1, owner1) is False
    assert cluster.tasks(job)["crashy"]["exit_code"] == 0


@pytest.mark.slow
def test_kill_9_agent_recovered_by_another_live_agent_on_the_lease_bound(
    cluster: Cluster,
) -> None:
    """Default lease (15 s), no same-host process check: the bound of another host's agent."""
    env = {"JOBDASH_PID_CHECK": "0"}
    a = cluster.start("a", env=env)
    log = cluster.tmp / "attempts"
    job = cluster.run("crashy", log=str(log))
    until(lambda: read_lines(log), 20, "attempt 1 running")
    cluster.pids_to_kill.append(int(read_lines(log)[0].split()[1]))
    cluster.start("b", env=env)
    assert cluster.tasks(job)["crashy"]["agent"] == "a"
    os.kill(a.pid, signal.SIGKILL)
    t0 = time.monotonic()
    until(lambda: len(read_lines(log)) >= 2, 30, "attempt 2 started on b")
    recovered = time.monotonic() - t0
    until(lambda: cluster.job(job)["status"] == "succeeded", 10, "job succeeded")
    assert recovered < 30
    task = cluster.tasks(job)["crashy"]
    assert (task["attempt"], task["agent"]) == (2, "b")


# --------------------------------------------------------------------------- SIGSTOP


def test_sigstopped_agent_loses_its_claims_and_its_late_results_are_rejected(
    cluster: Cluster,
) -> None:
    a = cluster.start("a", env=FAST)
    d = cluster.tmp / "pair"
    d.mkdir()
    job = cluster.run("pair", dir=str(d))
    until(lambda: (d / "quick.1").exists() and (d / "long.1").exists(), 20, "attempts 1 started")
    long1 = int((d / "long.1").read_text())
    cluster.pids_to_kill.append(long1)
    os.kill(a.pid, signal.SIGSTOP)
    try:
        # Meanwhile "quick" attempt 1 ends (exit 7) with nobody to record it, and b takes over.
        cluster.start("b", env=FAST)
        until(lambda: cluster.job(job)["status"] == "succeeded", 30, "job done by b")
        tasks = cluster.tasks(job)
        for name in ("quick", "long"):
            assert (tasks[name]["attempt"], tasks[name]["agent"], tasks[name]["exit_code"]) == (
                2,
                "b",
                0,
            )
        assert group_alive(long1), "a is stopped: its attempt 1 of long still runs"
    finally:
        os.kill(a.pid, signal.SIGCONT)
    # a wakes: its heartbeat finds both claims gone; it stops "long" and its late results
    # (quick: failed exit 7; long: cancelled) are rejected by the store.
    until(lambda: not group_alive(long1), 10, "a stopped its attempt 1 of long")
    late_results_rejected(cluster, job, "failed: exit 7", 10)
    tasks = cluster.tasks(job)
    assert all(t["status"] == "succeeded" and t["exit_code"] == 0 for t in tasks.values())
    j = cluster.job(job)
    assert (j["status"], j["succeeded"], j["failed"]) == ("succeeded", 2, 0)
    assert a.poll() is None, "the agent lives on after losing a claim"


def late_results_rejected(cluster: Cluster, job: int, quick: str, wait: float) -> None:
    """Agent a, back (SIGCONT, its network up), found its claims on the tasks "quick" and
    "long" of `job` taken over: it said so and stopped "long", and the store rejected both
    late results of attempt 1 ("quick" ended `quick`), within `wait` seconds."""

    def rejected() -> list[str]:
        return [t for t in cluster.system_log(job) if "late result of attempt 1 from agent a" in t]

    until(lambda: len(rejected()) == 2, wait, "both late results rejected")
    assert any(t.startswith("quick:") and f"({quick}) rejected" in t for t in rejected())
    assert any(t.startswith("long:") and "rejected" in t for t in rejected())
    assert any("agent a lost the claim on attempt 1" in t for t in cluster.system_log(job))


# --------------------------------------------------------------------------- signals


def test_sigterm_lets_the_running_task_finish_and_claims_no_more(cluster: Cluster) -> None:
    s = cluster.start("s", "--grace", "20", kind="serve", env=FAST)
    job = cluster.run("sleepy", secs="1.5")
    until(lambda: cluster.tasks(job)["a"]["status"] == "running", 20, "a running")
    s.send_signal(signal.SIGTERM)
    assert s.wait(15) == 0
    tasks = cluster.tasks(job)
    assert (tasks["a"]["status"], tasks["a"]["attempt"]) == ("succeeded", 1)
    assert (tasks["b"]["status"], tasks["b"]["attempt"]) == ("pending", 0)
    assert cluster.agent("s")["state"] == "offline"


def test_sigterm_grace_runs_out_then_task_is_stopped_and_claim_released(
    cluster: Cluster,
) -> None:
    s = cluster.start("s", "--grace", "1", kind="serve", env=FAST)
    pidfile = cluster.tmp / "pid"
    job = cluster.run("stubborn", pidfile=str(pidfile))
    until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "task started")
    pid = int(pidfile.read_text())
    cluster.pids_to_kill.append(pid)
    t0 = time.monotonic()
    s.send_signal(signal.SIGTERM)
    assert s.wait(20) == 0
    # 1 s grace, then SIGTERM (ignored), then SIGKILL after the stop grace.
    assert 1 <= time.monotonic() - t0 < 15
    assert not group_alive(pid)
    task = cluster.tasks(job)["stubborn"]
    assert (task["status"], task["attempt"], task["owner"]) == ("pending", 0, None)


def test_second_sigterm_stops_at_once(cluster: Cluster) -> None:
    s = cluster.start("s", "--grace", "60", kind="serve", env=FAST)
    pidfile = cluster.tmp / "pid"
    job = cluster.run("stubborn", pidfile=str(pidfile))
    until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "task started")
    pid = int(pidfile.read_text())
    cluster.pids_to_kill.append(pid)
    s.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert s.poll() is None, "first signal: waits for the running task"
    assert group_alive(pid)
    t0 = time.monotonic()
    s.send_signal(signal.SIGTERM)
    assert s.wait(10) == 0
    assert time.monotonic() - t0 < 4
    assert not group_alive(pid)
    task = cluster.tasks(job)["stubborn"]
    assert (task["status"], task["attempt"], task["owner"]) == ("pending", 0, None)
    assert "stopping now" in cluster.log("s")
    # Another agent runs it afresh as attempt 1.
    cluster.start("t", env=FAST)
    until(lambda: cluster.tasks(job)["stubborn"]["agent"] == "t", 20, "t took the task")
    pid2 = int(
        until(
            lambda: pidfile.read_text().strip() != str(pid) and pidfile.read_text(), 20, "restarted"
        )
    )
    cluster.pids_to_kill.append(pid2)
    assert cluster.tasks(job)["stubborn"]["attempt"] == 1


# --------------------------------------------------------------------------- drain, list


def test_drain_finishes_running_tasks_and_claims_none(cluster: Cluster) -> None:
    cluster.start("a", env=FAST)
    # Task a runs until after the drain, however slowly the drain command starts.
    job = cluster.run("sleepy", secs="15")
    until(lambda: cluster.tasks(job)["a"]["status"] == "running", 20, "a running")
    r = cluster.cli("agent", "drain", "a")
    assert cluster.tasks(job)["a"]["status"] == "running"
    assert r.returncode == 0, r.stderr
    assert "draining" in r.stdout
    until(lambda: cluster.agent("a")["state"] == "draining", 5, "a draining")
    cluster.start("b", env=FAST)
    until(lambda: cluster.job(job)["status"] == "succeeded", 60, "job done")
    tasks = cluster.tasks(job)
    assert (tasks["a"]["agent"], tasks["b"]["agent"]) == ("a", "b")
    listed = {d["name"]: d for d in json.loads(cluster.cli("agents", "--json").stdout)}
    assert listed["a"]["state"] == "draining" and listed["a"]["drain"] is True
    assert listed["b"]["state"] in ("idle", "busy")
    # Unknown agent: bad input, exit 2, as every unknown id.
    r = cluster.cli("agent", "drain", "nobody")
    assert r.returncode == 2 and "agent drain: no agent named nobody" in r.stderr


def test_agents_lists_running_tasks_heartbeat_and_counts(cluster: Cluster) -> None:
    a = cluster.start("a", "--slots", "3", env=FAST)
    job = cluster.run("sleepy", secs="20")  # task a runs throughout the look, however slow
    until(lambda: cluster.tasks(job)["a"]["status"] == "running", 20, "running")
    (info,) = json.loads(cluster.cli("agents", "--json").stdout)
    assert (info["name"], info["pid"], info["slots"], info["state"]) == ("a", a.pid, 3, "busy")
    assert info["tasks"] == [{"job": job, "task": 1, "name": "a"}]
    assert info["heartbeat_age"] < 5
    table = cluster.cli("agents").stdout
    assert "a" in table and "busy" in table and f"{job}#1 a" in table and "1/3" in table
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    # Seen from another process on this host: the dead agent is shown offline at once.
    cluster.start("b", env={**FAST, "JOBDASH_PID_CHECK": "1"})
    until(lambda: cluster.agent("a")["state"] == "offline", 10, "a offline")


# --------------------------------------------------------------------------- quarantine


def test_task_that_keeps_killing_its_agent_is_quarantined(cluster: Cluster) -> None:
    job = cluster.run("killer")
    deaths = 0
    for i in range(4):
        proc = cluster.start(f"k{i}", env=FAST)
        # Each agent either gets killed by the task or sees it settled.
        until(
            lambda p=proc: p.poll() is not None or cluster.job(job)["status"] == "failed",
            30,
            "agent killed or job failed",
        )
        if proc.poll() is not None:
            deaths += 1
        if cluster.job(job)["status"] == "failed":
            break
    assert deaths == 2  # attempt 1 and attempt 2 (retries = 1) each killed their agent
    task = cluster.tasks(job)["killer"]
    assert task["status"] == "failed"
    assert task["error"] == "quarantined: killed its agent 2 times"
    assert task["lost"] == 2 and task["attempt"] == 2
    j = cluster.job(job)
    assert "quarantined" in j["info"]
    # The live agent never claims it again.
    time.sleep(1)
    assert cluster.tasks(job)["killer"]["attempt"] == 2
    assert any("not run again" in t for t in cluster.system_log(job))


# --------------------------------------------------------------------------- 8 agents


def submit_noops(db: str, n: int, out: Path, config: Path) -> int:
    jt = load_config(config).types["noops"]

    async def go() -> int:
        store = await open_store(str(db))
        try:
            job = await store.create_job(
                new_job(
                    "noops",
                    [
                        NewTask(str(i), str(i), "function", "tests.agent_jobs:record", i)
                        for i in range(n)
                    ],
                    params={"out": str(out), "n": "0"},
                    parallel=10_000,
                    type_hash=type_hash(jt),
                )
            )
            return job.id
        finally:
            await store.close()

    return asyncio.run(go())


READER = """
import asyncio, sys, time
from jobdash.core.service import Service

async def main():
    svc = await Service.open(db=sys.argv[1], user="root")
    reads = 0
    try:
        while True:
            jobs = await svc.jobs("")
            await svc.agents()
            if jobs:
                await svc.tasks(jobs[0].id)
                await svc.log_tail(jobs[0].id, 50)
            reads += 1
            if jobs and jobs[0].status.finished:
                break
            await asyncio.sleep(0.05)
    finally:
        await svc.close()
    print("reads", reads)

asyncio.run(main())
"""


@pytest.mark.slow
def test_eight_agents_and_a_reader_complete_20000_tasks_exactly_once(cluster: Cluster) -> None:
    n = 20_000
    out = cluster.tmp / "out"
    out.mkdir()
    # Create the store first so the agents don't race to create it.
    job = submit_noops(cluster.db, n, out, cluster.cfg)
    t0 = time.monotonic()
    for i in range(8):
        cluster.start(f"w{i}", "--slots", "100", wait=False)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(cluster.db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        until(lambda: cluster.job(job)["status"] == "succeeded", 120, "20,000 tasks done")
        elapsed = time.monotonic() - t0
        reader_out = reader.communicate(timeout=30)[0].decode()
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, reader_out
    for name, proc in cluster.procs.items():
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, cluster.log(name)
    j = cluster.job(job)
    assert (j["succeeded"], j["failed"], j["pending"], j["running"]) == (n, 0, 0, 0)
    # Each task ran exactly once (recorded by the task itself), and was recorded once.
    ran = [ln for f in out.iterdir() for ln in read_lines(f)]
    assert len(ran) == n and set(ran) == {str(i) for i in range(n)}
    tasks = cluster.read(all_tasks)
    once = [t for t in tasks if t.job_id == job and t.status == "succeeded" and t.attempt == 1]
    assert len(once) == n
    # Work was spread over the agents; no "database is locked" anywhere.
    per_agent = Counter(t.agent for t in tasks)
    assert len(per_agent) >= 4, per_agent
    logs = {name: cluster.log(name) for name in cluster.procs}
    logs["reader"] = reader_out
    for name, text in logs.items():
        assert "locked" not in text.lower(), (name, text[-2000:])
        assert "Traceback" not in text, (name, text[-2000:])
    print(f"20,000 tasks on 8 agents in {elapsed:.1f}s; per agent {sorted(per_agent.values())}")
