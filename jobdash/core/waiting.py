"""Why a job or a task that is not running waits: every reason's words, in one place, judged
from plain values read from the store.

Two uses, one set of rules:

- The cheap line a table shows. A running job whose ready tasks nobody claims would show
  "▶ running 0/5" and a blank info line. Each engine's housekeeping asks its store about once
  a second (`Store.note_waits`); the store reads the live agents and asks this module (and
  `catalogue.unrunnable` before it: no live engine runs the job's type as it was submitted),
  and writes the reason into the job's `waiting` line, only when it changes. A job held by a
  lock says so at admission (`lock_wait`), a paused job who paused it (`paused_line`), a job
  whose failed tasks wait out their backoff until when (`backoff_line`).
- The whole answer (`explain`), asked on demand (`jobdash why`, the job details): the store
  reads a job's `Situation` (its lock holders with their user, start and progress, the pause's
  audit event, its pending tasks' backoffs and suspects, the live agents) and this module
  says what stops it, and, where a task's reason differs from its job's, the task's.

A reason leads with what is wrong, because a table's info column shows its first words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobdash.core.deaths import SUSPECT_DRAIN
from jobdash.core.model import Job, JobStatus, format_duration
from jobdash.present.times import clock
from jobdash.present.words import plural, plural_word

if TYPE_CHECKING:
    from jobdash.core.views import Holder, TaskWait, Why

SHOWN_JOBS = 3  # jobs named in a reason; the rest are counted
SHOWN_TASKS = 10  # tasks named in a task's reason; the rest are counted
# The oldest jobs waiting for a slot (next in line) whose reason names the jobs holding the
# slots. Those names change with every task that ends, so a reason that names them is
# rewritten about once a second; the jobs behind say only that the slots are used, a reason
# that stays the same while they wait, so a backlog of thousands is written once per job
# instead of once a second.
NAMED_IN_LINE = 100
EXCLUSIVE = "exclusive"  # the lock key every exclusive job takes
START_ONE = "start one: jobdash serve"


class Kind:
    """What a reason is about: `jobdash why --json`'s `reason`, one word each."""

    RUNNING = "running"  # not waiting: tasks run
    LOST = "lost"  # a running task no live agent holds (its lease ran out)
    FINISHED = "finished"
    CANCELLING = "cancelling"
    PAUSED = "paused"
    LOCK = "lock"
    EXCLUSIVE = "exclusive"
    TYPE = "type"  # no live engine runs its type as submitted (`catalogue.unrunnable`)
    NO_AGENT = "no-agent"
    DRAINING = "draining"
    BUSY = "busy"  # every slot of the live agents is used
    PARALLEL = "parallel"  # its own job's `parallel` slots are used
    BACKOFF = "backoff"
    ALONE = "alone"  # lost with its agent: runs again alone, on an idle agent
    QUARANTINE = "quarantine"  # agents hold back for another job's task that must run alone
    QUEUED = "queued"  # next admission pass
    READY = "ready"  # nothing stops it: an agent claims it within its poll


@dataclass(frozen=True)
class LiveAgent:
    """What a reason needs of an agent whose heartbeat is recent and that is not offline."""

    slots: int
    draining: bool
    running: int  # tasks it runs now


def agents_full(agents: Sequence[LiveAgent]) -> bool:
    """Whether the claiming agents use all their slots: only then does `agents_wait` name
    the jobs that hold them (a store need read those only then)."""
    claiming = [a for a in agents if not a.draining]
    return bool(claiming) and sum(a.running for a in claiming) >= sum(a.slots for a in claiming)


def agents_reason(
    agents: Sequence[LiveAgent], busy_jobs: Sequence[int] = (), *, named: bool = True
) -> tuple[str, str]:
    """(kind, words) of why ready tasks are not claimed, from the live `agents`; ("", "")
    when nothing stops a claim (an agent takes them within its poll). `busy_jobs`: the jobs
    running on the claiming agents, named when every slot is used and `named` (see
    NAMED_IN_LINE)."""
    if not agents:
        return Kind.NO_AGENT, f"no live agent to run it ({START_ONE})"
    claiming = [a for a in agents if not a.draining]
    if not claiming:
        return Kind.DRAINING, f"agents draining: all {plural(len(agents), 'live agent')}"
    slots = sum(a.slots for a in claiming)
    used = sum(a.running for a in claiming)
    if used < slots:
        return "", ""
    text = f"agents busy: {used}/{slots} {plural_word(slots, 'slot')}"
    if named:
        names = ", ".join(str(j) for j in busy_jobs[:SHOWN_JOBS])
        if len(busy_jobs) > SHOWN_JOBS:
            names += f" and {len(busy_jobs) - SHOWN_JOBS} more"
        text += f" ({plural_word(len(busy_jobs), 'job')} {names})"
    return Kind.BUSY, text


def agents_wait(
    agents: Sequence[LiveAgent], busy_jobs: Sequence[int] = (), *, named: bool = True
) -> str:
    """`agents_reason`'s words alone: the line a store writes."""
    return agents_reason(agents, busy_jobs, named=named)[1]


# ----------------------------------------------------------------- the stored lines


def lock_wait(key: str, holder: int) -> str:
    """The info line of a job waiting because job `holder` holds its lock `key` (the key
    "exclusive": the slot every exclusive job takes). The holder's user, start and progress
    are `jobdash why`'s: this line is stored in the waiting job's row, which its user reads,
    and on a shared PostgreSQL store another user's job is not theirs to see."""
    what = "exclusive slot" if key == EXCLUSIVE else f"lock {key}"
    return f"waiting: {what} held by job {holder}"


def paused_line(user: str) -> str:
    """The line of a paused job (when: `jobdash why` reads the pause's audit event)."""
    return f"paused by {user}"


def backoff_line(until: float, now: float) -> str:
    """The line of a running job whose failed tasks wait out their retry backoff: the
    first runs again at `until` (a time with its zone: the line is written once)."""
    return f"retry backoff: next try at {clock(until, now)}"


def alone_line(seq: int) -> str:
    """The line of a job whose task `seq`, lost with its agent, waits to run alone."""
    return f"quarantine: task #{seq} lost with its agent runs again alone, on an idle agent"


def quarantine_line(job_id: int, seq: int) -> str:
    """The line of a job whose ready tasks wait while the agents hold back (they claim
    nothing new, to become idle) for job `job_id`'s task `seq`, which must run alone."""
    return (
        f"blocked by a quarantine: agents take no new task until job {job_id}'s "
        f"task #{seq} (lost with its agent) runs alone"
    )


def holding_back(ready_since: float, now: float) -> bool:
    """Whether busy agents still claim nothing for a suspect ready since then (see
    `deaths.suspect_way`: they hold back SUSPECT_DRAIN seconds at most)."""
    return now - ready_since < SUSPECT_DRAIN


# ----------------------------------------------------------------- the whole answer


@dataclass(frozen=True)
class Suspect:
    """A pending task lost with its agent (it runs again alone), ready since `since`."""

    job_id: int
    seq: int
    lost: int
    since: float


@dataclass
class Situation:
    """What the store read about a job to say why it waits (`Store.wait_situation`)."""

    job: Job
    holders: list[Holder] = field(default_factory=list)  # of the keys it waits for
    unrunnable: str | None = None  # `catalogue.unrunnable`'s words, if so
    agents: list[LiveAgent] = field(default_factory=list)
    busy_jobs: list[int] = field(default_factory=list)  # on the claiming agents, when full
    paused: tuple[str, float] | None = None  # who paused it, when (its audit event)
    ready: int = 0  # pending tasks ready now that are not suspects
    backoff: list[tuple[int, int, float]] = field(default_factory=list)  # (seq, attempt, until)
    backoff_count: int = 0
    suspects: list[Suspect] = field(default_factory=list)  # its own, ready
    running: list[int] = field(default_factory=list)  # its running tasks' seqs (the first)
    # Its running tasks no live agent holds (`timing.task_lost`): (seq, lease end), the first
    # SHOWN_TASKS; and how many.
    lost: list[tuple[int, float]] = field(default_factory=list)
    lost_count: int = 0
    first_suspect: Suspect | None = None  # the one the agents hold back for, store-wide


def holder_text(h: Holder, now: float) -> str:
    """Who holds a key and how far they are: "job 5 (alice; running since 13:02:11 CET,
    40%)"."""
    if h.status == JobStatus.RUNNING and h.started:
        state = f"running since {clock(h.started, now)}, {h.progress:.0f}%"
    elif h.status == JobStatus.RUNNING:
        state = "admitted, no task started yet"
    else:
        state = f"{h.status}, {h.progress:.0f}%"
    return f"job {h.job_id} ({h.user}; {state})"


def at(ts: float, now: float) -> str:
    """A moment to come: "13:05:12 CET (in 12s)"."""
    return f"{clock(ts, now)} (in {format_duration(max(0.0, ts - now))})"


def explain(s: Situation, now: float) -> Why:
    """Why the job of `s` waits: the one reason that stops it now, what is wrong first,
    and the reasons of its pending tasks where theirs differ."""
    from jobdash.core.views import Why  # not loaded by a read that makes none

    job = s.job
    kind, text, until = _job_reason(s, now)
    holder = s.holders[0] if s.holders and kind in (Kind.LOCK, Kind.EXCLUSIVE) else None
    waiting = kind not in (Kind.RUNNING, Kind.FINISHED, Kind.CANCELLING)
    tasks = _task_reasons(s, kind, now) if job.status is JobStatus.RUNNING else []
    return Why(job.id, job.status, waiting, kind, text, until, holder, s.paused, tasks)


def _job_reason(s: Situation, now: float) -> tuple[str, str, float | None]:
    job = s.job
    st = job.status
    if st.finished:
        ended = f"finished: {st} at {clock(job.finished, now)}"
        return Kind.FINISHED, f"{ended}: {job.info}" if job.info else ended, None
    if st is JobStatus.CANCELLING:
        return Kind.CANCELLING, "being cancelled: its running tasks are stopping", None
    if st is JobStatus.PAUSED:
        if s.paused is None:
            return Kind.PAUSED, "paused (nothing of it runs until it is resumed)", None
        user, when = s.paused
        return Kind.PAUSED, f"{paused_line(user)} at {clock(when, now)}", None
    if st in (JobStatus.QUEUED, JobStatus.WAITING):
        if s.holders:
            h = s.holders[0]
            what = "exclusive slot" if h.key == EXCLUSIVE else f"lock {h.key}"
            kind = Kind.EXCLUSIVE if h.key == EXCLUSIVE else Kind.LOCK
            return kind, f"{what} held by {holder_text(h, now)}", None
        if st is JobStatus.WAITING and job.info.startswith("waiting: "):
            # What admission saw, holders this user may not read included (their rows
            # are another user's on a shared PostgreSQL store).
            said = job.info.removeprefix("waiting: ")
            kind = Kind.EXCLUSIVE if said.startswith("exclusive slot ") else Kind.LOCK
            return kind if " held by job " in said else Kind.TYPE, said, None
        if s.unrunnable:
            return Kind.TYPE, s.unrunnable.removeprefix("waiting: "), None
        if not s.agents:
            return agents_reason([])[0], agents_reason([])[1], None
        return Kind.QUEUED, "queued: a live engine admits it within a second", None
    if s.lost:
        return Kind.LOST, lost_text(s, now), None
    if job.running:
        return Kind.RUNNING, f"running: {plural(job.running, 'task')}", None
    if s.unrunnable:
        return Kind.TYPE, s.unrunnable.removeprefix("waiting: "), None
    if s.suspects:
        first = s.suspects[0]
        busy = agents_reason(s.agents, s.busy_jobs)[1]
        text = alone_line(first.seq) + (f" ({busy})" if busy else "")
        return Kind.ALONE, text, None
    if not s.ready and s.backoff:
        seq, attempt, until = s.backoff[0]
        text = (
            f"retry backoff: task #{seq} (attempt {attempt} failed) runs again at {at(until, now)}"
        )
        return Kind.BACKOFF, text, until
    kind, text = agents_reason(s.agents, s.busy_jobs)
    if kind:
        return kind, text, None
    q = s.first_suspect
    if q is not None and q.job_id != job.id and holding_back(q.since, now):
        text = f"{quarantine_line(q.job_id, q.seq)} (until {at(q.since + SUSPECT_DRAIN, now)})"
        return Kind.QUARANTINE, text, q.since + SUSPECT_DRAIN
    if not s.ready:
        return Kind.RUNNING, "running: nothing left to start", None
    return Kind.READY, "ready: an agent claims it within its poll", None


def lost_text(s: Situation, now: float) -> str:
    """Why a running job's task runs nowhere: "agent lost: task #2 held by no live agent
    (lease ran out at 13:02:11 CET); recovered when an engine starts (start one: jobdash
    serve), run again if retries remain". A running engine recovers it within seconds, so
    one that stays lost is one no engine runs for (a dead engine's agent may still count as
    live until its heartbeat is old: the agents are not asked)."""
    seqs = [seq for seq, _ in s.lost]
    names = ", ".join(f"#{n}" for n in seqs)
    if s.lost_count > len(seqs):
        names += f" and {s.lost_count - len(seqs)} more"
    ended = min(lease for _, lease in s.lost)
    return (
        f"agent lost: {plural_word(s.lost_count, 'task')} {names} held by no live agent "
        f"(lease ran out at {clock(ended, now)}); recovered when an engine starts "
        f"({START_ONE}), run again if retries remain"
    )


def _task_reasons(s: Situation, job_kind: str, now: float) -> list[TaskWait]:
    """The reasons of a running job's pending tasks that differ from the job's."""
    from jobdash.core.views import TaskWait  # not loaded by a read that makes none

    out: list[TaskWait] = []
    if s.backoff and (job_kind != Kind.BACKOFF or s.backoff_count > 1):
        seq, attempt, until = s.backoff[0]
        text = f"retry backoff: the first, #{seq} (attempt {attempt} failed), runs again at "
        text += at(until, now)
        out.append(TaskWait(Kind.BACKOFF, text, [b[0] for b in s.backoff], s.backoff_count, until))
    if s.suspects and (job_kind != Kind.ALONE or len(s.suspects) > 1):
        seqs = [x.seq for x in s.suspects]
        text = "quarantine: lost with its agent; each runs again alone, on an idle agent"
        out.append(TaskWait(Kind.ALONE, text, seqs[:SHOWN_TASKS], len(seqs)))
    job = s.job
    if s.ready and job.running >= job.parallel:
        shown = s.running[:SHOWN_TASKS]
        names = ", ".join(f"#{n}" for n in shown)
        if job.running > len(shown):
            names += f" and {job.running - len(shown)} more"
        its = plural_word(job.running, "task")
        text = f"parallel {job.running}/{job.parallel} used by its {its} {names}"
        out.append(TaskWait(Kind.PARALLEL, text, [], s.ready))
    elif s.ready and job.running:
        kind, text = agents_reason(s.agents, s.busy_jobs)
        q = s.first_suspect
        if not kind and q is not None and q.job_id != job.id and holding_back(q.since, now):
            kind, text = Kind.QUARANTINE, quarantine_line(q.job_id, q.seq)
        if kind:
            out.append(TaskWait(kind, text, [], s.ready))
    return out
