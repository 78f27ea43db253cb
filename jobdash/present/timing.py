"""How history-aware timing looks (`core.timing` tells it), the same in the CLI and the
dashboard:

- A running job's status cell carries its flag (`job_look`): "▶ stalled", "▶ overrun" in the
  warning tone, where a job without one shows "▶ running"; a stalled job that also overran
  shows "stalled" there (the one to act on), and both in words in the details and `jobdash
  show` (`timing_words`). A running task silent too long: "▶ stalled" (`task_look`).
- A running job or task that no live agent holds (its engine died: `core.timing.agent_lost`)
  shows "▶ agent lost" instead, never stalled or overrun, and its details say that an engine
  that starts recovers it (crash recovery: run again if retries remain). A running task of a paused job shows "⏸ paused", as its job.
- The In Progress tab's title counts the stalled jobs (`stalled_note`): "In Progress (12 ·
  2 stalled)", drawn again each second (a job turns stalled with the clock).
- The details' and `jobdash show`'s line (`timing_words`): the estimate and where it comes
  from ("ETA ~3m from its pace", "ETA ≈3m from history: median 4m10s of 12 runs",
  "no history of this type yet"), the overrun against the p90, the stall.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobdash.core.lifecycle import task_stopped
from jobdash.core.model import Job, JobStatus, Task
from jobdash.core.timing import (
    LOST,
    OVERRUN,
    STALLED,
    estimate,
    flags,
    silent_for,
    stalled,
    task_lost,
    task_stalled,
)
from jobdash.present.durations import duration, eta, history_eta
from jobdash.present.status import Look, Tone, look
from jobdash.present.words import plural

__all__ = [
    "eta_text",
    "info_beside_status",
    "job_look",
    "stalled_note",
    "task_look",
    "timing_fields",
    "timing_words",
]


def _flagged(word: str) -> Look:
    return Look(look(JobStatus.RUNNING).glyph, word, Tone.WARN)


_FLAG_LOOKS = {
    STALLED: _flagged("stalled"),
    OVERRUN: _flagged("overrun"),
    LOST: _flagged("agent lost"),
}
# What a lost agent means for the job, in the details and `jobdash show`.
LOST_WORDS = (
    "AGENT LOST: no live agent runs its tasks — recovered when an engine starts "
    "(run again if retries remain)"
)


def job_look(job: Job, now: float) -> Look:
    """A job's status as its row shows it: its flag's, if it carries one now."""
    if job.status is JobStatus.RUNNING and job.timing is not None:
        carried = flags(job, now)
        if carried:
            return _FLAG_LOOKS[carried[0]]
    return look(job.status)


def info_beside_status(job: Job) -> str:
    """A job's info as its row shows it, beside its status: a waiting job's reason without
    the "waiting: " its status already says (at 80 columns the reason kept three cells:
    `waiting: ex…`). `show`, the details and `--json` keep the whole text."""
    if job.status is JobStatus.WAITING:
        return job.info.removeprefix("waiting: ")
    return job.info


def task_look(task: Task, job: Job, now: float) -> Look:
    """A task of `job` as its row shows it: "▶ agent lost" when no live agent holds it,
    "⏸ paused" while its job is paused, "▶ stalled" when it is silent too long."""
    if task_lost(task, now):
        return _FLAG_LOOKS[LOST]
    if task_stopped(job.status, task.status):
        return look(JobStatus.PAUSED)
    if task_stalled(task, job, now):
        return _FLAG_LOOKS[STALLED]
    return look(task.status)


def stalled_note(jobs: Iterable[Job], now: float) -> str:
    """How many of `jobs` are stalled now, for a header: "2 stalled" ("" when none)."""
    n = sum(1 for j in jobs if j.status is JobStatus.RUNNING and stalled(j, now))
    return f"{n} stalled" if n else ""


def timing_fields(job: Job, now: float) -> dict[str, object]:
    """A job's timing as `--json` gives it: the ETA in seconds and where it comes from
    ("rate", "history", "none"; null when it does not run), its flags now."""
    guess = estimate(job, now)
    return {
        "eta": guess.seconds,
        "eta_source": guess.source or None,
        "flags": list(flags(job, now)),
    }


def eta_text(job: Job, now: float) -> str:
    """A running job's ETA as a header shows it: "~3m", "≈3m" (from history), "" unknown."""
    guess = estimate(job, now)
    if guess.seconds is None:
        return ""
    return history_eta(guess.seconds) if guess.source == "history" else eta(guess.seconds)


def timing_words(job: Job, now: float) -> str:
    """A running job's timing in words, for the details and `jobdash show`: its flags
    first (what to act on), then its estimate and where it comes from ("" when it does not
    run)."""
    if job.status is not JobStatus.RUNNING:
        return ""
    timing = job.timing
    parts = []
    carried = flags(job, now)
    if LOST in carried:
        parts.append(LOST_WORDS)
    if STALLED in carried and timing is not None and timing.stall_after is not None:
        silent = duration(silent_for(job.quiet_since, now))
        how = "" if timing.stall_configured else ", from history"
        parts.append(
            f"STALLED: a task silent for {silent} (stall_after {duration(timing.stall_after)}{how})"
        )
    if OVERRUN in carried and timing is not None and timing.job_p90 is not None:
        parts.append(f"OVERRUN: longer than 90% of its type's runs ({duration(timing.job_p90)})")
    guess = estimate(job, now)
    if guess.source == "rate" and guess.seconds is not None:
        parts.append(f"ETA {eta(guess.seconds)} from its pace")
    elif guess.source == "history" and timing is not None:
        median = f"median {duration(timing.job_median)} of {plural(timing.runs, 'run')}"
        if guess.seconds is not None:
            parts.append(f"ETA {history_eta(guess.seconds)} from history ({median})")
        else:
            parts.append(f"past its history's estimate ({median})")
    elif guess.source == "none":
        parts.append("no history of this type yet")
    return " · ".join(parts)
