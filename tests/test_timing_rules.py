"""The rules of history-aware timing (`core.timing`) and how they read (`present/timing.py`,
the filter language's flags): pure functions of a job, its type's runs and a clock. The real
processes that these rules flag are tests/test_timing.py's."""

from __future__ import annotations

import pytest

from jobdash.core.model import BadInput, Job, JobStatus, Run, Task, TaskStatus, Trigger
from jobdash.core.query import parse_query
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.filters import query_sql
from jobdash.core.timing import (
    STALL_FLOOR,
    agent_lost,
    estimate,
    expected_run,
    flags,
    overrun,
    percentile,
    stalled,
    task_duration,
    task_stalled,
    type_timing,
)
from jobdash.present.durations import job_time
from jobdash.present.status import Tone
from jobdash.present.timing import job_look, stalled_note, task_look, timing_words

T0 = 1_800_000_000.0


def runs(*durations: float, status: JobStatus = JobStatus.SUCCEEDED) -> list[Run]:
    return [Run(i + 1, status, T0, d) for i, d in enumerate(durations)]


def running(started: float = T0, **fields: object) -> Job:
    job = Job(1, "nap", {}, "alice", Trigger.MANUAL, JobStatus.RUNNING, T0, T0, started=started)
    job.pending, job.running = 0, 1
    for k, v in fields.items():
        setattr(job, k, v)
    return job


def test_medians_shrug_off_an_outlier_and_only_usual_runs_count() -> None:
    t = type_timing(
        "nap",
        runs(600, 610, 590, 600, 6000) + runs(1, 2, status=JobStatus.FAILED),
        [10, 11, 9, 400],
        None,
    )
    assert t.runs == 5  # failed runs say nothing of a normal one's length
    assert t.job_median == 600
    assert t.job_p90 == 6000  # nearest rank of 5 runs: the 5th
    assert t.task_median == 10.5
    assert t.task_p90 == 400


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([3.0], 90) == 3.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 21)], 90) == 18.0


def test_too_few_runs_give_a_median_but_no_p90_nor_derived_stall() -> None:
    t = type_timing("nap", runs(5, 7), [5, 7], None)
    assert t.job_median == 6 and t.job_p90 is None and t.stall_after is None
    assert not overrun(running(timing=t), T0 + 1000)


def test_stall_after_is_configured_or_derived_from_history() -> None:
    quick = type_timing("q", runs(1, 1, 1), [1, 1, 2], None)
    assert quick.stall_after == STALL_FLOOR and not quick.stall_configured
    slow = type_timing("s", runs(300, 300, 300), [100, 200, 300], None)
    assert slow.stall_after == 600  # twice the tasks' p90: a normally silent task is not
    set_ = type_timing("c", runs(300, 300, 300), [300], 5.0)
    assert set_.stall_after == 5.0 and set_.stall_configured
    assert type_timing("n", [], [], None).stall_after is None  # neither: never told


def test_estimate_from_its_pace_else_history_else_none() -> None:
    hist = type_timing("nap", runs(600, 600, 600), [], None)
    job = running(timing=hist)
    assert estimate(job, T0 + 100).seconds == 500 and estimate(job, T0).source == "history"
    assert job_time(job, T0 + 100) == "≈9m"  # labelled: from history
    assert "ETA ≈9m from history (median 10m00s of 3 runs)" in timing_words(job, T0 + 100)
    job.progress = 50  # its own pace shows: that wins
    assert estimate(job, T0 + 100) == estimate(job, T0 + 100).__class__(100.0, "rate")
    assert job_time(job, T0 + 100) == "~2m"
    assert "from its pace" in timing_words(job, T0 + 100)
    fresh = running(timing=type_timing("new", [], [], None))
    assert estimate(fresh, T0 + 5).source == "none"
    assert job_time(fresh, T0 + 75) == "1m15s"  # elapsed, not a blank
    assert "no history of this type yet" in timing_words(fresh, T0 + 5)
    queued = running(timing=hist, status=JobStatus.QUEUED, started=None)
    assert estimate(queued, T0).source == "" and timing_words(queued, T0) == ""


def test_expected_run_counts_waves_of_tasks() -> None:
    t = type_timing("nap", runs(50, 50, 50), [10, 10, 10], None)
    job = running(timing=t, pending=9, running=1, parallel=3)
    assert expected_run(job, t) == 40  # 10 tasks, 3 at a time: 4 waves of 10 s
    assert expected_run(running(pending=0, running=0), t) == 50  # no tasks yet: the run's


def test_overrun_past_the_p90_of_its_type() -> None:
    t = type_timing("nap", runs(2, 2.5, 1.5, 2), [], None)
    job = running(timing=t)
    assert not overrun(job, T0 + 2.5) and overrun(job, T0 + 2.6)
    assert flags(job, T0 + 3) == ("overrun",)
    assert job_look(job, T0 + 3).text == "▶ overrun" and job_look(job, T0 + 1).text == "▶ running"
    assert job_time(job, T0 + 3) == "3s"  # past the estimate: how long it has run
    words = timing_words(job, T0 + 3)
    assert "OVERRUN: longer than 90% of its type's runs (2s)" in words, words
    done = running(timing=t, status=JobStatus.SUCCEEDED, finished=T0 + 100)
    assert not overrun(done, T0 + 200) and flags(done, T0 + 200) == ()


def test_stalled_when_its_quietest_task_is_silent_past_stall_after() -> None:
    t = type_timing("s", [], [], 30.0)
    job = running(timing=t, quiet_since=T0 + 10)
    assert not stalled(job, T0 + 40) and stalled(job, T0 + 41)
    assert flags(job, T0 + 41) == ("stalled",)
    assert job_look(job, T0 + 41).text == "▶ stalled"
    assert "STALLED: a task silent for 31s (stall_after 30s)" in timing_words(job, T0 + 41)
    assert stalled_note([job, running(timing=t, quiet_since=T0 + 40)], T0 + 41) == "1 stalled"
    assert stalled_note([job], T0 + 20) == ""
    assert not stalled(running(timing=t, quiet_since=None), T0 + 1000)  # nothing running
    # Stalled and overrun both: the row shows stalled (the one to act on), the words both.
    both = running(timing=type_timing("b", runs(1, 1, 1), [1], 30.0), quiet_since=T0)
    assert flags(both, T0 + 31) == ("stalled", "overrun")
    assert job_look(both, T0 + 31).word == "stalled"
    assert "OVERRUN" in timing_words(both, T0 + 31) and "STALLED" in timing_words(both, T0 + 31)


def test_a_line_printed_repaints_the_status_cell_only_when_its_look_changes() -> None:
    """A running job's silence moves with every line it prints; its status cell (repainted
    at once, past the live repaints' budget) only when the row shows another flag."""
    from jobdash.tui.widgets.job_columns import changed_columns

    t = type_timing("s", [], [], 30.0)
    before = running(timing=t, quiet_since=T0 + 10)
    printed = running(timing=t, quiet_since=T0 + 20, info="line 2")
    assert changed_columns(before, printed, T0 + 25) == {"info"}
    # At T0 + 41 the job was stalled (silent 31 s); the line it printed ends that.
    assert changed_columns(before, printed, T0 + 41) == {"status", "info"}
    paused = running(timing=t, quiet_since=T0 + 10, status=JobStatus.PAUSED)
    assert "status" in changed_columns(before, paused, T0 + 25)


def test_a_task_is_stalled_by_its_own_last_sign_of_life() -> None:
    t = type_timing("s", [], [], 30.0)
    task = Task(1, 1, 1, "a", None, TaskStatus.RUNNING, attempt=2, started=T0 + 100)
    task.active = T0 + 50  # a line of its earlier attempt: this one started later
    assert task.quiet_since() == T0 + 100
    job, untimed = running(timing=t), running()
    assert not task_stalled(task, job, T0 + 130) and task_stalled(task, job, T0 + 131)
    assert task_look(task, job, T0 + 131).text == "▶ stalled"
    task.active = T0 + 120
    assert not task_stalled(task, job, T0 + 131)
    assert not task_stalled(task, untimed, T0 + 1000)
    task.status = TaskStatus.SUCCEEDED
    assert not task_stalled(task, job, T0 + 1000)
    assert task_look(task, job, T0 + 1000).text == "✔ succeeded"


def test_flags_in_the_filter_language() -> None:
    t = type_timing("s", [], [], 30.0)
    quiet = running(timing=t, quiet_since=T0)
    busy = running(timing=t, quiet_since=T0 + 50)
    busy.id = 2
    now = T0 + 60
    q = parse_query("status:stalled")
    assert q.flags and q.matches(quiet, now) and not q.matches(busy, now)
    assert q.select([quiet, busy], now) == [quiet]
    assert parse_query("-status:stalled").select([quiet, busy], now) == [busy]
    assert parse_query("status:stalled,failed").select([quiet, busy], now) == [quiet]
    assert not parse_query("status:running").flags
    with pytest.raises(BadInput, match="flags of a running job: stalled, overrun"):
        parse_query("status:stale")
    # In SQL, a flag selects the running jobs (the Service then keeps those flagged now),
    # and a negated flag selects nothing away.
    where, args = query_sql(SQLITE, parse_query("status:stalled"), now)
    assert where == "(status IN (?))" and args == ["running"]
    assert query_sql(SQLITE, parse_query("-status:overrun"), now) == ("1", [])


def test_a_paused_jobs_running_task_is_paused_its_clock_stopped_and_never_stalled() -> None:
    t = type_timing("s", [], [], 30.0)
    task = Task(1, 1, 1, "a", None, TaskStatus.RUNNING, attempt=1, started=T0 + 100)
    job = running(timing=t)
    assert task_duration(task, job, T0 + 200) == 100
    # Paused at T0 + 150: its clock stands at 50 s, and silence is no stall.
    job.status, job.paused_at = JobStatus.PAUSED, T0 + 150
    assert task_duration(task, job, T0 + 1000) == 50
    assert task_look(task, job, T0 + 1000).text == "⏸ paused"
    assert task_look(task, job, T0 + 1000).tone is Tone.WARN
    assert not task_stalled(task, job, T0 + 1000)
    # Resumed at T0 + 400: the 250 s paused are the attempt's idle time, not its run time.
    job.status, job.paused_at, job.idle_time = JobStatus.RUNNING, None, 250.0
    task.idle_time, task.active = 250.0, T0 + 400  # as the store's resume writes them
    assert task_duration(task, job, T0 + 410) == 60
    assert task_look(task, job, T0 + 410).text == "▶ running"
    # A pause before a task started is not the task's: only its own idle time counts.
    later = Task(2, 1, 2, "b", None, TaskStatus.RUNNING, attempt=1, started=T0 + 420)
    assert task_duration(later, job, T0 + 430) == 10
    # Not started, or given back: no time.
    later.status = TaskStatus.PENDING
    assert task_duration(later, job, T0 + 430) is None


def test_a_job_whose_lease_ran_out_is_agent_lost_never_stalled_nor_overrun() -> None:
    t = type_timing("s", runs(1, 2, 3), [1.0, 1.0, 1.0], 30.0)
    job = running(timing=t, quiet_since=T0, lease_until=T0 + 100)
    assert flags(job, T0 + 99) == ("stalled", "overrun")
    assert flags(job, T0 + 101) == ("lost",)
    assert not stalled(job, T0 + 101) and not overrun(job, T0 + 101)
    assert agent_lost(job, T0 + 101) and not agent_lost(job, T0 + 99)
    assert job_look(job, T0 + 101).text == "▶ agent lost"
    assert stalled_note([job], T0 + 101) == ""
    words = timing_words(job, T0 + 101)
    assert words.startswith("AGENT LOST: no live agent runs its tasks") and "STALLED" not in words
    # Its task, with the same lease: lost, not stalled.
    task = Task(1, 1, 1, "a", None, TaskStatus.RUNNING, attempt=1, started=T0, lease_until=T0 + 100)
    assert task_look(task, job, T0 + 99).text == "▶ stalled"
    assert task_look(task, job, T0 + 101).text == "▶ agent lost"
    assert not task_stalled(task, job, T0 + 101)
    # A paused job whose agent died stays paused in its row; its task is lost.
    job.status, job.paused_at = JobStatus.PAUSED, T0 + 50
    assert flags(job, T0 + 101) == () and job_look(job, T0 + 101).text == "⏸ paused"
    assert task_look(task, job, T0 + 101).text == "▶ agent lost"
    # Without a lease read (no running task), never lost.
    assert not agent_lost(running(), T0 + 1000)
