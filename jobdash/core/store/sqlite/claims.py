"""Claims of the SQLite store: claiming ready tasks (one `UPDATE … WHERE id IN (SELECT …)
RETURNING …` per batch of jobs, shared out between them). Recording outcomes (fenced),
giving claims back and recovering lost tasks are shared (`core.store.sql.claims`).

Whether a suspect task runs alone is `core.lifecycle`'s decision (`suspect_way`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from jobdash.core.store.sql import claims
from jobdash.core.store.sql.claims import CLAIM_RETURNING, claims_of
from jobdash.core.store.sql.counts import CLAIMABLE_SQL
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sqlite.db import Db, qmarks

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Claim, Claimant

# What a claim sets on a task, and what it returns.
CLAIM_SET = (
    "status = 'running', attempt = attempt + 1, owner = ?, agent = ?, lease_until = ?, "
    "started = ?, finished = NULL, exit_code = NULL, error = '', progress = 0, pgid = NULL, idle_time = 0"
)
# The first suspect task ready to run alone (`%s`: the claimant's type filter), since when it
# is ready, and its job's id, timeout, params, type and type hash; found through the (nearly
# empty) tasks_suspect index.
SUSPECT_READY = (
    "SELECT t.id, t.not_before, j.id, j.timeout, j.params, j.type, j.type_hash FROM tasks t "
    "INDEXED BY tasks_suspect JOIN jobs j ON j.id = t.job_id "
    "WHERE t.status = 'pending' AND t.lost > 0 AND t.not_before <= ? "
    f"AND j.{CLAIMABLE_SQL} AND j.running < j.parallel%s ORDER BY t.id LIMIT 1"
)
# The claimant's agent is drained: it claims nothing more, even before its next heartbeat
# tells it (`jobdash agent drain` promises so once it returns).
DRAINED = "SELECT 1 FROM agents WHERE name = ? AND owner = ? AND drain = 1"
# An ordinary task of `jobs` ready to run (inside EXISTS).
ORDINARY_READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= ? AND t.lost = 0"
)


class Claims(claims.Claims):
    """Claiming tasks (recording their outcomes and recovering lost ones are shared)."""

    db: Db

    async def claim(self, who: Claimant | Callable[[], Claimant | None]) -> list[Claim]:
        """Claim up to `who.free` pending tasks of running jobs, within each job's
        `parallel`, of the job types whose hashes are in `who.types` (None: any; an agent
        passes its own catalogue's). A suspect task (see `deaths.suspect_way`) is claimed
        alone, by an idle claimant. `who` may be a function, asked inside the transaction:
        an agent's free slots counted there cannot be taken meanwhile by a refill (see
        `Refill`)."""
        from jobdash.core.store.engine_records import Claimant  # not loaded by a read

        if isinstance(who, Claimant) and who.free <= 0:
            return []

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[Claim]:
            c = who if isinstance(who, Claimant) else who()
            if c is None or c.free <= 0:
                return []
            return claim_in(con, rev, now, c)

        return await self.db.write(txn, inline=True)


def claim_in(con: sqlite3.Connection, rev: int, now: float, c: Claimant) -> list[Claim]:
    """Claim for `c` inside a transaction (a claim, or the refill of a flush)."""
    from jobdash.core.deaths import suspect_way  # the engine's: not loaded by a read

    if c.types is not None and not c.types:
        return []  # an engine with no job types runs nothing (and `IN ()` has no plan)
    if con.execute(DRAINED, (c.agent, c.owner)).fetchone():
        return []
    jobs_of, type_args = types_sql(c.types)
    suspect = con.execute(SUSPECT_READY % jobs_of, (now, *type_args)).fetchall()
    way = suspect_way(suspect[0][1] if suspect else None, c.idle, now)
    if way == "drain":
        return []
    if way == "alone":
        task_id, _ready, job_id, timeout, params, type_name, digest = suspect[0]
        extra = {job_id: (timeout, params, type_name, digest)}
        rows = con.execute(
            f"UPDATE tasks SET {CLAIM_SET} WHERE id = ? RETURNING {CLAIM_RETURNING}",
            (c.owner, c.agent, now + c.lease, now, task_id),
        ).fetchall()
    else:
        rows, extra = _claim_ready(con, now, c, jobs_of, type_args)
    return claims_of(SQLITE, con, rev, now, rows, extra)


def _claim_ready(
    con: sqlite3.Connection, now: float, c: Claimant, jobs_of: str, type_args: list[Any]
) -> tuple[list[Any], dict[int, Any]]:
    """Claim ordinary ready tasks (not suspects), shared out between the jobs."""
    # The first `c.free` running jobs with room and a task ready, fewest running first: a
    # slot freed one at a time goes to the job with the smallest share, so the oldest job
    # does not take every slot that frees. The partial index jobs_claimable walks them in
    # that order and stops after that many (a claim costs the slots it fills, not the
    # backlog); tasks_pending finds each one's ready task.
    jobs = con.execute(
        "SELECT id, parallel - running, timeout, params, type, type_hash FROM jobs "
        f"INDEXED BY jobs_claimable WHERE {CLAIMABLE_SQL} AND running < parallel{jobs_of} "
        f"AND EXISTS ({ORDINARY_READY}) ORDER BY running, id LIMIT ?",
        (*type_args, now, c.free),
    ).fetchall()
    room = {r[0]: r[1] for r in jobs}
    extra = {r[0]: (r[2], r[3], r[4], r[5]) for r in jobs}  # params decoded once claimed
    rows: list[Any] = []
    left = c.free
    for _ in range(4):  # a job that had fewer ready tasks than its share gives it up
        shares = share_out(room, left)
        if not shares:
            break
        got = _claim_shares(con, shares, c.owner, c.agent, now, c.lease)
        rows += got
        left -= len(got)
        taken = Counter(r[1] for r in got)
        for job_id, n in shares.items():
            room[job_id] = room[job_id] - n if taken[job_id] == n else 0
        if left <= 0 or len(got) == sum(shares.values()):
            break
    return rows, extra


def _claim_shares(
    con: sqlite3.Connection,
    shares: dict[int, int],
    owner: str,
    agent: str,
    now: float,
    lease: float,
) -> list[Any]:
    """Claim the first `n` ready tasks of each job in `shares` (job id -> n): one
    UPDATE … RETURNING per 200 jobs, each job's tasks found through tasks_pending."""
    out: list[Any] = []
    items = list(shares.items())
    for i in range(0, len(items), 200):  # SQLite allows 500 terms in a compound SELECT
        part = items[i : i + 200]
        pick = " UNION ALL ".join(
            "SELECT id FROM (SELECT id FROM tasks WHERE job_id = ? AND status = 'pending' "
            "AND not_before <= ? AND lost = 0 ORDER BY id LIMIT ?)"
            for _ in part
        )
        out += con.execute(
            f"UPDATE tasks SET {CLAIM_SET} WHERE id IN ({pick}) RETURNING {CLAIM_RETURNING}",
            (owner, agent, now + lease, now, *(x for j, n in part for x in (j, now, n))),
        ).fetchall()
    return out


def share_out(room: dict[int, int], n: int) -> dict[int, int]:
    """Deal `n` claims to jobs in turn (job id -> room left, in the order to serve them),
    each within its room."""
    shares = dict.fromkeys(room, 0)
    turn = [j for j, r in room.items() if r > 0]
    while n > 0 and turn:
        again = []
        for j in turn:
            if n <= 0:
                break
            shares[j] += 1
            n -= 1
            if shares[j] < room[j]:
                again.append(j)
        turn = again
    return {j: k for j, k in shares.items() if k}


def types_sql(types: Collection[str] | None) -> tuple[str, list[Any]]:
    """The condition keeping the jobs of these type hashes (None: any), and its arguments.
    Not for an empty collection: its callers claim nothing then, without a query."""
    if types is None:
        return "", []
    return f" AND type_hash IN ({qmarks(types)})", list(types)
