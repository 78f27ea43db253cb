"""The agent rows: registration, heartbeats (which renew the leases of the tasks an agent
holds), drain, going offline, pruning.

- `agents`: one row per agent name: who runs it (owner: name + a per-process id), where, its
  slots, the state it last reported, its heartbeat, the drain flag, tasks done / failed.
  How many tasks it runs is not stored: it is counted from `tasks` (the running tasks it
  holds, through the partial index tasks_running), so it cannot drift from the truth.
- `agents_pruned`: one row, the sum of the agents pruned after `agent_retention` (their
  number and their done / failed counts), so totals do not drop when an old agent goes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobdash.core.lifecycle import decide_drain
from jobdash.core.model import NotFound
from jobdash.core.store.sql.counts import COUNTS
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.agent_info import AgentInfo, PrunedAgents

# The agents with the number of running tasks each holds: one probe of the partial index
# tasks_running per agent (SQLite's EXPLAIN QUERY PLAN: "SEARCH t USING COVERING INDEX
# tasks_running (owner=?)"), never a scan of the tasks.
AGENTS_QUERY = (
    "SELECT a.name, a.host, a.pid, a.version, a.slots, "
    "(SELECT count(*) FROM tasks t WHERE t.owner = a.owner AND t.status = 'running'), "
    "a.state, a.started, a.heartbeat, a.done, a.failed, a.drain FROM agents a ORDER BY a.name"
)

Q = Statements(
    register="INSERT INTO agents (name, owner, host, pid, version, slots, state, "
    "started, heartbeat, rev) VALUES (?, ?, ?, ?, ?, ?, 'idle', ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, host = excluded.host, "
    "pid = excluded.pid, version = excluded.version, slots = excluded.slots, "
    "state = 'idle', started = excluded.started, "
    "heartbeat = excluded.heartbeat, drain = 0, rev = excluded.rev",
    renew="UPDATE tasks SET lease_until = ? WHERE owner = ? AND status = 'running' RETURNING id",
    beat="UPDATE agents SET heartbeat = ?, state = CASE WHEN drain = 1 "
    "AND CAST(? AS TEXT) != 'offline' THEN 'draining' ELSE CAST(? AS TEXT) END, "
    "done = done + ?, failed = failed + ?, rev = ? WHERE name = ? AND owner = ? RETURNING drain",
    withdraw="UPDATE tasks SET charged = charged - 1, charged_by = NULL "
    "WHERE id = ? AND charged_by = ? AND charged > 0 RETURNING job_id, name, charged",
    withdrawn="INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
    "VALUES (?, ?, ?, 'system', ?, ?)",
    drain_of="SELECT drain, state FROM agents WHERE name = ?",
    drain="UPDATE agents SET drain = ?, state = CASE WHEN ? THEN 'draining' "
    "WHEN state = 'draining' THEN 'idle' ELSE state END, rev = ? WHERE name = ?",
    offline="UPDATE agents SET state = 'offline', heartbeat = ?, done = done + ?, "
    "failed = failed + ?, rev = ? WHERE name = ? AND owner = ?",
    agents=AGENTS_QUERY,
    running="SELECT agent, job_id, seq, name FROM tasks WHERE status = 'running' "
    "ORDER BY job_id, seq",
    prune="DELETE FROM agents WHERE heartbeat < ? AND NOT EXISTS (SELECT 1 FROM "
    "tasks t WHERE t.owner = agents.owner AND t.status = 'running') RETURNING done, failed",
    pruned="UPDATE agents_pruned SET agents = agents + ?, done = done + ?, "
    "failed = failed + ?, rev = ? WHERE id = 1",
    pruned_sum="SELECT agents, done, failed FROM agents_pruned WHERE id = 1",
    changed="SELECT EXISTS (SELECT 1 FROM agents WHERE rev > ?) "
    "OR EXISTS (SELECT 1 FROM agents_pruned WHERE rev > ?)",
)


def shown_state(reported: str, running: int, drain: bool) -> str:
    """The state to show from what the agent last reported, the tasks it holds now and the
    drain flag: busy/idle follow the tasks (a heartbeat may be seconds old), draining
    follows the flag at once (also right after an undrain)."""
    if reported == "offline":
        return reported
    if drain:
        return "draining"
    if reported == "draining":  # stopping (SIGTERM): no longer claiming
        return reported
    return "busy" if running else "idle"


class Agents:
    """The agents' rows."""

    db: Reading

    async def register_agent(self, info: AgentInfo, owner: str) -> None:
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> None:
            con.execute(
                q.register,
                (info.name, owner, info.host, info.pid, info.version, info.slots, now, now, rev),
            )

        await self.db.write(txn)

    async def heartbeat(
        self,
        name: str,
        owner: str,
        state: str,
        lease: float,
        done: int = 0,
        failed: int = 0,
    ) -> tuple[set[int], bool]:
        """Renew this owner's leases; return the task ids it still holds and the drain flag."""
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> tuple[set[int], bool]:
            rows = con.execute(q.renew, (now + lease, owner)).fetchall()
            drain_rows = con.execute(
                q.beat, (now, state, state, done, failed, rev, name, owner)
            ).fetchall()
            return {r[0] for r in rows}, bool(drain_rows and drain_rows[0][0])

        return await self.db.write(txn)

    async def withdraw_deaths(self, owner: str, agent: str, lost: Sequence[tuple[int, int]]) -> int:
        """Agent `owner` lost these claims (task id, attempt) to `recover_lost`, yet its
        heartbeat came back: it was stopped (SIGSTOP, a paused VM), not dead, so a death
        charged to one of them for that loss is withdrawn (the loss itself stands: the task
        still runs alone next time). A charge made since by another agent's loss is not.
        Returns how many charges were withdrawn."""
        if not lost:
            return 0
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> int:
            n = 0
            for task_id, attempt in lost:
                rows = con.execute(q.withdraw, (task_id, owner)).fetchall()
                if not rows:
                    continue
                job_id, name, charged = rows[0]
                n += 1
                con.execute(
                    q.withdrawn,
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
        """Drain an agent (it finishes its tasks and claims no more), or undrain it (it
        claims again, from its next heartbeat); refused when it would change nothing
        (`lifecycle.decide_drain`)."""
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row

        def txn(con: Connection, rev: int, now: float) -> None:
            rows = con.execute(q.drain_of, (name,)).fetchall()
            if not rows:
                raise NotFound(f"no agent named {name}")
            drained, state = rows[0]
            decide_drain(name, bool(drained), drain)
            con.execute(q.drain, (int(drain), drain and state != "offline", rev, name))
            audit_row(con, now, actor, user, "drain" if drain else "undrain", f"agent:{name}")

        await self.db.write(txn)

    async def agent_offline(self, name: str, owner: str, done: int = 0, failed: int = 0) -> None:
        """An agent stopping: offline, with the tasks it finished since its last heartbeat
        counted (else a stop would lose them from its totals)."""
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> None:
            con.execute(q.offline, (now, done, failed, rev, name, owner))

        await self.db.write(txn)

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        """Every agent and its drain flag; `running` counted from the tasks it holds."""
        rows = await self.db.fetchall(Q[self.db.dialect].agents)
        if not rows:  # no agent (none ever started here): `AgentInfo` need not be loaded
            return []
        from jobdash.core.agent_info import AgentInfo  # loaded where one is made

        out = []
        for r in rows:
            info = AgentInfo(*r[:11])
            info.state = shown_state(info.state, info.running, bool(r[11]))
            out.append((info, bool(r[11])))
        return out

    async def running_tasks(self) -> dict[str, list[tuple[int, int, str]]]:
        """The running tasks of each agent: (job id, task seq, task name)."""
        out: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for agent, job_id, seq, name in await self.db.fetchall(Q[self.db.dialect].running):
            out[agent].append((job_id, seq, name))
        return dict(out)

    async def prune_agents(self, silent_since: float) -> int:
        """Remove the agents not heard from since `silent_since` (offline for good) that
        hold no task, adding their number and done / failed counts to `agents_pruned`.
        Returns how many were removed."""
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> int:
            gone = con.execute(q.prune, (silent_since,)).fetchall()
            if gone:
                con.execute(
                    q.pruned,
                    (len(gone), sum(r[0] for r in gone), sum(r[1] for r in gone), rev),
                )
            return len(gone)

        return await self.db.write(txn)

    async def pruned_agents(self) -> PrunedAgents:
        from jobdash.core.agent_info import PrunedAgents  # loaded where one is made

        rows = await self.db.fetchall(Q[self.db.dialect].pruned_sum)
        return PrunedAgents(*rows[0]) if rows else PrunedAgents()


async def agents_changed_since(db: Reading, rev: int) -> bool:
    """Whether an agent row changed (or agents were pruned) after revision `rev` (for the
    change feed)."""
    rows = await db.fetchall(Q[db.dialect].changed, (rev, rev))
    return bool(rows[0][0])
