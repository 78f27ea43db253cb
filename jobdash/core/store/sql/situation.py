"""What the store knows about why one job waits, read on demand (`jobdash why`, the job
details): the holders of the lock keys it waits for, the pause's audit event, its pending
tasks' backoffs and suspects, the live agents and catalogues. `core.waiting.explain` judges
from it. A handful of reads, each bounded by the job, its keys or the live agents: the
tables never ask this (they show the line `note_waits` keeps).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.model import JobStatus
from jobdash.core.store.sql.catalogue import live_catalogue
from jobdash.core.store.sql.dialect import Reading, Statements
from jobdash.core.store.sql.reads import read_job
from jobdash.core.store.sql.waits import Waits

if TYPE_CHECKING:
    from jobdash.core.waiting import Situation

Q = Statements(
    # The keys this job needs that another job holds, with that job's user and progress.
    holders='SELECT k.key, j.id, j."user", j.status, j.started, j.progress FROM job_locks k '
    "JOIN locks l ON l.key = k.key JOIN jobs j ON j.id = l.job_id "
    "WHERE k.job_id = ? AND l.job_id != ? ORDER BY k.key",
    # The newest pause of a job (the audit's newest rows first: it stops at the pause).
    paused="SELECT \"user\", ts FROM audit WHERE target = ? AND action = 'pause' "
    "ORDER BY id DESC LIMIT 1",
    # Its pending tasks by what they wait for: ready (and not suspects), suspects ready,
    # backoff (not before a time to come).
    pending="SELECT CASE WHEN not_before > ? THEN 'backoff' WHEN lost > 0 THEN 'suspect' "
    "ELSE 'ready' END AS what, count(*) FROM tasks WHERE job_id = ? AND status = 'pending' "
    "GROUP BY what",
    backoff="SELECT seq, attempt, not_before FROM tasks WHERE job_id = ? AND status = 'pending' "
    "AND not_before > ? ORDER BY not_before, seq LIMIT ?",
    type_hash="SELECT type_hash FROM jobs WHERE id = ?",
    running="SELECT seq FROM tasks WHERE job_id = ? AND status = 'running' ORDER BY seq LIMIT ?",
    # Its running tasks whose lease ran out (`timing.task_lost`: no live agent holds them).
    lost="SELECT seq, lease_until, count(*) OVER () FROM tasks WHERE job_id = ? "
    "AND status = 'running' AND lease_until < ? ORDER BY seq LIMIT ?",
)


class Situations(Waits):
    """`wait_situation`, the Store's method (`Waits`' reads of agents and suspects too)."""

    db: Reading

    async def wait_situation(self, job_id: int, live_since: float) -> Situation:
        """What `core.waiting.explain` needs to say why job `job_id` waits (NotFound when
        there is no such job). `live_since`: agents heard from since then are live."""
        from jobdash.core.views import Holder  # not loaded by a read that makes none
        from jobdash.core.waiting import SHOWN_TASKS, Situation  # nor these

        q = Q[self.db.dialect]
        job = await read_job(self.db, job_id)
        s = Situation(job)
        st = job.status
        if st.finished or st is JobStatus.CANCELLING:
            return s
        if st is JobStatus.PAUSED:
            rows: Any = await self.db.fetchall(q.paused, (f"job:{job_id}",))
            s.paused = (rows[0][0], rows[0][1]) if rows else None
            return s
        now = time.time()
        rows = await self.db.fetchall(q.holders, (job_id, job_id))
        s.holders = [Holder(*r) for r in rows]
        live = await live_catalogue(self.db, live_since)
        digest = (await self.db.fetchall(q.type_hash, (job_id,)))[0][0]
        s.unrunnable = unrunnable(job.type, digest, live)
        s.agents, s.busy_jobs = await self.live_agents(live_since)
        if st is not JobStatus.RUNNING:
            return s
        counts = dict(await self.db.fetchall(q.pending, (now, job_id)))
        s.ready = counts.get("ready", 0)
        s.backoff_count = counts.get("backoff", 0)
        if s.backoff_count:
            rows = await self.db.fetchall(q.backoff, (job_id, now, SHOWN_TASKS))
            s.backoff = [(r[0], r[1], r[2]) for r in rows]
        suspects = await self.ready_suspects(now)
        s.suspects = [x for x in suspects if x.job_id == job_id]
        s.first_suspect = suspects[0] if suspects else None
        if job.running:
            s.running = [r[0] for r in await self.db.fetchall(q.running, (job_id, SHOWN_TASKS + 1))]
            rows = await self.db.fetchall(q.lost, (job_id, now, SHOWN_TASKS))
            s.lost = [(r[0], r[1]) for r in rows]
            s.lost_count = rows[0][2] if rows else 0
        return s
