"""The reason a running job with ready tasks runs nothing, judged from plain values (no store):
the rule every backend writes into the job's waiting line."""

from __future__ import annotations

import pytest

from jobdash.core.waiting import LiveAgent, agents_full, agents_wait

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
