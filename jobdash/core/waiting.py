"""Why a running job runs nothing while it has tasks ready: the reason, judged from plain
values, that every store writes into the job's `waiting` line.

A running job whose ready tasks nobody claims would show "▶ running 0/5" and a blank info
line. Each engine's housekeeping asks its store about once a second (`Store.note_waits`); the
store reads the live agents and asks this module, and `catalogue.unrunnable` before it (no
live engine runs the job's type as it was submitted). A job held by a lock says so at
admission instead (`lifecycle.lock_wait`). The reason leads with what is wrong, because a
table's info column shows its first words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobdash.present.words import plural, plural_word

SHOWN_JOBS = 3  # jobs named in a reason; the rest are counted
# The oldest jobs waiting for a slot (next in line) whose reason names the jobs holding the
# slots. Those names change with every task that ends, so a reason that names them is
# rewritten about once a second; the jobs behind say only that the slots are used, a reason
# that stays the same while they wait, so a backlog of thousands is written once per job
# instead of once a second.
NAMED_IN_LINE = 100


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


def agents_wait(
    agents: Sequence[LiveAgent], busy_jobs: Sequence[int] = (), *, named: bool = True
) -> str:
    """Why the ready tasks are not claimed, from the live `agents`; "" when nothing stops a
    claim (an agent takes them within its poll). `busy_jobs`: the jobs running on the
    claiming agents, named when every slot is used and `named` (see NAMED_IN_LINE)."""
    if not agents:
        return "no live agent to run it (start one: jobdash serve)"
    claiming = [a for a in agents if not a.draining]
    if not claiming:
        return f"agents draining: all {plural(len(agents), 'live agent')}"
    slots = sum(a.slots for a in claiming)
    used = sum(a.running for a in claiming)
    if used < slots:
        return ""
    if not named:
        return f"agents busy: {used}/{slots} {plural_word(slots, 'slot')}"
    names = ", ".join(str(j) for j in busy_jobs[:SHOWN_JOBS])
    if len(busy_jobs) > SHOWN_JOBS:
        names += f" and {len(busy_jobs) - SHOWN_JOBS} more"
    return (
        f"agents busy: {used}/{slots} {plural_word(slots, 'slot')} "
        f"({plural_word(len(busy_jobs), 'job')} {names})"
    )
