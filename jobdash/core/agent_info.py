"""The agents as the store knows them (`AgentInfo`) and what the ones pruned from the list
had done (`PrunedAgents`): plain data, as in `core.views`, read by every command that opens
a store (the catalogue of job types is ordered by which agents are live). Apart from
`views` so that such a command loads none of the other views' dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AgentInfo:
    """An agent as the store knows it: where it runs, its slots and its heartbeat."""

    name: str
    host: str
    pid: int
    version: str
    slots: int
    running: int
    state: str  # idle, busy, draining, stale, offline
    started: float
    heartbeat: float
    done: int = 0
    failed: int = 0


@dataclass
class PrunedAgents:
    """What the agents pruned from the list (`agent_retention`) had done, as one aggregate,
    so totals do not drop when an old agent goes."""

    agents: int = 0
    done: int = 0
    failed: int = 0
