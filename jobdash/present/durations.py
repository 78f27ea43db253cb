"""How jobdash shows a length of time and an estimate: one spelling for every screen.

- A duration: "45s", "3m12s", "2h05m", "3d4h" (`duration`).
- An ETA: "~45s" (5 s steps) under a minute, "~12m", "~2h05m" (`eta`): the "~" says it is
  an estimate, and it is coarse on purpose. An estimate has no second-level precision, and
  a text that changes once a minute instead of once a second keeps a table of running jobs
  from repainting every row every second (each row costs ~300 bytes over SSH).
- An ETA from the type's history rather than the job's own pace (`core.timing.estimate`):
  "≈12m" (`history_eta`), so a reader tells a guess from other runs from a measure of this
  one; the details and `jobdash show` say it in words (`present/timing.py`).
- A job's time (`job_time`): while it runs, its ETA (its own pace, else its type's history),
  else how long it has run so far ("1m12s": a command job before its first task ended, a
  type without history, a job past its history's estimate); its run time once it ended;
  nothing in between (queued, paused: neither number means much), in the CLI's listing and
  the dashboard's job tables alike.
"""

from __future__ import annotations

import math

from jobdash.core.model import Job, JobStatus, Task
from jobdash.core.model import format_duration as duration
from jobdash.core.timing import estimate, task_duration

__all__ = ["duration", "eta", "history_eta", "job_seconds", "job_time", "task_time"]


def eta(seconds: float | None) -> str:
    """A coarse estimate of the time left: "~45s", "~12m", "~2h05m"; "" when unknown."""
    if seconds is None:
        return ""
    s = max(0, math.ceil(seconds))
    if s < 60:
        return f"~{max(5, -(-s // 5) * 5)}s"
    m = -(-s // 60)
    if m < 60:
        return f"~{m}m"
    h, m = divmod(m, 60)
    return f"~{h}h{m:02d}m"


def history_eta(seconds: float | None) -> str:
    """`eta`, from the type's history: "≈12m"."""
    text = eta(seconds)
    return "≈" + text[1:] if text else ""


def job_seconds(job: Job, now: float) -> float | None:
    """The number a job's time shows (and sorts on): while running, its ETA or else the
    time it has run; its run time once finished; None otherwise."""
    if job.status is JobStatus.RUNNING:
        left = estimate(job, now).seconds
        return left if left is not None else job.duration(now)
    if job.status.finished:
        return job.duration(now)
    return None


def job_time(job: Job, now: float) -> str:
    """A job's time: "~3m" left while it runs ("≈3m" by its type's history), else how long
    it has run ("1m12s"); "3m12s" it took once it ended; else ""."""
    if job.status is JobStatus.RUNNING:
        guess = estimate(job, now)
        if guess.seconds is None:
            return duration(job.duration(now))
        return history_eta(guess.seconds) if guess.source == "history" else eta(guess.seconds)
    return duration(job_seconds(job, now))


def task_time(task: Task, job: Job, now: float) -> str:
    """How long a task attempt of `job` ran, or has been running, as its job's clock counts
    (`task_duration`: standing still while the job is paused); "" before it started."""
    return duration(task_duration(task, job, now))
