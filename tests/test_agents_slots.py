"""Agents as real processes: the slots in use are counted from the tasks they hold (never
a counter that drifts), a drained agent can be undrained, and agents silent for longer than
`agent_retention` are pruned with their done / failed counts kept as an aggregate.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.test_agents import FAST, Cluster, until

# A heartbeat far slower than the test: only what the store counts can be right, the
# agent's own report (which once repaired the counter) never comes.
SLOW_BEAT = {"JOBDASH_LEASE": "300", "JOBDASH_HEARTBEAT": "60"}

EXTRA = """
[types.six]
items = ["1", "2", "3", "4", "5", "6"]
command = ["sleep", "1.5"]
parallel = 6

[types.one]
command = ["true"]
"""


@contextmanager
def cluster_with(tmp: Path, types: str, location: str | None = None) -> Iterator[Cluster]:
    """Agent processes on one store (`location`: else a SQLite file in `tmp`), with these
    job types besides test_agents' own."""
    c = Cluster(tmp, location)
    c.cfg.write_text(c.cfg.read_text() + types)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with cluster_with(tmp_path, EXTRA) as c:
        yield c


def listed(cluster: Cluster, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """`jobdash agents --json` by name (the pruned aggregate under None); `env`: the
    agents' timings, which tell the viewer when an agent's silence makes it stale."""
    r = run_cli("agents", "--json", "--db", str(cluster.db), "--config", str(cluster.cfg), env=env)
    assert r.returncode == 0, r.stderr
    return {row["name"]: row for row in json.loads(r.stdout)}


def test_slots_in_use_are_the_running_tasks_the_agent_holds(cluster: Cluster) -> None:
    cluster.start("a", "--slots", "2", env=SLOW_BEAT)
    job = cluster.run("six")
    samples = []
    while cluster.job(job)["status"] != "succeeded":
        info = listed(cluster, SLOW_BEAT)["a"]
        samples.append((info["running"], info["state"]))
        # Never more than its slots, whatever the claims and refills did.
        assert info["running"] <= 2, samples
    assert any(running > 0 for running, _ in samples), samples
    # Finished: nothing held, so 0 in use and idle at once (no heartbeat came meanwhile).
    info = listed(cluster, SLOW_BEAT)["a"]
    assert (info["running"], info["state"]) == (0, "idle")
    table = run_cli(
        "agents", "--db", str(cluster.db), "--config", str(cluster.cfg), env=SLOW_BEAT
    ).stdout
    assert "0/2" in table and "idle" in table, table


def test_running_count_is_an_index_lookup(cluster: Cluster) -> None:
    """The Agents tab polls this query: it must probe tasks_running per agent, never scan
    the tasks (a long history holds millions)."""
    from jobdash.core.store.sql.agents import AGENTS_QUERY

    cluster.start("a", env=FAST)
    con = sqlite3.connect(cluster.db)
    try:
        plan = " | ".join(r[-1] for r in con.execute(f"EXPLAIN QUERY PLAN {AGENTS_QUERY}"))
    finally:
        con.close()
    assert "INDEX tasks_running (owner=?)" in plan, plan
    assert "SCAN t" not in plan and "SCAN tasks" not in plan, plan


def test_undrain_lets_a_drained_agent_claim_again(cluster: Cluster) -> None:
    cluster.start("a", env=FAST)
    r = cluster.cli("agent", "undrain", "a")
    assert r.returncode == 1 and "not drained" in r.stderr, r.stderr
    assert cluster.cli("agent", "drain", "a").returncode == 0
    drained = listed(cluster)["a"]
    assert drained["state"] == "draining"

    def beat_after(t: float) -> Any:
        return lambda: listed(cluster)["a"]["heartbeat"] > t

    # A heartbeat after the drain told the agent; then the job comes.
    until(beat_after(drained["heartbeat"]), 10, "a heartbeat after the drain")
    job = cluster.run("one")
    submitted = listed(cluster)["a"]
    until(beat_after(submitted["heartbeat"]), 10, "a heartbeat after the job came")
    # Drained: the job's task stays pending (an idle agent claims within 0.1 s).
    assert cluster.tasks(job)["one"]["status"] == "pending"
    r = cluster.cli("agent", "undrain", "a")
    assert r.returncode == 0, r.stderr
    assert "undrained" in r.stdout
    until(lambda: cluster.job(job)["status"] == "succeeded", 20, "job run after undrain")
    assert cluster.tasks(job)["one"]["agent"] == "a"
    info = listed(cluster)["a"]
    assert info["drain"] is False and info["state"] in ("idle", "busy")
    events = cluster.read(lambda store: store.audit_events("agent:a"))
    actions = [e.action for e in reversed(events)]
    assert actions == ["drain", "undrain"]


def test_silent_agents_are_pruned_and_their_counts_kept(cluster: Cluster) -> None:
    cluster.cfg.write_text(
        cluster.cfg.read_text().replace("[jobdash]\n", '[jobdash]\nagent_retention = "1s"\n')
    )
    a = cluster.start("a", env=FAST)
    job = cluster.run("sleepy", secs="0.1")
    until(lambda: cluster.job(job)["status"] == "succeeded", 20, "job done")
    until(lambda: listed(cluster)["a"]["done"] == 2, 10, "a's heartbeat counted its tasks")
    a.send_signal(signal.SIGTERM)
    a.wait(20)
    assert listed(cluster)["a"]["state"] == "offline"
    until(lambda: listed(cluster)["a"]["heartbeat_age"] > 1.5, 10, "a silent past retention")
    cluster.start("b", env=FAST)  # its first housekeeping sweep prunes `a`
    until(lambda: "a" not in listed(cluster), 20, "a pruned")
    rows = listed(cluster)
    assert rows[None] == {"name": None, "state": "pruned", "agents": 1, "done": 2, "failed": 0}
    assert sum(row["done"] for row in rows.values()) == 2  # the total did not drop
    table = cluster.cli("agents").stdout
    assert "(1 pruned agent)" in table, table


def test_an_agent_stopping_counts_the_tasks_it_did_since_its_last_heartbeat(
    cluster: Cluster,
) -> None:
    a = cluster.start("a", env=SLOW_BEAT)  # no heartbeat comes during the test
    job = cluster.run("six")
    until(lambda: cluster.job(job)["status"] == "succeeded", 30, "job done")
    a.send_signal(signal.SIGTERM)
    a.wait(20)
    info = listed(cluster)["a"]
    assert (info["state"], info["done"], info["failed"]) == ("offline", 6, 0)
