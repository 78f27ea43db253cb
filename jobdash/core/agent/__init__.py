"""The agent: claims tasks from the store, runs them, heart-beats, obeys cancel and pause.

Where things are: `agent` holds the `Agent` (its claim, supervise, heartbeat and watch
loops), `housekeeping` the store's housekeeping every agent also does (admitting queued
jobs, recovering dead agents' tasks, reports, retention), `liveness` how an agent is told
alive, stale or dead, and `options` its timings (lease, heartbeat, sweeps) and options.
"""

from jobdash.core.agent.agent import Agent
from jobdash.core.agent.liveness import agent_state, is_live, leftover_groups, pid_alive
from jobdash.core.agent.options import (
    HEARTBEAT,
    LEASE,
    OFFLINE_AFTER,
    POLL,
    STALE_AFTER,
    AgentOptions,
    env_seconds,
)

__all__ = [
    "HEARTBEAT",
    "LEASE",
    "OFFLINE_AFTER",
    "POLL",
    "STALE_AFTER",
    "Agent",
    "AgentOptions",
    "agent_state",
    "env_seconds",
    "is_live",
    "leftover_groups",
    "pid_alive",
]
