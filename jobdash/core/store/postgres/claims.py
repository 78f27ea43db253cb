"""Claims of the PostgreSQL store: claiming ready tasks (one statement per batch: a CTE
picks each running job's first ready tasks within its `parallel`, `FOR UPDATE SKIP LOCKED`,
deals them out between the jobs and `UPDATE … RETURNING` takes them). Recording outcomes
(fenced), giving claims back and recovering lost tasks are shared (`core.store.sql.claims`).

Whether a suspect task runs alone is `core.lifecycle`'s decision (`suspect_way`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from typing import Any

from jobdash.core.deaths import suspect_way
from jobdash.core.store.engine_records import Claim, Claimant
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db, NotReady
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.store.sql import claims
from jobdash.core.store.sql.claims import claims_of
from jobdash.core.store.sql.counts import CLAIMABLE_SQL, KNOWN_COLUMNS, Known, known_of
from jobdash.core.store.sql.dialect import INT_ARRAY, POSTGRES, int_array

# What a claim sets on a task, and what it returns (with its job's timeout, params, type
# and type hash).
CLAIM_SET = (
    "status = 'running', attempt = tasks.attempt + 1, owner = %s, agent = %s, "
    "lease_until = %s, started = %s, finished = NULL, exit_code = NULL, error = '', "
    "progress = 0, pgid = NULL, idle_time = 0"
)
CLAIM_RETURNING = (
    "tasks.id, tasks.job_id, tasks.seq, tasks.name, tasks.kind, tasks.spec, tasks.item, "
    "tasks.attempt, tasks.lost, j.timeout, j.params, j.type, j.type_hash"
)
# The claimant's agent is not drained: a drained one claims nothing more, even before its
# next heartbeat tells it (`jobdash agent drain` promises so once it returns). Added to the
# claims' type filter (`{types}`); parameters: its name and owner.
NOT_DRAINED = " AND NOT EXISTS (SELECT 1 FROM agents WHERE name = %s AND owner = %s AND drain = 1)"
# The first suspect task ready to run alone (`%s`: the claimant's type filter), since when
# it is ready.
SUSPECT_READY = (
    "SELECT t.id, t.not_before FROM tasks t JOIN jobs j ON j.id = t.job_id "
    "WHERE t.status = 'pending' AND t.lost > 0 AND t.not_before <= %s "
    f"AND j.{CLAIMABLE_SQL} AND j.running < j.parallel{{types}} ORDER BY t.id LIMIT 1"
)
# The jobs a claim takes ordinary tasks of, with room (`{types}`: the claimant's filter).
ROOM = f"{CLAIMABLE_SQL} AND {ACTIVE_ONLY} AND running < parallel{{types}}"
# The rows of the jobs a batch writes, locked in the order of their ids before it writes
# any (see `PgFlusher.lock_jobs`): its outcomes' jobs, its progress tasks' jobs and, when it
# refills, the jobs its claim will count room in. Parameters: the job ids, the task ids.
# It returns each job's `Known` (its row as locked, before the batch writes it): the
# fenced update of a batch's outcomes then needs no read of its own (`complete_in`).
LOCK_JOBS = (
    f"SELECT j.id, {KNOWN_COLUMNS} FROM jobs j WHERE j.id = ANY({INT_ARRAY}) "
    f"OR j.id IN (SELECT job_id FROM tasks WHERE id = ANY({INT_ARRAY})){{room}} ORDER BY j.id "
    "FOR NO KEY UPDATE"
)
# An ordinary task of `jobs` ready to run (inside EXISTS).
ORDINARY_READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= %s AND t.lost = 0"
)
# Ordinary ready tasks for one claimant, in one statement. `room`: the running jobs with
# room, locked (claims run side by side: a second claimant waits for the first's commit and
# counts the room that is left, see db.py; in the order of their ids, as every claim
# locks them), fewest running first (a slot freed one at a time goes to the job with the smallest
# share); `ready`: each one's first ready tasks within its room, locked (SKIP LOCKED: a
# claimant never waits for another's pick); `pick`: dealt out in turns, one task per job
# per turn, up to the limit; the claimed tasks' jobs' columns come from `room` (not read
# again by index for each task). Parameters: the type filter's, now, the limit twice, then
# CLAIM_SET's.
CLAIM_READY = (
    "WITH room AS MATERIALIZED (SELECT id, parallel - running AS room, running, timeout, "
    f"params, type, type_hash FROM jobs WHERE {ROOM} ORDER BY id FOR NO KEY UPDATE OF jobs), "
    "ready AS MATERIALIZED (SELECT r.id AS job_id, r.running, x.id, "
    "row_number() OVER (PARTITION BY r.id ORDER BY x.id) AS turn FROM room r "
    "CROSS JOIN LATERAL (SELECT t.id FROM tasks t WHERE t.job_id = r.id "
    "AND t.status = 'pending' AND t.not_before <= %s AND t.lost = 0 ORDER BY t.id "
    "LIMIT least(r.room, %s) FOR UPDATE SKIP LOCKED) x), "
    "pick AS MATERIALIZED (SELECT id, job_id FROM ready ORDER BY turn, running, job_id "
    f"LIMIT %s) UPDATE tasks SET {CLAIM_SET} FROM pick, room j "
    f"WHERE tasks.id = pick.id AND j.id = pick.job_id RETURNING {CLAIM_RETURNING}"
)
# A suspect task, alone: its job's row locked and its room counted again, and the task
# still pending once this claimant holds it (another may have taken it meanwhile: claims run
# side by side). Parameters: the task, CLAIM_SET's, the task.
CLAIM_ONE = (
    "WITH room AS MATERIALIZED (SELECT id FROM jobs WHERE id = (SELECT job_id FROM tasks "
    "WHERE id = %s) AND running < parallel FOR NO KEY UPDATE) "
    f"UPDATE tasks SET {CLAIM_SET} FROM room, jobs j WHERE tasks.id = %s "
    "AND tasks.job_id = room.id AND j.id = room.id AND tasks.status = 'pending' "
    f"RETURNING {CLAIM_RETURNING}"
)


def types_sql(types: Collection[str] | None, column: str = "type_hash") -> tuple[str, list[Any]]:
    """The condition keeping the jobs of these type hashes (None: any), and its argument."""
    if types is None:
        return "", []
    return f" AND {column} = ANY(%s)", [list(types)]


class Claims(claims.Claims):
    """Claiming tasks (recording their outcomes and recovering lost ones are shared)."""

    db: Db

    async def claim(self, who: Claimant | Callable[[], Claimant | None]) -> list[Claim]:
        if isinstance(who, Claimant) and who.free <= 0:
            return []
        # An agent counts a task's slot free when its process ends, before its outcome is
        # written. So the free slots are counted on the event loop, holding the write lock,
        # once no outcome is held (written first): every slot counted free then has its
        # outcome committed, and the claims are started right after this commit, before
        # another claim counts. The store never shows more tasks running than slots.
        asked: list[Claimant | None] = []

        def ready() -> bool:
            if self.db.outcomes_held():
                return False
            asked[:] = [who if isinstance(who, Claimant) else who()]
            return True

        def txn(con: Con, rev: int, now: float) -> list[Claim]:
            (c,) = asked
            if c is None or c.free <= 0:
                return []
            return claim_in(con, rev, now, c)

        while True:
            await self.db.record_outcomes()
            with contextlib.suppress(NotReady):
                return await self.db.write(txn, ready, shared=True)


def lock_jobs(
    con: Con, job_ids: list[int], task_ids: list[int], c: Claimant | None
) -> dict[int, Known]:
    """Lock the rows of a batch's jobs in id order, before its next read (`LOCK_JOBS`):
    `job_ids`, the jobs of `task_ids`, and the jobs `c` (the refill) will count room in.
    Returns each one's `Known`, as locked."""
    room, args = "", []
    if c is not None:
        jobs_of, type_args = types_sql(c.types)
        room = f" OR ({ROOM.format(types=jobs_of + NOT_DRAINED)})"
        args = [*type_args, c.agent, c.owner]
    ids = (int_array(job_ids), int_array(task_ids))
    rows = con.execute(LOCK_JOBS.format(room=room), (*ids, *args)).fetchall()
    return {r[0]: known_of(r[1:]) for r in rows}


def claim_in(con: Con, rev: int, now: float, c: Claimant) -> list[Claim]:
    """Claim for `c` inside a transaction (a claim, or the refill of a flush)."""
    if c.types is not None and not c.types:
        return []  # an engine with no job types runs nothing
    jobs_of, type_args = types_sql(c.types, "j.type_hash")
    me = (c.agent, c.owner)
    suspect = con.execute(
        SUSPECT_READY.format(types=jobs_of + NOT_DRAINED), (now, *type_args, *me)
    ).fetchall()
    way = suspect_way(suspect[0][1] if suspect else None, c.idle, now)
    if way == "drain":
        return []
    claim_args = (c.owner, c.agent, now + c.lease, now)
    if way == "alone":
        task = suspect[0][0]
        rows = con.execute(CLAIM_ONE, (task, *claim_args, task)).fetchall()
    else:
        jobs_of, type_args = types_sql(c.types)
        rows = con.execute(
            CLAIM_READY.format(types=jobs_of + NOT_DRAINED),
            (*type_args, *me, now, c.free, c.free, *claim_args),
        ).fetchall()
    jobs = {r[1]: (r[9], r[10], r[11], r[12]) for r in rows}
    return claims_of(POSTGRES, con, rev, now, rows, jobs)
