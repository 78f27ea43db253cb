"""Why a job waits, judged from plain values (no store): the rule every backend writes into
the job's waiting line, and which reason `explain` gives first when several hold."""

from __future__ import annotations

import pytest

from jobdash.core.deaths import SUSPECT_DRAIN
from jobdash.core.model import Job, JobStatus, Trigger
from jobdash.core.views import Holder
from jobdash.core.waiting import (
    Kind,
    LiveAgent,
    Situation,
    Suspect,
    agents_full,
    agents_wait,
    explain,
)

IDLE = LiveAgent(slots=4, draining=False, running=1)
FULL = LiveAgent(slots=2, draining=False, running=2)
DRAINING = LiveAgent(slots=4, draining=True, running=0)


@pytest.mark.parametrize(
    ("agents", "busy", "reason"),
    [
        ([], [], "no live agent to run it (start one: jobdash serve)"),
        ([DRAINING], [], "agents draining: all 1 live agent"),
        ([DRAINING, DRAINING], [], "agents draining: all 2 live agents"),
        ([IDLE], [], ""),
        ([FULL, IDLE], [], ""),  # a free slot: an agent claims within its poll
        ([FULL], [7], "agents busy: 2/2 slots (job 7)"),
        ([LiveAgent(1, False, 1)], [3], "agents busy: 1/1 slot (job 3)"),
        # A draining agent's slots are not offered, so they count neither way.
        ([FULL, DRAINING], [5, 9], "agents busy: 2/2 slots (jobs 5, 9)"),
        ([FULL, FULL], [1, 2, 3, 4, 5], "agents busy: 4/4 slots (jobs 1, 2, 3 and 2 more)"),
    ],
)
def test_the_reason_leads_with_what_is_wrong(
    agents: list[LiveAgent], busy: list[int], reason: str
) -> None:
    assert agents_wait(agents, busy) == reason


@pytest.mark.parametrize(
    ("agents", "full"),
    [([], False), ([DRAINING], False), ([IDLE], False), ([FULL], True), ([FULL, DRAINING], True)],
)
def test_the_busy_jobs_are_needed_only_when_every_offered_slot_is_used(
    agents: list[LiveAgent], full: bool
) -> None:
    assert agents_full(agents) is full


# --------------------------------------------------------------------------- explain

NOW = 1_800_000_000.0


def job(status: JobStatus = JobStatus.RUNNING, **counts: int) -> Job:
    return Job(7, "x", {}, "alice", Trigger.MANUAL, status, NOW - 60, NOW, parallel=2, **counts)


def test_a_ready_task_waits_for_busy_agents_before_a_backoff_is_named() -> None:
    """Ready tasks wait for slots: that is what stops the job now, not the backoff of the
    others, which its tasks' lines name (each reason once)."""
    s = Situation(job(pending=2), agents=[FULL], busy_jobs=[3], ready=1)
    s.backoff, s.backoff_count = [(2, 1, NOW + 30)], 1
    w = explain(s, NOW)
    assert (w.kind, w.text) == (Kind.BUSY, "agents busy: 2/2 slots (job 3)")
    (t,) = w.tasks
    assert (t.kind, t.seqs, t.until) == (Kind.BACKOFF, [2], NOW + 30)
    # With nothing ready, the backoff is the job's reason, said once.
    s.ready = 0
    w = explain(s, NOW)
    assert (w.kind, w.until, w.tasks) == (Kind.BACKOFF, NOW + 30, [])


def test_agents_hold_back_for_a_suspect_only_for_a_while() -> None:
    suspect = Suspect(job_id=5, seq=2, lost=1, since=NOW - 1)
    s = Situation(job(pending=1), agents=[IDLE], ready=1, first_suspect=suspect)
    assert explain(s, NOW).kind == Kind.QUARANTINE
    # Past SUSPECT_DRAIN busy agents claim as usual again: nothing stops it.
    s.first_suspect = Suspect(5, 2, 1, NOW - SUSPECT_DRAIN - 1)
    assert explain(s, NOW).kind == Kind.READY


def test_a_queued_job_names_its_lock_first_then_the_missing_engine() -> None:
    holder = Holder("exclusive", 3, "bob", "paused", None, 40.0)
    s = Situation(job(JobStatus.QUEUED, pending=1), holders=[holder])
    w = explain(s, NOW)
    assert (w.kind, w.holder) == (Kind.EXCLUSIVE, holder)
    assert w.text == "exclusive slot held by job 3 (bob; paused, 40%)"
    s.holders = []
    assert explain(s, NOW).kind == Kind.NO_AGENT
    s.agents = [IDLE]
    assert explain(s, NOW).kind == Kind.QUEUED


def test_a_paused_job_without_its_audit_event_still_says_paused() -> None:
    w = explain(Situation(job(JobStatus.PAUSED, pending=1)), NOW)
    assert (w.kind, w.waiting) == (Kind.PAUSED, True)
    assert w.text == "paused (nothing of it runs until it is resumed)"
