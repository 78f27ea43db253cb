"""What a paused job's tasks and the tasks of a dead engine read as, on real engines and real
processes, told by the real command line (`jobdash jobs`, `jobdash show`):

- a paused job's running task (SIGSTOPped, still `running` in the store and holding its
  slot) reads "⏸ paused", its time stands still, and it is not told stalled however long it
  is silent; resumed, its time goes on without the paused span, and its silence starts again;
- the running task of an engine killed with kill -9 reads "▶ agent lost" (not "stalled":
  nothing runs it, it is not hung), its job too (`status:lost`), with the words that say an
  engine that starts recovers it; and one does (its retry runs it again).

The rules are tests/test_timing_rules.py's; the dashboard's rows tests/tui/test_paused_and_lost_tui.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_agents import FAST, Cluster, until
from tests.test_agents_slots import cluster_with
from tests.test_timing import listed, row_of, show, shown_text

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

TYPES = """
# Silent: a task that prints nothing for a minute, stalled past 2 s.
[types.silent]
command = ["sleep", "60"]
stall_after = "2s"
retries = 1

# The same, stalled past 5 s: time for a command or two after a resume.
[types.quiet]
command = ["sleep", "60"]
stall_after = "5s"
"""


@pytest.fixture
def engines(tmp_path: Path, store_location: str) -> Iterator[Cluster]:
    with cluster_with(tmp_path, TYPES, store_location) as c:
        yield c


def task_of(c: Cluster, job_id: int) -> dict[str, Any]:
    (task,) = show(c, job_id)["tasks"]
    return dict(task)


def task_line(c: Cluster, job_id: int) -> str:
    """The row of the job's one task in `jobdash show` (piped), its blanks folded."""
    r = c.cli("show", str(job_id))
    assert r.returncode == 0, r.stderr
    (line,) = [ln for ln in r.stdout.splitlines() if ln.split()[:1] == ["1"] and "TASK" not in ln]
    return " ".join(line.split())


def seconds(cell: str) -> int:
    """A short duration as `jobdash show` writes it: "7s", "1m05s"."""
    if "m" in cell:
        m, s = cell.rstrip("s").split("m")
        return int(m) * 60 + int(s)
    return int(cell.rstrip("s"))


def test_a_paused_jobs_task_reads_paused_its_time_stands_still_and_it_never_stalls(
    engines: Cluster,
) -> None:
    engines.start("one", kind="serve", env=FAST)
    job = engines.run("quiet")
    until(lambda: show(engines, job)["running"] == 1, 20, "quiet runs")
    r = engines.cli("pause", str(job))
    assert r.returncode == 0, r.stderr
    paused_at = time.time()
    started = task_of(engines, job)["started"]
    # Long past its stall_after (5 s), silent all along: paused, not stalled.
    until(lambda: time.time() - started > 6.5, 10, "past stall_after")
    line = task_line(engines, job)
    assert "⏸ paused" in line and "▶" not in line, line
    frozen = seconds(line.split()[-1])
    assert frozen <= paused_at - started + 1, (line, paused_at - started)
    assert "⏸ paused" in row_of(engines, job)
    d = show(engines, job)
    assert d["flags"] == [] and d["status"] == "paused"
    assert listed(engines, "status:stalled") == []
    assert "STALLED" not in shown_text(engines, job)
    # Still running in the store, holding its slot (the agents view counts it busy).
    assert task_of(engines, job)["status"] == "running"
    assert seconds(task_line(engines, job).split()[-1]) == frozen, "its clock moved while paused"

    r = engines.cli("resume", str(job))
    assert r.returncode == 0, r.stderr
    resumed = time.time()
    span = resumed - paused_at
    # Resumed: running again, not stalled at once for the silence it kept while stopped
    # (its silence starts again), and its paused span is not its run time.
    d = show(engines, job)
    (task,) = d["tasks"]
    assert d["flags"] == [] and d["status"] == "running", d
    assert task["active"] == pytest.approx(resumed, abs=1.5)
    assert task["idle_time"] == pytest.approx(span, abs=1.5)
    ran = seconds(task_line(engines, job).split()[-1])
    wall = time.time() - started
    assert ran <= wall - span + 1.5, (ran, wall, span)
    engines.cli("cancel", str(job))


def test_the_task_of_a_killed_engine_reads_agent_lost_not_stalled_and_runs_again(
    engines: Cluster,
) -> None:
    one = engines.start("one", kind="serve", env=FAST)
    job = engines.run("silent")
    until(lambda: show(engines, job)["running"] == 1, 20, "silent runs")
    os.kill(one.pid, signal.SIGKILL)
    one.wait()
    # Its lease (2 s) runs out, and its silence passes stall_after (2 s): nobody runs it.
    until(lambda: show(engines, job)["flags"] == ["lost"], 20, "told lost")
    time.sleep(1)  # well past stall_after too
    assert show(engines, job)["flags"] == ["lost"]
    row = row_of(engines, job)
    assert "▶ agent lost" in row and "stalled" not in row, row
    assert listed(engines, "status:lost") == [job]
    assert listed(engines, "status:stalled") == []
    text = shown_text(engines, job)
    assert "no live agent runs its tasks — recovered when an engine starts" in text, text
    assert "STALLED" not in text and "stalled" not in text, text
    assert "▶ agent lost" in task_line(engines, job)
    why = engines.cli("why", str(job))
    assert why.returncode == 0, why.stderr
    assert " ".join(why.stdout.split()).startswith(
        f"job {job} silent ▶ running waiting: agent lost: task #1 held by no live agent "
        "(lease ran out at "
    ), why.stdout
    assert "recovered when an engine starts (start one: jobdash serve)" in why.stdout
    # An engine starts: recovery runs the task again, and it is no longer lost.
    engines.start("two", kind="serve", env=FAST)
    until(lambda: task_of(engines, job)["attempt"] == 2, 30, "attempt 2 runs")
    until(lambda: "agent lost" not in task_line(engines, job), 10, "no longer lost")
    assert "lost" not in show(engines, job)["flags"]
    engines.cli("cancel", str(job))
