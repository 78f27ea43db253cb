"""Why a running job runs nothing: the store reads what `core.waiting` and
`catalogue.unrunnable` judge from, and writes their reason into `jobs.waiting` (shown instead
of the info line while the job runs nothing, and while it is paused: who paused it). A claim
clears it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.store.sql.catalogue import live_catalogue
from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.waiting import LiveAgent, Suspect

# A pending task of `jobs` ready now (inside EXISTS).
READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' AND t.not_before <= ?"
)
# A running job that runs nothing with tasks left: they are ready (and nobody claims them),
# or all wait out a retry backoff.
RESTING = "status = 'running' AND running = 0 AND pending > 0"
Q = Statements(
    # Running jobs that run nothing with tasks left (jobs_active), oldest first (next in
    # line), whether a task is ready (tasks_pending), and the reason they show now.
    # Jobs created after the grace's start are left out (`note_waits`' `grace`).
    resting=f"SELECT id, type, type_hash, waiting, CASE WHEN EXISTS ({READY}) THEN 1 ELSE 0 END "
    f"FROM jobs WHERE {ACTIVE_ONLY} AND {RESTING} AND created <= ? ORDER BY id",
    # When a job's first task in backoff runs again.
    next_try="SELECT min(not_before) FROM tasks WHERE job_id = ? AND status = 'pending'",
    # Jobs showing a reason that no longer applies: they run something, or have nothing left.
    # A paused job's line (who paused it) stays while it is paused.
    stale=f"SELECT id FROM jobs WHERE {ACTIVE_ONLY} AND waiting != '' AND status != 'paused' "
    f"AND NOT ({RESTING})",
    # Only while the job still runs nothing: a claim may have come meanwhile.
    note="UPDATE jobs SET waiting = ?, rev = ? "
    "WHERE (CAST(? AS TEXT) = '' OR (status = 'running' AND running = 0)) AND id = ?",
    agents="SELECT a.owner, a.slots, (a.drain != 0 OR a.state = 'draining'), (SELECT count(*) "
    "FROM tasks t WHERE t.owner = a.owner AND t.status = 'running') FROM agents a "
    "WHERE a.heartbeat >= ? AND a.state != 'offline'",
    busy="SELECT DISTINCT job_id FROM tasks WHERE status = 'running' AND ",
    # The ready suspects (lost with an agent: each runs alone) of jobs that may run one
    # (tasks_suspect, nearly empty; an ORDER BY t.id would walk the whole table instead:
    # they are put in the claims' order here).
    suspects="SELECT t.job_id, t.seq, t.lost, t.not_before, t.id FROM tasks t "
    "JOIN jobs j ON j.id = t.job_id WHERE t.status = 'pending' AND t.lost > 0 "
    "AND t.not_before <= ? AND j.status = 'running' AND j.running < j.parallel",
)


class Waits:
    """The reasons running jobs wait."""

    db: Reading

    async def note_waits(self, live_since: float, grace: float = 0.0) -> int:
        """Write why each running job with tasks left has none running, and clear the
        reasons that no longer hold. `live_since`: an agent whose last heartbeat is older
        is not counted as live. `grace`: jobs created less than this many seconds ago are
        left out (they show no reason yet). Returns how many jobs' reasons changed.

        Only reasons that change are written: the jobs behind the first NAMED_IN_LINE keep
        the same reason while they wait (see `core.waiting`), so a backlog costs one write
        per job, not one per job every time this runs; and with a `grace`, a bulk
        submission that the engines run within it costs none (most jobs wait only for
        the next claim: a reason each, written and then cleared by its claim, was ~15 µs
        of the engine's ~150 a one-task job)."""
        from jobdash.core.waiting import (  # the engine's and `why`'s: not loaded by a read
            NAMED_IN_LINE,
            agents_wait,
            alone_line,
            backoff_line,
            holding_back,
            quarantine_line,
        )

        now = time.time()
        d = self.db.dialect
        q = Q[d]
        resting = await self.db.fetchall(q.resting, (now, now - grace))
        changes = {r[0]: "" for r in await self.db.fetchall(q.stale, ())}
        if resting:
            live = await live_catalogue(self.db, live_since)
            agents, busy = await self.live_agents(live_since)
            named, plain = agents_wait(agents, busy), agents_wait(agents, named=False)
            suspects = await self.ready_suspects(now)
            alone = {x.job_id: x.seq for x in reversed(suspects)}  # each job's first
            first = suspects[0] if suspects and holding_back(suspects[0].since, now) else None
            why = functools.cache(lambda name, digest: unrunnable(name, digest, live))
            line = 0  # place in line among the jobs with a task ready
            for job_id, type_name, digest, shown, ready in resting:
                unrun = why(type_name, digest)  # one answer per type and hash
                if unrun is not None:
                    reason = unrun
                elif not ready:  # every task left waits out a backoff
                    until = (await self.db.fetchall(q.next_try, (job_id,)))[0][0]
                    reason = backoff_line(until, now) if until else ""
                elif job_id in alone:
                    reason = alone_line(alone[job_id])
                else:
                    reason = named if line < NAMED_IN_LINE else plain
                    if not reason and first is not None:
                        reason = quarantine_line(first.job_id, first.seq)
                    line += 1
                if reason != shown:
                    changes[job_id] = reason
        if not changes:
            return 0

        def txn(con: Connection, rev: int, now: float) -> None:
            # One statement per reason (a backlog's jobs mostly share one): `by_key`.
            d.by_key(con, q.note, [(text, rev, text, job_id) for job_id, text in changes.items()])

        await self.db.write(txn)
        return len(changes)

    async def live_agents(self, live_since: float) -> tuple[list[LiveAgent], list[int]]:
        """The live agents, and the jobs running on those that claim when they use all
        their slots (`waiting.agents_full`: only then are those named)."""
        from jobdash.core.waiting import LiveAgent, agents_full  # not loaded by a read

        d = self.db.dialect
        rows = await self.db.fetchall(Q[d].agents, (live_since,))
        owners = [r[0] for r in rows if not r[2]]
        agents = [LiveAgent(slots=r[1], draining=bool(r[2]), running=r[3]) for r in rows]
        if not agents_full(agents):
            return agents, []
        among, args = d.among("owner", owners)
        busy = await self.db.fetchall(Q[d].busy + among + " ORDER BY job_id", args)
        return agents, [r[0] for r in busy]

    async def ready_suspects(self, now: float) -> list[Suspect]:
        """The suspect tasks ready now, the first the one a claim takes first."""
        from jobdash.core.waiting import Suspect  # not loaded by a read

        rows: Sequence[Any] = await self.db.fetchall(Q[self.db.dialect].suspects, (now,))
        return [Suspect(*r[:4]) for r in sorted(rows, key=lambda r: r[4])]  # by task id
