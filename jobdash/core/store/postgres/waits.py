"""Why a running job runs nothing: the PostgreSQL store reads what `core.waiting` and
`catalogue.unrunnable` judge from, and writes their reason into `jobs.waiting` (shown
instead of the info line while the job runs nothing). A claim clears it.
"""

from __future__ import annotations

import time

from jobdash.core.catalogue import unrunnable
from jobdash.core.store.postgres.catalogue import live_catalogue
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.waiting import LiveAgent, agents_full, agents_wait

_IDLE_JOBS = (
    f"SELECT id, type, type_hash FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} "
    "AND running = 0 AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id "
    "AND t.status = 'pending' AND t.not_before <= %s)"
)


class Waits:
    db: Db

    async def note_waits(self, live_since: float) -> int:
        now = time.time()
        idle = await self.db.fetchall(_IDLE_JOBS, (now,))
        shown = {
            r[0]: r[1]
            for r in await self.db.fetchall(
                f"SELECT id, waiting FROM jobs WHERE {ACTIVE_ONLY} AND waiting != ''"
            )
        }
        wanted: dict[int, str] = {}
        if idle:
            live = await live_catalogue(self.db, live_since)
            slots = await self._slot_reason(live_since)
            for job_id, type_name, digest in idle:
                reason = unrunnable(type_name, digest, live) or slots
                if reason:
                    wanted[job_id] = reason
        changes = {j: text for j, text in wanted.items() if shown.get(j) != text}
        changes |= {j: "" for j in shown if j not in wanted}
        if not changes:
            return 0

        def txn(con: Con, rev: int, now: float) -> None:
            # Only while the job still runs nothing: a claim may have come meanwhile.
            con.cursor().executemany(
                "UPDATE jobs SET waiting = %s, rev = %s WHERE id = %s "
                "AND (%s::text = '' OR (status = 'running' AND running = 0))",
                [(text, rev, job_id, text) for job_id, text in changes.items()],
            )

        await self.db.write(txn)
        return len(changes)

    async def _slot_reason(self, live_since: float) -> str:
        rows = await self.db.fetchall(
            "SELECT a.owner, a.slots, (a.drain = 1 OR a.state = 'draining'), (SELECT count(*) "
            "FROM tasks t WHERE t.owner = a.owner AND t.status = 'running') FROM agents a "
            "WHERE a.heartbeat >= %s AND a.state != 'offline'",
            (live_since,),
        )
        owners = [r[0] for r in rows if not r[2]]
        agents = [LiveAgent(slots=r[1], draining=bool(r[2]), running=r[3]) for r in rows]
        if not agents_full(agents):
            return agents_wait(agents)
        busy = await self.db.fetchall(
            "SELECT DISTINCT job_id FROM tasks WHERE status = 'running' "
            "AND owner = ANY(%s) ORDER BY job_id",
            (owners,),
        )
        return agents_wait(agents, [r[0] for r in busy])
