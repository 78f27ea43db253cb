"""`jobdash agents`, the Agents tab and an attached dashboard's header list the live
agents first, then the stale and offline ones, each part by name: agents that died or
stopped stay listed for their retention, and by name alone the one running came after a
pile of them (found by a walk-through: the live agent seventh, under six dead ones)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable

from jobdash.core.agent.options import OFFLINE_AFTER, STALE_AFTER
from jobdash.core.agent_info import AgentInfo
from jobdash.core.service import Service


async def test_the_live_agents_come_first_then_the_others_each_by_name(
    services: Callable[..., Awaitable[Service]], store_location: str
) -> None:
    svc = await services(engine=False)
    now = time.time()
    beats = {
        "a-gone": now - OFFLINE_AFTER - 60,
        "b-live": now,
        "c-silent": now - STALE_AFTER - 5,
        "d-live": now,
    }
    for name in beats:
        info = AgentInfo(name, "host", 4242, "v", 4, 0, "idle", now, now)
        await svc.store.register_agent(info, name)
    # Their last heartbeats, as agents that died that long ago left them.
    con = sqlite3.connect(store_location)
    with con:
        con.executemany(
            "UPDATE agents SET heartbeat = ? WHERE name = ?", [(b, n) for n, b in beats.items()]
        )
    con.close()
    listed = [(info.name, info.state) for info, _ in await svc.agents()]
    assert listed == [
        ("b-live", "idle"),
        ("d-live", "idle"),
        ("a-gone", "offline"),
        ("c-silent", "stale"),
    ]
