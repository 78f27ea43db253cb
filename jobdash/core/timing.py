"""History-aware timing: what a job type's earlier runs say about a job running now.

- The history of a type (`type_timing`): its last `HISTORY_RUNS` finished jobs that took
  their usual course (succeeded, or succeeded with warnings; a failed or cancelled run's
  length says nothing of a normal one), and their succeeded tasks. Medians, not means: one
  run that hung for an hour does not move them. 90th percentiles by nearest rank.
- The estimate of what is left (`estimate`): from the job's own pace once its progress
  moved (the tasks that ended, or progress reported: `Job.eta`); before that, from history:
  the median task's length times the waves of its tasks (`parallel` at a time), or the
  median run's when its tasks' lengths are not known; less the time it has run. Labelled by
  its source (`Estimate.source`), so a front end says which it shows; without history it
  says so (`Estimate.source` "none").
- Overrun (`overrun`): a running job that has run longer than its type's p90, once the type
  has `MIN_RUNS` runs to tell it from.
- Stalled (`stalled`): a running job one of whose running tasks has shown no sign of life
  (its own log line, progress; its start) for longer than its type's `stall_after`. A type
  without one takes `STALL_FACTOR` times its tasks' p90, at least `STALL_FLOOR` (a task
  that normally runs silently for ten minutes is not stalled after five); a type with
  neither setting nor history is not told stalled.
- Agent lost (`agent_lost`, `task_lost`): a running task whose lease ran out, so no live
  agent holds it (its engine was killed or stopped, its host is gone) and none took it over
  yet; crash recovery runs it again once an engine runs. Its silence then says nothing of
  the task itself: a lost job is told neither stalled nor overrun.
- A paused job's running tasks are stopped, not running time (`lifecycle.task_stopped`):
  no stall is told of them, and their clocks stand still (`task_duration`).

The Service reads a type's history once and keeps it `TIMING_TTL` seconds (and drops it when
a job of that type ends), so a table's rows never ask the store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from jobdash.core.lifecycle import task_stopped
from jobdash.core.model import Job, JobStatus, Run, Task, TaskStatus, TypeTiming, run_time

HISTORY_RUNS = 20  # a type's last finished runs that its timing is taken from
MIN_RUNS = 3  # runs of history before a p90 (overrun, a derived stall_after) means something
STALL_FACTOR = 2.0  # a derived stall_after: this many times the type's tasks' p90 …
STALL_FLOOR = 60.0  # … and at least this many seconds
TIMING_TTL = 60.0  # seconds the Service keeps a type's timing before it reads it again
USUAL = frozenset({JobStatus.SUCCEEDED, JobStatus.WARNING})

# Flags of a running job: words the filter language takes as statuses (`status:stalled`).
STALLED = "stalled"
OVERRUN = "overrun"
LOST = "lost"
FLAGS = (STALLED, OVERRUN, LOST)


class Estimate(NamedTuple):
    """Seconds left (None: not told) and where the number comes from: "rate" (the job's own
    pace), "history" (its type's last runs), "none" (a running job whose type has no
    history and whose pace is not known yet), "" (not running)."""

    seconds: float | None
    source: str


def usual_runs(runs: Sequence[Run]) -> list[Run]:
    """The runs whose length says what a normal run takes."""
    return [r for r in runs if r.status in USUAL and r.duration is not None]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The `p`-th percentile by nearest rank (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def type_timing(
    type: str, runs: Sequence[Run], task_durations: Sequence[float], stall_after: float | None
) -> TypeTiming:
    """A type's timing from its last runs (`usual_runs` of them), the durations of those
    runs' succeeded tasks, and its configured `stall_after` (None: derived)."""
    import statistics  # here: it loads fractions, decimal and random, for every command

    durations = [r.duration for r in usual_runs(runs) if r.duration is not None]
    enough = len(durations) >= MIN_RUNS
    task_median = statistics.median(task_durations) if task_durations else None
    task_p90 = percentile(task_durations, 90) if task_durations else None
    derived = None
    if task_p90 is not None and enough:
        derived = max(STALL_FLOOR, STALL_FACTOR * task_p90)
    return TypeTiming(
        type=type,
        runs=len(durations),
        job_median=statistics.median(durations) if durations else None,
        job_p90=percentile(durations, 90) if enough else None,
        task_median=task_median,
        task_p90=task_p90,
        stall_after=stall_after if stall_after is not None else derived,
        stall_configured=stall_after is not None,
    )


def expected_run(job: Job, timing: TypeTiming) -> float | None:
    """How long `job` should run in all, by its type's history: its tasks' median length
    times their waves (`parallel` at once), else the median run's length."""
    if timing.task_median is not None and job.total > 0:
        waves = math.ceil(job.total / max(1, min(job.parallel, job.total)))
        return timing.task_median * waves
    return timing.job_median


def estimate(job: Job, now: float) -> Estimate:
    """What is left of a running job, and from what (see the module's docstring)."""
    if job.status is not JobStatus.RUNNING:
        return Estimate(None, "")
    own = job.eta(now)
    if own is not None:
        return Estimate(own, "rate")
    timing = job.timing
    expected = expected_run(job, timing) if timing is not None else None
    if expected is None:
        return Estimate(None, "none")
    elapsed = job.duration(now) or 0.0
    return Estimate(expected - elapsed if expected > elapsed else None, "history")


def overrun(job: Job, now: float) -> bool:
    """A running job that has run longer than its type's p90 (not one whose agent is lost:
    what it waits for is an engine)."""
    if job.status is not JobStatus.RUNNING or job.timing is None or agent_lost(job, now):
        return False
    p90 = job.timing.job_p90
    elapsed = job.duration(now)
    return p90 is not None and elapsed is not None and elapsed > p90


def silent_for(quiet_since: float | None, now: float) -> float | None:
    """Seconds since a sign of life (None: nothing running)."""
    return None if quiet_since is None else max(0.0, now - quiet_since)


def stalled(job: Job, now: float) -> bool:
    """A running job one of whose running tasks is silent longer than its `stall_after` (not
    one whose agent is lost: no agent runs the task, so its silence says nothing of it)."""
    if job.status is not JobStatus.RUNNING or job.timing is None or agent_lost(job, now):
        return False
    return past(job.timing.stall_after, silent_for(job.quiet_since, now))


def task_stalled(task: Task, job: Job, now: float) -> bool:
    """A running task of `job` silent longer than its type's `stall_after`: not one stopped
    by its job's pause, nor one whose agent is lost."""
    if job.timing is None or task_stopped(job.status, task.status) or task_lost(task, now):
        return False
    return past(job.timing.stall_after, silent_for(task.quiet_since(), now))


def task_duration(task: Task, job: Job, now: float) -> float | None:
    """Seconds a task attempt of `job` has run, as its job's clock counts them
    (`model.run_time`): not while its job was paused (its `idle_time`: the pauses that
    ended; its job's `paused_at`: the one going on, when the attempt started before it).
    None before it started, or neither running nor ended (given back, to run again)."""
    if task.started is None or (task.finished is None and task.status is not TaskStatus.RUNNING):
        return None
    paused = job.paused_at if job.paused_at is not None and job.paused_at > task.started else None
    return run_time(task.started, task.finished, paused, task.idle_time, now)


def agent_lost(job: Job, now: float) -> bool:
    """A running job one of whose running tasks no live agent holds: its lease (renewed by
    its agent's heartbeat) ran out and no engine took it over yet. Recovery runs it again
    once an engine runs."""
    lease = job.lease_until
    return job.status is JobStatus.RUNNING and lease is not None and lease < now


def leases_moved(job: Job, tasks: Sequence[Task], now: float) -> bool:
    """Whether `tasks` of `job`, read before it, tell otherwise than `job` read now whether
    a lease of its running tasks has passed (its status aside): their agent died since, or
    came back. A screen holding them reads them again then, not at every renewal."""
    passed = job.lease_until is not None and job.lease_until < now
    return passed != any(task_lost(t, now) for t in tasks)


LEASE_MARGIN = 1.5
"""A screen holding a lease (`held_lease_end`) reads it again once it ends within this many
seconds: its tick's second, and half a second for the read."""


def held_lease_end(lease: float | None, now: float) -> float:
    """When a screen that read `lease` (a job's `lease_until`) at `now` must read it again,
    before it ends: its agent renews it every few seconds without changing the job's row,
    and a short lease (`JOBDASH_LEASE=2`) that ran out between two looks made a live task
    read `agent lost`. `math.inf` for no lease, or one that had passed (lost: nothing to
    renew; a look every few seconds tells when its agent comes back)."""
    return lease if lease is not None and lease >= now else math.inf


def renew_held(tasks: Sequence[Task], lease: float | None, now: float) -> None:
    """Move the leases of `tasks`, read earlier, up to `lease`, their job's read at `now`
    (the earliest end of its running tasks' leases): when it has not passed, each of them
    holds at least that long, though the tasks were not read again (a job of 100,000 tasks
    is not read again for its agents' renewals), so none reads `agent lost` meanwhile."""
    if lease is None or lease < now:
        return
    for task in tasks:
        if task.status is TaskStatus.RUNNING and task.lease_until is not None:
            task.lease_until = max(task.lease_until, lease)


def task_lost(task: Task, now: float) -> bool:
    """A running task whose lease ran out: no live agent holds it (see `agent_lost`)."""
    lease = task.lease_until
    return task.status is TaskStatus.RUNNING and lease is not None and lease < now


def past(limit: float | None, silent: float | None) -> bool:
    """Silent longer than the limit (the one rule of a stall, for flags and reports)."""
    return limit is not None and silent is not None and silent > limit


def flags(job: Job, now: float) -> tuple[str, ...]:
    """The flags a running job carries now: lost alone, or stalled, overrun (in that
    order)."""
    if job.status is not JobStatus.RUNNING:
        return ()
    if agent_lost(job, now):
        return (LOST,)
    if job.timing is None:
        return ()
    out = []
    if stalled(job, now):
        out.append(STALLED)
    if overrun(job, now):
        out.append(OVERRUN)
    return tuple(out)
