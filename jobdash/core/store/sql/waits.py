"""Why a running job runs nothing: the store reads what `core.waiting` and
`catalogue.unrunnable` judge from, and writes their reason into `jobs.waiting` (shown instead
of the info line while the job runs nothing). A claim clears it.
"""

from __future__ import annotations

import functools
import time

from jobdash.core.catalogue import unrunnable
from jobdash.core.store.sql.catalogue import live_catalogue
from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sql.dialect import Connection, Reading, Statements
from jobdash.core.waiting import NAMED_IN_LINE, LiveAgent, agents_full, agents_wait

IDLE = (
    "status = 'running' AND running = 0 AND EXISTS (SELECT 1 FROM tasks t "
    "WHERE t.job_id = jobs.id AND t.status = 'pending' AND t.not_before <= ?)"
)
Q = Statements(
    # Running jobs with a task ready and none running (jobs_active, then tasks_pending),
    # oldest first (next in line), with the reason they show now.
    idle=f"SELECT id, type, type_hash, waiting FROM jobs WHERE {ACTIVE_ONLY} AND {IDLE} "
    "ORDER BY id",
    # Jobs showing a reason that no longer applies: they are not idle any more.
    stale=f"SELECT id FROM jobs WHERE {ACTIVE_ONLY} AND waiting != '' AND NOT ({IDLE})",
    # Only while the job still runs nothing: a claim may have come meanwhile.
    note="UPDATE jobs SET waiting = ?, rev = ? WHERE id = ? "
    "AND (CAST(? AS TEXT) = '' OR (status = 'running' AND running = 0))",
    agents="SELECT a.owner, a.slots, (a.drain != 0 OR a.state = 'draining'), (SELECT count(*) "
    "FROM tasks t WHERE t.owner = a.owner AND t.status = 'running') FROM agents a "
    "WHERE a.heartbeat >= ? AND a.state != 'offline'",
    busy="SELECT DISTINCT job_id FROM tasks WHERE status = 'running' AND ",
)


class Waits:
    """The reasons running jobs wait."""

    db: Reading

    async def note_waits(self, live_since: float) -> int:
        """Write why each running job with ready tasks has none running, and clear the
        reasons that no longer hold. `live_since`: an agent whose last heartbeat is older
        is not counted as live. Returns how many jobs' reasons changed.

        Only reasons that change are written: the jobs behind the first NAMED_IN_LINE keep
        the same reason while they wait (see `core.waiting`), so a backlog costs one write
        per job, not one per job every time this runs."""
        now = time.time()
        d = self.db.dialect
        q = Q[d]
        idle = await self.db.fetchall(q.idle, (now,))
        changes = {r[0]: "" for r in await self.db.fetchall(q.stale, (now,))}
        if idle:
            live = await live_catalogue(self.db, live_since)
            named, plain = await self._slot_reasons(live_since)
            why = functools.cache(lambda name, digest: unrunnable(name, digest, live))
            for i, (job_id, type_name, digest, shown) in enumerate(idle):
                # one answer per type and hash
                reason = why(type_name, digest) or (named if i < NAMED_IN_LINE else plain)
                if reason != shown:
                    changes[job_id] = reason
        if not changes:
            return 0

        def txn(con: Connection, rev: int, now: float) -> None:
            d.many(con, q.note, [(text, rev, job_id, text) for job_id, text in changes.items()])

        await self.db.write(txn)
        return len(changes)

    async def _slot_reasons(self, live_since: float) -> tuple[str, str]:
        """Why ready tasks are not claimed, as `waiting.agents_wait` judges it from the
        live agents ("" when nothing stops a claim): the reason that names the busy jobs and
        the one that does not."""
        d = self.db.dialect
        rows = await self.db.fetchall(Q[d].agents, (live_since,))
        owners = [r[0] for r in rows if not r[2]]
        agents = [LiveAgent(slots=r[1], draining=bool(r[2]), running=r[3]) for r in rows]
        if not agents_full(agents):
            return agents_wait(agents), agents_wait(agents, named=False)
        among, args = d.among("owner", owners)
        busy = await self.db.fetchall(Q[d].busy + among + " ORDER BY job_id", args)
        return agents_wait(agents, [r[0] for r in busy]), agents_wait(agents, named=False)
