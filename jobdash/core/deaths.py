"""Tasks lost with their agent: which task a death is charged to, and when one is quarantined.

Why: a task that kills its agent (a segfaulting library, `kill -9 $PPID`, an OOM) must be
quarantined, but the tasks that merely ran beside it must not. A death is charged only where
it is attributable: to a task that ran alone on that agent, or to the one task of the dead
agent that was already lost with an agent before (common to two deaths). Every task lost
with an agent becomes a *suspect* (`lost > 0`): it runs again alone (`suspect_way`), so that
a second death tells who did it. A task charged QUARANTINE_AFTER deaths is failed as
quarantined, even with retries left; a task charged with none is never quarantined.

The rest of the rules of jobs and tasks are in lifecycle.py; these are the recovery step's
(its rule 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from jobdash.core.lifecycle import attempts_left
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.present.words import plural

J = JobStatus
T = TaskStatus

QUARANTINE_AFTER = 2  # deaths charged to a task before it is quarantined
SHOW_SUSPECTS = 4  # named in a log line at most
# While a suspect task waits to run alone, busy agents claim nothing new, so that one becomes
# idle and takes it, for this long at most; after that it waits for an agent to be idle.
SUSPECT_DRAIN = 30.0


@dataclass(frozen=True)
class LostTask:
    """A running task of an agent found dead or hung (its lease ran out)."""

    task_id: int
    job_id: int
    seq: int
    name: str
    attempt: int
    base_attempt: int
    retries: int
    job_status: str
    lost: int  # attempts lost with their agent before this one
    charged: int  # deaths charged to it before this one
    agent: str

    @property
    def label(self) -> str:
        return f"job {self.job_id} #{self.seq} {self.name}"


@dataclass(frozen=True)
class Verdict:
    """What becomes of a lost task: its new status, error, counters and system log line."""

    status: TaskStatus  # pending (runs again), failed, cancelled
    error: str
    lost: int
    charged: int
    text: str


def judge(death: Sequence[LostTask], quarantine_after: int = QUARANTINE_AFTER) -> list[Verdict]:
    """The verdicts for the tasks one dead agent (one owner) was running, in order."""
    n = len(death)
    if n == 1:
        culprits = list(death)
        why = "where it ran alone"
    else:
        before = [t for t in death if t.lost > 0]
        culprits = before if len(before) == 1 else []
        why = f"which was running {n} tasks"
    out = []
    for t in death:
        charged = t.charged + (t in culprits)
        text = f"{t.name}: attempt {t.attempt} lost with agent {t.agent}, {why}"
        if t in culprits:
            if n > 1:
                text += "; of those, only it was lost with an agent before"
            text += f": charged with that death ({charged} so far)"
        elif culprits:
            text += f"; suspected: {culprits[0].label} (lost with an agent before)"
        else:
            names = [s.label for s in death[:SHOW_SUSPECTS]]
            if n > SHOW_SUSPECTS:
                names.append(f"{n - SHOW_SUSPECTS} more")
            text += f": not attributable (suspects: {', '.join(names)})"
        quarantined = charged >= quarantine_after
        if t.job_status == J.CANCELLING:
            status, error = T.CANCELLED, "agent lost"
            text += "; the job is being cancelled"
        elif quarantined:
            status, error = T.FAILED, f"quarantined: killed its agent {plural(charged, 'time')}"
            text += f"; {error}, not run again"
        elif attempts_left(t.attempt, t.base_attempt, t.retries):
            status, error = T.PENDING, "agent lost"
            text += "; running it again, alone"
        else:
            status, error = T.FAILED, "agent lost"
            text += "; no retries left"
        out.append(Verdict(status, error, t.lost + 1, charged, text))
    return out


SuspectWay = Literal["alone", "drain", "ordinary"]


def suspect_way(ready_since: float | None, idle: bool, now: float) -> SuspectWay:
    """How a claimant claims, given the first suspect task ready since `ready_since` (None:
    none is): "alone" (takes that suspect and nothing else: it is idle), "drain" (claims
    nothing, so as to become idle: the suspect waits for one), or "ordinary"."""
    if ready_since is None:
        return "ordinary"
    if idle:
        return "alone"
    return "drain" if now - ready_since < SUSPECT_DRAIN else "ordinary"
