"""Why a running job runs nothing: the SQLite store reads what `core.waiting` and
`catalogue.unrunnable` judge from, and writes their reason into `jobs.waiting` (shown instead
of the info line while the job runs nothing). A claim clears it.
"""

from __future__ import annotations

import functools
import sqlite3
import time

from jobdash.core.catalogue import unrunnable
from jobdash.core.store.sqlite.catalogue import live_catalogue
from jobdash.core.store.sqlite.db import Db, Reader
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY
from jobdash.core.waiting import LiveAgent, agents_full, agents_wait

# Running jobs with a task ready and none running (jobs_active, then tasks_pending).
_IDLE_JOBS = (
    f"SELECT id, type, type_hash FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} AND running = 0 "
    "AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= ?)"
)


class Waits:
    """The reasons running jobs wait."""

    db: Db

    async def note_waits(self, live_since: float) -> int:
        """Write why each running job with ready tasks has none running, and clear the
        reasons that no longer hold. `live_since`: an agent whose last heartbeat is older
        is not counted as live. Returns how many jobs' reasons changed."""
        now = time.time()
        reader = self.db.reader
        idle = list(await reader.execute_fetchall(_IDLE_JOBS, (now,)))
        shown = {
            r[0]: r[1]
            for r in await reader.execute_fetchall(
                f"SELECT id, waiting FROM jobs WHERE {ACTIVE_ONLY} AND waiting != ''"
            )
        }
        wanted: dict[int, str] = {}
        if idle:
            live = await live_catalogue(reader, live_since)
            slots = await self._slot_reason(reader, live_since)
            why = functools.cache(lambda name, digest: unrunnable(name, digest, live))
            for job_id, type_name, digest in idle:  # one answer per type and hash
                reason = why(type_name, digest) or slots
                if reason:
                    wanted[job_id] = reason
        changes = {j: text for j, text in wanted.items() if shown.get(j) != text}
        changes |= {j: "" for j in shown if j not in wanted}
        if not changes:
            return 0

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            # Only while the job still runs nothing: a claim may have come meanwhile.
            con.executemany(
                "UPDATE jobs SET waiting = ?, rev = ? WHERE id = ? "
                "AND (? = '' OR (status = 'running' AND running = 0))",
                [(text, rev, job_id, text) for job_id, text in changes.items()],
            )

        await self.db.write(txn)
        return len(changes)

    async def _slot_reason(self, reader: Reader, live_since: float) -> str:
        """Why ready tasks are not claimed, as `waiting.agents_wait` judges it from the
        live agents ("" when nothing stops a claim)."""
        rows = await reader.execute_fetchall(
            "SELECT a.owner, a.slots, a.drain OR a.state = 'draining', (SELECT count(*) "
            "FROM tasks t WHERE t.owner = a.owner AND t.status = 'running') FROM agents a "
            "WHERE a.heartbeat >= ? AND a.state != 'offline'",
            (live_since,),
        )
        owners = [r[0] for r in rows if not r[2]]
        agents = [LiveAgent(slots=r[1], draining=bool(r[2]), running=r[3]) for r in rows]
        if not agents_full(agents):
            return agents_wait(agents)
        busy = await reader.execute_fetchall(
            "SELECT DISTINCT job_id FROM tasks WHERE status = 'running' "
            f"AND owner IN ({', '.join('?' * len(owners))}) ORDER BY job_id",
            owners,
        )
        return agents_wait(agents, [r[0] for r in busy])
