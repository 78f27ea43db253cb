"""Which task an agent's death is charged to, and what becomes of the tasks it was running.

Why: a task that kills its agent (a segfaulting library, `kill -9 $PPID`, an OOM) must be
quarantined, but the tasks that merely ran beside it must not. A death is charged only where
it is attributable: to a task that ran alone on that agent, or to the one task of the dead
agent that was already lost with an agent before (common to two deaths). Every task lost
with an agent becomes a *suspect* (`lost > 0`): it runs again alone (see `_claim_in`), so
that a second death tells who did it. A task charged QUARANTINE_AFTER deaths is failed as
quarantined, even with retries left; a task charged with none is never quarantined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobdash.present.words import plural

QUARANTINE_AFTER = 2  # deaths charged to a task before it is quarantined
SHOW_SUSPECTS = 4  # named in a log line at most


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

    status: str  # pending (runs again), failed, cancelled
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
        if t.job_status == "cancelling":
            status, error = "cancelled", "agent lost"
            text += "; the job is being cancelled"
        elif quarantined:
            status, error = "failed", f"quarantined: killed its agent {plural(charged, 'time')}"
            text += f"; {error}, not run again"
        elif t.attempt - t.base_attempt <= t.retries:
            status, error = "pending", "agent lost"
            text += "; running it again, alone"
        else:
            status, error = "failed", "agent lost"
            text += "; no retries left"
        out.append(Verdict(status, error, t.lost + 1, charged, text))
    return out
