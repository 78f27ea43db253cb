"""An agent's timings and options: how often it heart-beats, sweeps and polls, how long a
claim lasts, when a silent agent counts as stale or offline.

Why together: these numbers make the recovery bound (below) and only hold as a set; the
environment variables that tune them are read here, once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobdash.core.reports import Reporter


def env_seconds(name: str, default: float) -> float:
    """A duration from the environment (tests and tuning), else the default (also instead
    of infinity: a lease that never runs out would never recover a dead agent's tasks)."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if 0 < value < math.inf else default


# Recovery bound. An agent renews its claims every HEARTBEAT; a claim not renewed for LEASE
# runs out. Every live agent sweeps for run-out claims every RECOVER_EVERY and re-queues
# them; a free agent claims them within POLL. So a dead (or hung) agent's tasks run again
# at most LEASE + RECOVER_EVERY + POLL (+ one store transaction) after its last heartbeat:
# 15 + 2 + 0.1 ≈ 17 s by default, under the 30 s target. On the same host it is faster: a
# sweep also looks whether each agent's process still exists, and ends the leases of a
# killed one at once (so a restarted `jobdash serve` re-runs them within RECOVER_EVERY).
# JOBDASH_LEASE and JOBDASH_HEARTBEAT (or `serve --lease`) change the first two.
LEASE = env_seconds("JOBDASH_LEASE", 15.0)  # seconds a claim lasts without renewal
HEARTBEAT = env_seconds("JOBDASH_HEARTBEAT", min(3.0, LEASE / 5))  # between renewals
RECOVER_EVERY = 2.0  # seconds between sweeps for tasks of dead agents
WAITS_EVERY = 1.0  # seconds between looks at why running jobs run nothing
# A job created this recently shows no reason yet (`Store.note_waits`' grace): most are
# claimed within a poll, and a bulk submission run within it writes none.
WAIT_GRACE = 3.0
PRUNE_EVERY = 600.0  # seconds between retention sweeps (the first one at start)
# Seconds between looks at the store when nothing woke us (JOBDASH_POLL: tests slow it to
# show that hints wake an agent; a PostgreSQL store's NOTIFY, see store.watch_work).
POLL = env_seconds("JOBDASH_POLL", 0.1)
REPORT_EVERY = 1.0  # seconds between looks for execution reports to send
STALE_AFTER = 3 * HEARTBEAT + 1  # an agent silent this long is shown stale
OFFLINE_AFTER = LEASE * 4
HURRY_WAIT = 2.0  # after a second signal, seconds stopped tasks get to end before we exit


@dataclass
class AgentOptions:
    """How an agent runs: its name, slots, lease and heartbeat, and its housekeeping."""

    name: str | None = None
    slots: int = 4
    lease: float = LEASE
    heartbeat: float = HEARTBEAT
    housekeeping: bool = True
    # End the leases of dead agents of this host at once (JOBDASH_PID_CHECK=0: leases only).
    pid_check: bool = os.environ.get("JOBDASH_PID_CHECK", "1") != "0"
    reporter: Reporter | None = None  # sends execution reports (housekeeping)
    retention: float | None = None  # seconds finished jobs are kept (config `retention`)
    agent_retention: float = 86400.0  # seconds an agent that went silent stays listed
    artifact_inline_max: int = 1024 * 1024  # bytes of an artifact kept in the store itself
