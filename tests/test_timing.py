"""History-aware timing on real engines and real processes, told by the real command line:

- a job of a type with history gets its ETA from that history before its pace shows, and
  says so; a type without history says that, and its time column shows how long it has run;
- a real slow command, against real earlier runs of its type, is flagged overrun once it
  has run longer than their p90 (`status:overrun`);
- a real silent task (`sleep`) is flagged stalled past its type's `stall_after`, in `jobs`,
  `show` (the job and its task) and `status:stalled`, while a task that prints lines is not.

The rules themselves (medians, p90, the derived `stall_after`) are tests/test_timing_rules.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_agents import FAST, Cluster, until
from tests.test_agents_slots import cluster_with

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

TYPES = """
[types.nap]
params.secs = { required = true }
command = ["sleep", "{secs}"]

[types.fresh]
command = ["sleep", "60"]

# Silent: a task that prints nothing for a minute.
[types.silent]
command = ["sleep", "60"]
stall_after = "2s"

# Chatty: a line every 0.3 s.
[types.chatty]
command = ["sh", "-c", "while :; do echo tick; sleep 0.3; done"]
stall_after = "2s"
"""


@pytest.fixture
def engines(tmp_path: Path, store_location: str) -> Iterator[Cluster]:
    with cluster_with(tmp_path, TYPES, store_location) as c:
        yield c


def show(c: Cluster, job_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = c.json("show", str(job_id))
    return shown


def shown_text(c: Cluster, job_id: int) -> str:
    """`jobdash show JOB` piped, its blanks folded."""
    return c.said("show", str(job_id))


def listed(c: Cluster, query: str) -> list[int]:
    return [j["id"] for j in c.json("jobs", query)]


def row_of(c: Cluster, job_id: int) -> str:
    """The line of `jobdash jobs` (piped) that shows `job_id`."""
    r = c.cli("jobs")
    assert r.returncode == 0, r.stderr
    (line,) = [ln for ln in r.stdout.splitlines() if ln.split()[:1] == [str(job_id)]]
    return " ".join(line.split())


def seed_durations(c: Cluster, runs: dict[int, float]) -> None:
    """Give real finished runs these run times (seconds): the history of their type, as if
    they had run that long (their tasks too), without waiting that long."""
    sql = [
        "UPDATE jobs SET started = finished - ?, idle_time = 0 WHERE id = ?",
        "UPDATE tasks SET started = finished - ? WHERE job_id = ?",
    ]
    if c.pg:
        import psycopg

        with psycopg.connect(c.db, autocommit=True) as pg:
            for job_id, secs in runs.items():
                for q in sql:
                    pg.execute(q.replace("?", "%s"), (secs, job_id))
        return
    con = sqlite3.connect(c.db, timeout=30)
    try:
        with con:
            for job_id, secs in runs.items():
                for q in sql:
                    con.execute(q, (secs, job_id))
    finally:
        con.close()


def history(c: Cluster, *secs: float) -> list[int]:
    """Real runs of `nap` (a second each), then seeded to have run `secs`."""
    runs = [c.run("nap", secs="0.5") for _ in secs]
    until(lambda: all(show(c, j)["status"] == "succeeded" for j in runs), 40, "history ran")
    seed_durations(c, dict(zip(runs, secs, strict=True)))
    return runs


def test_eta_from_history_before_its_pace_shows(engines: Cluster) -> None:
    engines.start("one", "--slots", "4", kind="serve", env=FAST)
    # Five runs: four of about 10 minutes and one that hung for 100: the median is 10 minutes.
    history(engines, 600, 610, 590, 600, 6000)
    slow = engines.run("nap", secs="60")
    until(lambda: show(engines, slow)["started"] is not None, 20, "the slow one started")
    d = show(engines, slow)
    # No task ended: its pace is unknown; its type's history gives the estimate.
    assert d["eta_source"] == "history" and 500 < d["eta"] <= 600, d
    assert d["flags"] == []
    text = shown_text(engines, slow)
    assert "ETA ≈10m from history (median 10m00s of 5 runs)" in text, text
    row = row_of(engines, slow)
    assert "≈10m" in row and "▶ running" in row, row  # the table's ETA: from history
    assert slow not in listed(engines, "status:overrun")
    engines.cli("cancel", str(slow))


def test_a_real_slow_command_is_flagged_overrun(engines: Cluster) -> None:
    engines.start("one", "--slots", "4", kind="serve", env=FAST)
    runs = history(engines, 2, 2.5, 1.5, 2)
    slow = engines.run("nap", secs="60")
    # Past the p90 of its history (2.5 s): overrun, in every place that shows it.
    until(lambda: "overrun" in show(engines, slow)["flags"], 30, "flagged overrun")
    assert listed(engines, "status:overrun") == [slow]
    assert slow not in listed(engines, "-status:overrun")
    # The newest job is flagged: a page of one without it is the next job, not the end.
    limited = engines.json("jobs", "--limit", "1", "-status:overrun")
    assert [j["id"] for j in limited] == [runs[-1]]
    assert slow in listed(engines, "status:running")
    assert "▶ overrun" in row_of(engines, slow)
    text = shown_text(engines, slow)
    assert "OVERRUN: longer than 90% of its type's runs (2s)" in text, text
    assert "past its history's estimate (median 2s of 4 runs)" in text, text
    # The runs that ended were never flagged (only a running job can be).
    assert all(show(engines, j)["flags"] == [] for j in runs)
    engines.cli("cancel", str(slow))


def test_a_type_without_history_says_so_and_shows_its_elapsed_time(engines: Cluster) -> None:
    engines.start("one", kind="serve", env=FAST)
    job = engines.run("fresh")
    until(lambda: (show(engines, job)["duration"] or 0) >= 2, 20, "running 2 s")
    d = show(engines, job)
    assert d["eta"] is None and d["eta_source"] == "none" and d["flags"] == []
    assert "no history of this type yet" in shown_text(engines, job)
    # Before any task ended, the table shows how long it has run (not a blank).
    cells = row_of(engines, job).split()
    assert any(c.endswith("s") and c[:-1].isdigit() and int(c[:-1]) >= 2 for c in cells), cells
    engines.cli("cancel", str(job))


def test_a_silent_task_is_stalled_and_a_task_printing_lines_is_not(engines: Cluster) -> None:
    engines.start("one", "--slots", "4", kind="serve", env=FAST)
    silent = engines.run("silent")
    chatty = engines.run("chatty")
    until(lambda: show(engines, chatty)["info"] == "tick", 20, "chatty prints")
    until(lambda: show(engines, silent)["running"] == 1, 20, "silent runs")
    until(lambda: listed(engines, "status:stalled") == [silent], 20, "silent flagged stalled")
    # Long past stall_after, the task that prints is still not stalled.
    until(lambda: (show(engines, chatty)["duration"] or 0) > 4, 20, "chatty ran 4 s")
    assert listed(engines, "status:stalled") == [silent]
    assert show(engines, chatty)["flags"] == []
    assert show(engines, silent)["flags"] == ["stalled"]
    assert set(listed(engines, "-status:stalled")) >= {chatty}
    assert silent not in listed(engines, "-status:stalled")
    assert "▶ stalled" in row_of(engines, silent)
    assert "▶ running" in row_of(engines, chatty)
    text = shown_text(engines, silent)
    assert "STALLED: a task silent for" in text and "(stall_after 2s)" in text, text
    # Its task is the one flagged, in the tasks' table.
    assert text.count("▶ stalled") == 2, text  # the job's line and its task's row
    assert "▶ stalled" not in shown_text(engines, chatty)
    for j in (silent, chatty):
        engines.cli("cancel", str(j))
