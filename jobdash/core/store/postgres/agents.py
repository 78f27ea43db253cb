"""The agent rows of the PostgreSQL store: registration, heartbeats (which renew the leases
of the tasks an agent holds), drain, going offline, pruning (see the SQLite backend's
agents.py for the tables' meaning; the running count is derived from `tasks`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from jobdash.core.lifecycle import decide_drain
from jobdash.core.model import AgentInfo, NotFound, PrunedAgents
from jobdash.core.store.postgres.counts import Con, audit_row
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.sqlite.agents import shown_state

AGENTS_QUERY = (
    "SELECT a.name, a.host, a.pid, a.version, a.slots, "
    "(SELECT count(*) FROM tasks t WHERE t.owner = a.owner AND t.status = 'running'), "
    "a.state, a.started, a.heartbeat, a.done, a.failed, a.drain FROM agents a ORDER BY a.name"
)


class Agents:
    db: Db

    async def register_agent(self, info: AgentInfo, owner: str) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            con.execute(
                "INSERT INTO agents (name, owner, host, pid, version, slots, state, "
                "started, heartbeat, rev) VALUES (%s, %s, %s, %s, %s, %s, 'idle', %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, host = excluded.host, "
                "pid = excluded.pid, version = excluded.version, slots = excluded.slots, "
                "state = 'idle', started = excluded.started, "
                "heartbeat = excluded.heartbeat, drain = 0, rev = excluded.rev",
                (info.name, owner, info.host, info.pid, info.version, info.slots, now, now, rev),
            )

        await self.db.write(txn)

    async def heartbeat(
        self, name: str, owner: str, state: str, lease: float, done: int = 0, failed: int = 0
    ) -> tuple[set[int], bool]:
        def txn(con: Con, rev: int, now: float) -> tuple[set[int], bool]:
            rows = con.execute(
                "UPDATE tasks SET lease_until = %s WHERE owner = %s AND status = 'running' "
                "RETURNING id",
                (now + lease, owner),
            ).fetchall()
            drain = con.execute(
                "UPDATE agents SET heartbeat = %s, state = CASE WHEN drain = 1 "
                "AND %s::text != 'offline' THEN 'draining' ELSE %s::text END, done = done + %s, "
                "failed = failed + %s, rev = %s WHERE name = %s AND owner = %s RETURNING drain",
                (now, state, state, done, failed, rev, name, owner),
            ).fetchone()
            return {r[0] for r in rows}, bool(drain and drain[0])

        return await self.db.write(txn)

    async def withdraw_deaths(self, owner: str, agent: str, lost: Sequence[tuple[int, int]]) -> int:
        if not lost:
            return 0

        def txn(con: Con, rev: int, now: float) -> int:
            n = 0
            for task_id, attempt in lost:
                row = con.execute(
                    "UPDATE tasks SET charged = charged - 1, charged_by = NULL "
                    "WHERE id = %s AND charged_by = %s AND charged > 0 "
                    "RETURNING job_id, name, charged",
                    (task_id, owner),
                ).fetchone()
                if row is None:
                    continue
                job_id, name, charged = row
                n += 1
                con.execute(
                    "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                    "VALUES (%s, %s, %s, 'system', %s, %s)",
                    (
                        job_id,
                        task_id,
                        now,
                        f"{name}: agent {agent} was stopped, not dead (its heartbeat came "
                        f"back after attempt {attempt} was taken over): the death charged "
                        f"for that loss is withdrawn ({charged} so far)",
                        attempt,
                    ),
                )
            return n

        return await self.db.write(txn)

    async def set_agent_drain(self, name: str, user: str, drain: bool = True) -> None:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> None:
            row = con.execute("SELECT drain, state FROM agents WHERE name = %s", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no agent named {name}")
            drained, state = row
            decide_drain(name, bool(drained), drain)
            con.execute(
                "UPDATE agents SET drain = %s, state = CASE WHEN %s THEN 'draining' "
                "WHEN state = 'draining' THEN 'idle' ELSE state END, rev = %s WHERE name = %s",
                (int(drain), drain and state != "offline", rev, name),
            )
            audit_row(con, now, actor, user, "drain" if drain else "undrain", f"agent:{name}")

        await self.db.write(txn)

    async def agent_offline(self, name: str, owner: str, done: int = 0, failed: int = 0) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            con.execute(
                "UPDATE agents SET state = 'offline', heartbeat = %s, done = done + %s, "
                "failed = failed + %s, rev = %s WHERE name = %s AND owner = %s",
                (now, done, failed, rev, name, owner),
            )

        await self.db.write(txn)

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        out = []
        for r in await self.db.fetchall(AGENTS_QUERY):
            info = AgentInfo(*r[:11])
            info.state = shown_state(info.state, info.running, bool(r[11]))
            out.append((info, bool(r[11])))
        return out

    async def running_tasks(self) -> dict[str, list[tuple[int, int, str]]]:
        rows = await self.db.fetchall(
            "SELECT agent, job_id, seq, name FROM tasks WHERE status = 'running' "
            "ORDER BY job_id, seq"
        )
        out: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for agent, job_id, seq, name in rows:
            out[agent].append((job_id, seq, name))
        return dict(out)

    async def prune_agents(self, silent_since: float) -> int:
        def txn(con: Con, rev: int, now: float) -> int:
            gone = con.execute(
                "DELETE FROM agents WHERE heartbeat < %s AND NOT EXISTS (SELECT 1 FROM "
                "tasks t WHERE t.owner = agents.owner AND t.status = 'running') "
                "RETURNING done, failed",
                (silent_since,),
            ).fetchall()
            if gone:
                con.execute(
                    "UPDATE agents_pruned SET agents = agents + %s, done = done + %s, "
                    "failed = failed + %s, rev = %s WHERE id = 1",
                    (len(gone), sum(r[0] for r in gone), sum(r[1] for r in gone), rev),
                )
            return len(gone)

        return await self.db.write(txn)

    async def pruned_agents(self) -> PrunedAgents:
        rows = await self.db.fetchall("SELECT agents, done, failed FROM agents_pruned WHERE id = 1")
        return PrunedAgents(*rows[0]) if rows else PrunedAgents()


async def agents_changed_since(db: Db, rev: int) -> bool:
    """Whether an agent row changed (or agents were pruned) after revision `rev`."""
    rows = await db.fetchall(
        "SELECT EXISTS (SELECT 1 FROM agents WHERE rev > %s) "
        "OR EXISTS (SELECT 1 FROM agents_pruned WHERE rev > %s)",
        (rev, rev),
    )
    return bool(rows[0][0])
