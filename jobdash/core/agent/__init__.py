"""The agent: claims tasks from the store, runs them, heart-beats, obeys cancel and pause.

Where things are: `agent` holds the `Agent` (its claim, supervise, heartbeat and watch
loops), `housekeeping` the store's housekeeping every agent also does (admitting queued
jobs, recovering dead agents' tasks, reports, retention), `liveness` how an agent is told
alive, stale or dead, and `options` its timings (lease, heartbeat, sweeps) and options.
"""

from typing import TYPE_CHECKING

from jobdash.core.agent.liveness import (
    agent_state,
    agents_as_shown,
    is_live,
    leftover_groups,
    pid_alive,
)
from jobdash.core.agent.options import (
    HEARTBEAT,
    LEASE,
    OFFLINE_AFTER,
    POLL,
    STALE_AFTER,
    AgentOptions,
    env_seconds,
)

if TYPE_CHECKING:
    from jobdash.core.agent.agent import Agent


def __getattr__(name: str) -> object:
    """`Agent` is loaded when first asked for: reading agents' states or options (the
    command line's `jobdash agents`) does not load the machinery that runs tasks."""
    if name == "Agent":
        from jobdash.core.agent.agent import Agent

        return Agent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HEARTBEAT",
    "LEASE",
    "OFFLINE_AFTER",
    "POLL",
    "STALE_AFTER",
    "Agent",
    "AgentOptions",
    "agent_state",
    "agents_as_shown",
    "env_seconds",
    "is_live",
    "leftover_groups",
    "pid_alive",
]
