"""Why a running job runs nothing: the reasons the SQLite store writes into `jobs.waiting`.

A running job whose ready tasks are not claimed would show "▶ running 0/5" and a blank info
line. Every engine's housekeeping asks `note_waits` about once a second; it finds those jobs
and writes, from the store, the reason into `jobs.waiting` (shown instead of the info line
while the job runs nothing): no live engine runs the job's type as it was submitted (see
`catalogue.unrunnable`), the agents are busy (N of N slots used, and by which jobs), none
is live, or every live one is draining. A claim clears it. A job held by a lock is
`waiting` with the holder named already (see `admit`).
"""

from __future__ import annotations

import sqlite3
import time

from jobdash.core.catalogue import unrunnable
from jobdash.core.store.sqlite.catalogue import live_catalogue
from jobdash.core.store.sqlite.db import Db, Reader
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY
from jobdash.present.words import plural, plural_word

# Running jobs with a task ready and none running (jobs_active, then tasks_pending).
_IDLE_JOBS = (
    f"SELECT id, type, type_hash FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} AND running = 0 "
    "AND EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= ?)"
)
SHOWN_JOBS = 3  # jobs named in a reason; the rest are counted


class Waits:
    """The reasons running jobs wait."""

    def __init__(self, db: Db) -> None:
        self.db = db

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
            for job_id, type_name, digest in idle:
                reason = unrunnable(type_name, digest, live) or slots
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
        """Why ready tasks are not claimed, from the live agents; "" when nothing stops a
        claim (an agent claims them within its poll)."""
        agents = list(
            await reader.execute_fetchall(
                "SELECT a.owner, a.slots, a.drain OR a.state = 'draining', (SELECT count(*) "
                "FROM tasks t WHERE t.owner = a.owner AND t.status = 'running') FROM agents a "
                "WHERE a.heartbeat >= ? AND a.state != 'offline'",
                (live_since,),
            )
        )
        # The reason leads with what is wrong: a table's info column shows its first words.
        if not agents:
            return "no live agent to run it (start one: jobdash serve)"
        claiming = [a for a in agents if not a[2]]
        if not claiming:
            return f"agents draining: all {plural(len(agents), 'live agent')}"
        slots = sum(a[1] for a in claiming)
        used = sum(a[3] for a in claiming)
        if used < slots:
            return ""
        owners = [a[0] for a in claiming]
        jobs = [
            r[0]
            for r in await reader.execute_fetchall(
                "SELECT DISTINCT job_id FROM tasks WHERE status = 'running' "
                f"AND owner IN ({', '.join('?' * len(owners))}) ORDER BY job_id",
                owners,
            )
        ]
        names = ", ".join(str(j) for j in jobs[:SHOWN_JOBS])
        if len(jobs) > SHOWN_JOBS:
            names += f" and {len(jobs) - SHOWN_JOBS} more"
        return (
            f"agents busy: {used}/{slots} {plural_word(slots, 'slot')} "
            f"({plural_word(len(jobs), 'job')} {names})"
        )
