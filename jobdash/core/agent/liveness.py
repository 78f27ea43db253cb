"""Is an agent alive: the state to show from its last heartbeat, whether its process still
exists on this host, and what a dead agent's commands left running.

Why apart from the agent: the service asks the same questions (which engines are live, how
to show an agent) without running one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobdash.core.agent.options import OFFLINE_AFTER, STALE_AFTER
from jobdash.core.processes import pid_alive

if TYPE_CHECKING:
    from jobdash.core.agent_info import AgentInfo


def leftover_groups(owners: list[str]) -> set[int]:
    """Process groups of command attempts started by these (dead) agents, found by the
    JOBDASH_AGENT_OWNER variable each attempt gets (also when it was killed before the store
    recorded its group)."""
    wanted = {o.encode() for o in owners}
    groups: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                env = Path(entry.path, "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for kv in env:
                if kv.startswith(b"JOBDASH_AGENT_OWNER=") and kv[20:] in wanted:
                    with contextlib.suppress(OSError):
                        groups.add(os.getpgid(int(entry.name)))
                    break
    return groups


def agent_state(state: str, heartbeat: float, now: float | None = None) -> str:
    """The state to show: what the agent said, or stale/offline when it went silent."""
    if state == "offline":
        return state
    age = (now or time.time()) - heartbeat
    if age > OFFLINE_AFTER:
        return "offline"
    if age > STALE_AFTER:
        return "stale"
    return state


def agents_as_shown(
    agents: Sequence[tuple[AgentInfo, bool]], now: float
) -> list[tuple[AgentInfo, bool]]:
    """The store's agents (each with its drain flag) as they are shown: each in the state
    to show (`agent_state`), the live ones first, then the stale and offline, each part in
    the store's order (by name). Dead agents stay listed for their retention, and by name
    alone the one running came after a pile of them."""
    for info, _ in agents:
        info.state = agent_state(info.state, info.heartbeat, now)
    return sorted(agents, key=lambda agent: agent[0].state in ("stale", "offline"))


def is_live(info: AgentInfo, now: float, host: str) -> bool:
    """The agent uses the store now: a recent heartbeat, and on this host (`host`) a live
    process (a dashboard killed a second ago must not be mistaken for a running engine)."""
    return (
        info.state != "offline"
        and now - info.heartbeat < STALE_AFTER
        and (info.host != host or pid_alive(info.pid))
    )
