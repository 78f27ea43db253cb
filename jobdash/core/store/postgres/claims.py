"""Claims of the PostgreSQL store: who runs a task, fenced. Claiming ready tasks (one
statement per batch: a CTE picks each running job's first ready tasks within its `parallel`,
`FOR UPDATE SKIP LOCKED`, deals them out between the jobs and `UPDATE … RETURNING` takes
them), recording outcomes (fenced on task id, attempt, owner and status = running), giving
claims back, and recovering the tasks of agents that died (their leases ran out).

What an outcome or a death does to a task is `core.lifecycle`'s decision (`after_failure`,
`judge`, `suspect_way`); this module applies it in the transaction that read what it needs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Any

from jobdash.core.lifecycle import QUARANTINE_AFTER, LostTask, after_failure, judge, suspect_way
from jobdash.core.model import TaskStatus
from jobdash.core.store.postgres.counts import END_IDLE, Con, Counts, apply_counts
from jobdash.core.store.postgres.db import Db, NotReady
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.store.records import Claim, Claimant, Outcome
from jobdash.core.store.sql.dialect import POSTGRES
from jobdash.core.store.sql.failures import Failed, record_failures

# What a claim sets on a task, and what it returns (with its job's timeout, params, type
# and type hash).
CLAIM_SET = (
    "status = 'running', attempt = tasks.attempt + 1, owner = %s, agent = %s, "
    "lease_until = %s, started = %s, finished = NULL, exit_code = NULL, error = '', "
    "progress = 0, pgid = NULL"
)
CLAIM_RETURNING = (
    "tasks.id, tasks.job_id, tasks.seq, tasks.name, tasks.kind, tasks.spec, tasks.item, "
    "tasks.attempt, tasks.lost, j.timeout, j.params, j.type, j.type_hash"
)
# The first suspect task ready to run alone (`%s`: the claimant's type filter), since when
# it is ready.
SUSPECT_READY = (
    "SELECT t.id, t.not_before FROM tasks t JOIN jobs j ON j.id = t.job_id "
    "WHERE t.status = 'pending' AND t.lost > 0 AND t.not_before <= %s "
    "AND j.status = 'running' AND j.running < j.parallel{types} ORDER BY t.id LIMIT 1"
)
# An ordinary task of `jobs` ready to run (inside EXISTS).
ORDINARY_READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= %s AND t.lost = 0"
)
# Ordinary ready tasks for one claimant, in one statement. `room`: the running jobs with
# room, fewest running first (a slot freed one at a time goes to the job with the smallest
# share); `ready`: each one's first ready tasks within its room, locked (SKIP LOCKED: a
# claimant never waits for another's pick); `pick`: dealt out in turns, one task per job
# per turn, up to the limit. Parameters: the type hashes (when filtered), now, the limit
# twice, then CLAIM_SET's.
CLAIM_READY = (
    "WITH room AS MATERIALIZED (SELECT id, parallel - running AS room, running FROM jobs "
    f"WHERE status = 'running' AND {ACTIVE_ONLY} AND running < parallel{{types}}), "
    "ready AS MATERIALIZED (SELECT r.id AS job_id, r.running, x.id, "
    "row_number() OVER (PARTITION BY r.id ORDER BY x.id) AS turn FROM room r "
    "CROSS JOIN LATERAL (SELECT t.id FROM tasks t WHERE t.job_id = r.id "
    "AND t.status = 'pending' AND t.not_before <= %s AND t.lost = 0 ORDER BY t.id "
    "LIMIT least(r.room, %s) FOR UPDATE SKIP LOCKED) x), "
    "pick AS MATERIALIZED (SELECT id FROM ready ORDER BY turn, running, job_id LIMIT %s) "
    f"UPDATE tasks SET {CLAIM_SET} FROM pick, jobs j "
    f"WHERE tasks.id = pick.id AND j.id = tasks.job_id RETURNING {CLAIM_RETURNING}"
)
CLAIM_ONE = (
    f"UPDATE tasks SET {CLAIM_SET} FROM jobs j WHERE tasks.id = %s AND j.id = tasks.job_id "
    f"RETURNING {CLAIM_RETURNING}"
)


def types_sql(types: Collection[str] | None, column: str = "type_hash") -> tuple[str, list[Any]]:
    """The condition keeping the jobs of these type hashes (None: any), and its argument."""
    if types is None:
        return "", []
    return f" AND {column} = ANY(%s)", [list(types)]


class Claims:
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
                return await self.db.write(txn, ready)

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            rows = con.execute(
                "UPDATE tasks SET status = 'pending', owner = NULL, lease_until = NULL, "
                "attempt = attempt - 1 WHERE owner = %s AND status = 'running' "
                "AND id = ANY(%s) RETURNING job_id",
                (owner, list(task_ids)),
            ).fetchall()
            counts = Counts()
            for (job_id,) in rows:
                counts.move(job_id, "running", "pending")
            apply_counts(con, rev, now, counts)

        if task_ids:
            await self.db.write(txn)

    async def recover_lost(self, quarantine_after: int = QUARANTINE_AFTER) -> int:
        def txn(con: Con, rev: int, now: float) -> int:
            rows = con.execute(
                "SELECT t.owner, t.id, t.job_id, t.seq, t.name, t.attempt, t.base_attempt, "
                "j.retries, j.status, t.lost, t.charged, t.agent FROM tasks t "
                "JOIN jobs j ON j.id = t.job_id WHERE t.status = 'running' AND t.owner IN "
                "(SELECT owner FROM tasks WHERE status = 'running' AND lease_until < %s) "
                "ORDER BY t.job_id, t.seq",
                (now,),
            ).fetchall()
            deaths: dict[str, list[LostTask]] = defaultdict(list)
            for owner, *rest in rows:
                deaths[owner].append(LostTask(*rest))
            counts = Counts()
            failed: list[Failed] = []
            for owner, death in deaths.items():
                for t, v in zip(death, judge(death, quarantine_after), strict=True):
                    con.execute(
                        "UPDATE tasks SET status = %s, owner = NULL, lease_until = NULL, "
                        "error = %s, finished = %s, lost = %s, charged = %s, not_before = %s, "
                        "charged_by = CASE WHEN %s THEN %s ELSE charged_by END WHERE id = %s",
                        (
                            str(v.status),
                            v.error,
                            None if v.status is TaskStatus.PENDING else now,
                            v.lost,
                            v.charged,
                            now,  # a suspect is ready from now (see lifecycle.SUSPECT_DRAIN)
                            v.charged > t.charged,
                            owner,
                            t.task_id,
                        ),
                    )
                    con.execute(
                        "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                        "VALUES (%s, %s, %s, 'system', %s, %s)",
                        (t.job_id, t.task_id, now, v.text, t.attempt),
                    )
                    counts.move(t.job_id, "running", v.status)
                    if v.status is not TaskStatus.CANCELLED:  # the attempt failed: lost
                        failed.append((t.job_id, t.task_id, t.attempt, v.error))
            record_failures(POSTGRES, con, now, failed)
            apply_counts(con, rev, now, counts)
            return len(rows)

        return await self.db.write(txn)

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        rows = await self.db.fetchall(
            "SELECT name, owner, pid FROM agents WHERE host = %s AND state != 'offline'", (host,)
        )
        dead = [(n, o) for n, o, pid in rows if pid != os.getpid() and not alive(pid)]
        if not dead:
            return [], [], []
        pgids: list[int] = []

        def txn(con: Con, rev: int, now: float) -> None:
            for name, owner in dead:
                found = con.execute(
                    "UPDATE tasks SET lease_until = 0 WHERE owner = %s AND status = 'running' "
                    "RETURNING pgid",
                    (owner,),
                ).fetchall()
                pgids.extend(r[0] for r in found if r[0])
                con.execute(
                    "UPDATE agents SET state = 'offline', rev = %s WHERE name = %s AND owner = %s",
                    (rev, name, owner),
                )

        await self.db.write(txn)
        return [n for n, _ in dead], [o for _, o in dead], pgids


def claim_in(con: Con, rev: int, now: float, c: Claimant) -> list[Claim]:
    """Claim for `c` inside a transaction (a claim, or the refill of a flush)."""
    if c.types is not None and not c.types:
        return []  # an engine with no job types runs nothing
    jobs_of, type_args = types_sql(c.types, "j.type_hash")
    suspect = con.execute(SUSPECT_READY.format(types=jobs_of), (now, *type_args)).fetchall()
    way = suspect_way(suspect[0][1] if suspect else None, c.idle, now)
    if way == "drain":
        return []
    claim_args = (c.owner, c.agent, now + c.lease, now)
    if way == "alone":
        rows = con.execute(CLAIM_ONE, (*claim_args, suspect[0][0])).fetchall()
    else:
        jobs_of, type_args = types_sql(c.types)
        rows = con.execute(
            CLAIM_READY.format(types=jobs_of), (*type_args, now, c.free, c.free, *claim_args)
        ).fetchall()
    claims = []
    counts = Counts()
    for r in sorted(rows, key=lambda r: (r[1], r[0])):
        counts.move(r[1], "pending", "running")
        cl = Claim(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7])
        cl.timeout, cl.params, cl.type, cl.type_hash = r[9], json.loads(r[10]), r[11], r[12]
        cl.alone = r[8] > 0
        claims.append(cl)
    if claims:
        apply_counts(con, rev, now, counts)
        # A job's time starts with its first task; a retried job's gap since its last run
        # ends with the retry's first task. It no longer waits.
        con.execute(
            f"UPDATE jobs SET started = coalesce(started, %s), {END_IDLE}, waiting = '' "
            "WHERE id = ANY(%s) AND (started IS NULL OR paused_at IS NOT NULL OR waiting != '')",
            (now, now, list(counts.delta)),
        )
    return claims


def complete_in(con: Con, rev: int, now: float, outcomes: list[Outcome]) -> list[bool]:
    """Record outcomes inside a transaction (the batched writer's); each is accepted only
    while its attempt is still the running one of its owner (fenced)."""
    ids = [o.task_id for o in outcomes]
    rows = con.execute(
        "SELECT t.id, t.job_id, t.attempt, t.owner, t.status, t.base_attempt, j.retries, "
        "j.backoff, j.status, t.name FROM tasks t JOIN jobs j ON j.id = t.job_id "
        "WHERE t.id = ANY(%s) FOR UPDATE OF t",
        (ids,),
    ).fetchall()
    current: dict[int, tuple[Any, ...]] = {r[0]: tuple(r) for r in rows}
    counts = Counts()
    accepted: list[bool] = []
    updates: list[tuple[Any, ...]] = []
    system_lines: list[tuple[Any, ...]] = []
    failed: list[Failed] = []
    for o in outcomes:
        r = current.get(o.task_id)
        ok = r is not None and r[2] == o.attempt and r[3] == o.owner and r[4] == "running"
        accepted.append(ok)
        if not ok or r is None:
            continue
        _id, job_id, attempt, _owner, _st, base, retries, backoff, job_status, name = r
        new = o.status
        not_before = 0.0
        if new is TaskStatus.FAILED:
            failed.append((job_id, o.task_id, attempt, o.error))
        if new is TaskStatus.FAILED and (
            (again := after_failure(name, attempt, base, retries, backoff, job_status, o.error))
            is not None
        ):
            new = TaskStatus.PENDING
            not_before = now + again.delay
            system_lines.append((job_id, o.task_id, now, "system", again.line, attempt))
        updates.append(
            (
                str(new),
                None if new is TaskStatus.PENDING else now,
                o.exit_code,
                o.error,
                not_before,
                o.task_id,
            )
        )
        counts.move(job_id, "running", str(new))
        current[o.task_id] = (*r[:4], str(new), *r[5:])
    cur = con.cursor()
    if updates:
        cur.executemany(
            "UPDATE tasks SET status = %s, finished = %s, exit_code = %s, error = %s, "
            "not_before = %s, owner = NULL, lease_until = NULL WHERE id = %s",
            updates,
        )
    if system_lines:
        cur.executemany(
            "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            system_lines,
        )
    record_failures(POSTGRES, con, now, failed)
    apply_counts(con, rev, now, counts)
    return accepted
