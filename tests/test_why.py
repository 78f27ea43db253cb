"""`jobdash why JOB`: each reason a job waits, made by a real situation (real engine and agent
processes, real locks, a real pause, a real failing command's backoff, a real drain) and
reported by the real command line, in text and JSON, on SQLite and on PostgreSQL.

The store-side reads and the reasons that need a dead agent (a quarantine suspect) are the
Store contract's (tests/store_contract/test_waits.py).
"""

from __future__ import annotations

import json
import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_agents import FAST, Cluster, until

pytestmark = pytest.mark.both_backends

ME = pwd.getpwuid(os.getuid()).pw_name

TYPES = """
# Item 1 ends at once; item 2 runs until the test creates {gate}: the job holds its lock
# at 50% meanwhile.
[types.hold]
params.gate = { required = true }
params.dir = { default = "/srv/a" }
items = ["1", "2"]
parallel = 1
locks = ["folder:{dir}"]
command = ["sh", "-c", "test {item} = 1 || while [ ! -e {gate} ]; do sleep 0.05; done"]

[types.solo]
params.gate = { required = true }
exclusive = true
command = ["sh", "-c", "while [ ! -e {gate} ]; do sleep 0.05; done"]

[types.flaky]
command = ["sh", "-c", "echo 'disk on fire' >&2; exit 3"]
retries = 2
backoff = 30

[types.wide]
params.gate = { required = true }
items = ["a", "b", "c"]
parallel = 1
command = ["sh", "-c", "while [ ! -e {gate} ]; do sleep 0.05; done"]
"""


@pytest.fixture
def engines(tmp_path: Path, store_location: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, store_location)
    c.cfg.write_text(c.cfg.read_text() + TYPES)
    try:
        yield c
    finally:
        c.close()


def why(c: Cluster, job_id: int) -> dict[str, Any]:
    r = c.cli("why", str(job_id), "--json")
    assert r.returncode == 0, r.stderr
    answer: dict[str, Any] = json.loads(r.stdout)
    return answer


def said(c: Cluster, job_id: int) -> str:
    """`jobdash why JOB` as text, piped (whole lines), its blanks folded."""
    return c.said("why", str(job_id))


def info(c: Cluster, job_id: int) -> str:
    """The job's line as the job tables show it (`jobs --json`: the same rows)."""
    rows = json.loads(c.cli("jobs", f"id:{job_id}", "--json").stdout)
    return str(rows[0]["info"])


def held_back(c: Cluster, type_: str, gate: Path, counter: str) -> tuple[int, int]:
    """An engine, a job of `type_` with one task `counter` (running, or succeeded while
    another runs until `gate` exists), then a second one, held back by the first."""
    c.start("e", kind="serve", env=FAST)
    first = c.run(type_, gate=str(gate))
    until(lambda: c.job(first)[counter] == 1, 20, f"the first job's task {counter}")
    second = c.run(type_, gate=str(gate))
    until(lambda: c.job(second)["status"] == "waiting", 20, "the second job waiting")
    return first, second


def test_a_held_lock_names_the_holder_its_user_start_and_progress(
    engines: Cluster, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    holder, waiter = held_back(engines, "hold", gate, "succeeded")  # the holder at 50%
    w = why(engines, waiter)
    assert (w["reason"], w["waiting"], w["status"]) == ("lock", True, "waiting")
    h = w["holder"]
    assert (h["key"], h["job"], h["user"], h["status"]) == ("folder:/srv/a", holder, ME, "running")
    assert h["started"] is not None and h["progress"] == pytest.approx(50.0)
    text = said(engines, waiter)
    assert f"waiting: lock folder:/srv/a held by job {holder} ({ME}; running since " in text
    assert text.endswith(", 50%)")
    # The tables' info column: the stored line, written at admission.
    assert info(engines, waiter) == f"waiting: lock folder:/srv/a held by job {holder}"
    gate.touch()
    until(lambda: engines.job(waiter)["status"] == "succeeded", 30, "both done")
    w = why(engines, waiter)
    assert (w["reason"], w["waiting"], w["status"]) == ("finished", False, "succeeded")
    assert "now: finished: succeeded at " in said(engines, waiter)


def test_an_exclusive_job_waits_for_the_exclusive_slot(engines: Cluster, tmp_path: Path) -> None:
    first, second = held_back(engines, "solo", tmp_path / "gate", "running")
    w = why(engines, second)
    assert w["reason"] == "exclusive" and w["holder"]["job"] == first
    assert w["text"].startswith(f"exclusive slot held by job {first} ({ME}; running since ")
    assert info(engines, second) == f"waiting: exclusive slot held by job {first}"


def test_parallel_slots_then_a_pause_by_whom_and_when(engines: Cluster, tmp_path: Path) -> None:
    engines.start("e", kind="serve", env=FAST)
    job = engines.run("wide", gate=str(tmp_path / "gate"))
    until(lambda: engines.job(job)["running"] == 1, 20, "one task running")
    w = why(engines, job)
    # The job runs: it does not wait; its two other tasks wait for its one parallel slot.
    assert (w["reason"], w["waiting"]) == ("running", False)
    assert w["tasks"] == [
        {
            "reason": "parallel",
            "text": "parallel 1/1 used by its task #1",
            "tasks": [],
            "count": 2,
            "until": None,
        }
    ]
    assert "2 tasks: parallel 1/1 used by its task #1" in said(engines, job)
    before = time.time()
    r = engines.cli("pause", str(job))
    assert r.returncode == 0, r.stderr
    after = time.time()
    w = why(engines, job)
    assert (w["reason"], w["waiting"], w["status"]) == ("paused", True, "paused")
    assert w["paused_by"]["user"] == ME and before - 1 <= w["paused_by"]["at"] <= after + 1
    assert w["text"].startswith(f"paused by {ME} at ")
    assert info(engines, job) == f"paused by {ME}"
    r = engines.cli("resume", str(job))
    assert r.returncode == 0, r.stderr
    assert why(engines, job)["reason"] == "running"
    assert info(engines, job) == ""  # its own line again: its tasks print nothing


def test_a_failed_attempt_waits_out_its_backoff_until_a_time(engines: Cluster) -> None:
    engines.start("e", kind="serve", env=FAST)
    job = engines.run("flaky")

    def backing_off() -> bool:
        t = engines.tasks(job)["flaky"]
        return bool(t["status"] == "pending" and t["attempt"] == 1)

    until(backing_off, 20, "the first attempt failed, the task pending again")
    failed_by = time.time()
    w = why(engines, job)
    assert (w["reason"], w["waiting"]) == ("backoff", True)
    assert failed_by - 31 <= w["until"] - 30 <= failed_by  # 30 s after the failure
    assert w["text"].startswith("retry backoff: task #1 (attempt 1 failed) runs again at ")
    until(lambda: info(engines, job).startswith("retry backoff: next try at "), 20, "the line")


def test_no_agent_then_busy_slots_then_draining(engines: Cluster, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    first = engines.run("wide", gate=str(gate))  # no engine yet: it stays queued
    w = why(engines, first)
    assert (w["status"], w["reason"]) == ("queued", "no-agent")
    assert w["text"] == "no live agent to run it (start one: jobdash serve)"
    engines.start("e", "--slots", "1", kind="serve", env=FAST)
    until(lambda: engines.job(first)["running"] == 1, 20, "the first job running")
    second = engines.run("wide", gate=str(gate))
    busy = f"agents busy: 1/1 slot (job {first})"
    until(lambda: why(engines, second)["text"] == busy, 20, "busy")
    assert why(engines, second)["reason"] == "busy"
    until(lambda: info(engines, second) == busy, 20, "the tables' line")
    r = engines.cli("agent", "drain", "e")
    assert r.returncode == 0, r.stderr
    w = why(engines, second)
    assert (w["reason"], w["text"]) == ("draining", "agents draining: all 1 live agent")


def test_a_bad_or_unknown_id_is_one_line_and_exit_2(engines: Cluster, tmp_path: Path) -> None:
    engines.run("wide", gate=str(tmp_path / "gate"))  # the store exists, with a job
    for arg, line in (
        ("abc", "jobdash: why: argument job: not a job id: 'abc'"),
        ("99999", "jobdash: why: no job 99999"),
    ):
        r = engines.cli("why", arg)
        assert r.returncode == 2, (arg, r.stdout, r.stderr)
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert line in r.stderr
