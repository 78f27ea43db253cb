"""Claims of the SQLite store: who runs a task, fenced. Claiming ready tasks (one
`UPDATE … WHERE id IN (SELECT …) RETURNING …` per batch of jobs, shared out between them),
recording outcomes (fenced on task id, attempt, owner and status = running), giving claims
back, and recovering the tasks of agents that died (their leases ran out).

What an outcome or a death does to a task is `core.lifecycle`'s decision (`after_failure`,
`judge`, `suspect_way`); this module applies it in the transaction that read what it needs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Any

from jobdash.core.lifecycle import QUARANTINE_AFTER, LostTask, after_failure, judge, suspect_way
from jobdash.core.model import TaskStatus
from jobdash.core.store.records import Claim, Claimant, Outcome
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.failures import Failed, record_failures
from jobdash.core.store.sqlite.counts import Counts, apply_counts
from jobdash.core.store.sqlite.db import Db, qmarks

# What a claim sets on a task, and what it returns.
CLAIM_SET = (
    "status = 'running', attempt = attempt + 1, owner = ?, agent = ?, lease_until = ?, "
    "started = ?, finished = NULL, exit_code = NULL, error = '', progress = 0, pgid = NULL"
)
CLAIM_RETURNING = "id, job_id, seq, name, kind, spec, item, attempt, lost"
# The first suspect task ready to run alone (`%s`: the claimant's type filter), since when it
# is ready, and its job's id, timeout, params, type and type hash; found through the (nearly
# empty) tasks_suspect index.
SUSPECT_READY = (
    "SELECT t.id, t.not_before, j.id, j.timeout, j.params, j.type, j.type_hash FROM tasks t "
    "INDEXED BY tasks_suspect JOIN jobs j ON j.id = t.job_id "
    "WHERE t.status = 'pending' AND t.lost > 0 AND t.not_before <= ? "
    "AND j.status = 'running' AND j.running < j.parallel%s ORDER BY t.id LIMIT 1"
)
# An ordinary task of `jobs` ready to run (inside EXISTS).
ORDINARY_READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= ? AND t.lost = 0"
)


class Claims:
    """Claiming tasks, recording their outcomes, and recovering lost ones."""

    db: Db

    async def claim(self, who: Claimant | Callable[[], Claimant | None]) -> list[Claim]:
        """Claim up to `who.free` pending tasks of running jobs, within each job's
        `parallel`, of the job types whose hashes are in `who.types` (None: any; an agent
        passes its own catalogue's). A suspect task (see `lifecycle.suspect_way`) is claimed
        alone, by an idle claimant. `who` may be a function, asked inside the transaction:
        an agent's free slots counted there cannot be taken meanwhile by a refill (see
        `Refill`)."""
        if isinstance(who, Claimant) and who.free <= 0:
            return []

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[Claim]:
            c = who if isinstance(who, Claimant) else who()
            if c is None or c.free <= 0:
                return []
            return claim_in(con, rev, now, c)

        return await self.db.write(txn, inline=True)

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        """Give back claims without counting an attempt (graceful shutdown)."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            rows = con.execute(
                "UPDATE tasks SET status = 'pending', owner = NULL, lease_until = NULL, "
                f"attempt = attempt - 1 WHERE owner = ? AND status = 'running' "
                f"AND id IN ({qmarks(task_ids)}) RETURNING job_id",
                (owner, *task_ids),
            ).fetchall()
            counts = Counts()
            for (job_id,) in rows:
                counts.move(job_id, "running", "pending")
            apply_counts(con, rev, now, counts)

        if task_ids:
            await self.db.write(txn)

    async def recover_lost(self, quarantine_after: int = QUARANTINE_AFTER) -> int:
        """The tasks of agents whose leases ran out (they died or hung): every running task
        of such an agent, at once, as one death. Each runs again (alone: see
        `lifecycle.judge`) while retries remain, else fails with "agent lost"; a task charged
        with `quarantine_after` deaths is failed as quarantined and not claimed again.
        Returns how many tasks were recovered."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> int:
            rows = con.execute(
                "SELECT t.owner, t.id, t.job_id, t.seq, t.name, t.attempt, t.base_attempt, "
                "j.retries, j.status, t.lost, t.charged, t.agent FROM tasks t "
                "JOIN jobs j ON j.id = t.job_id WHERE t.status = 'running' AND t.owner IN "
                "(SELECT owner FROM tasks WHERE status = 'running' AND lease_until < ?) "
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
                        "UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL, "
                        "error = ?, finished = ?, lost = ?, charged = ?, not_before = ?, "
                        "charged_by = CASE WHEN ? THEN ? ELSE charged_by END WHERE id = ?",
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
                        "VALUES (?, ?, ?, 'system', ?, ?)",
                        (t.job_id, t.task_id, now, v.text, t.attempt),
                    )
                    counts.move(t.job_id, "running", v.status)
                    if v.status is not TaskStatus.CANCELLED:  # the attempt failed: lost
                        failed.append((t.job_id, t.task_id, t.attempt, v.error))
            record_failures(SQLITE, con, now, failed)
            apply_counts(con, rev, now, counts)
            return len(rows)

        return await self.db.write(txn)

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        """Agents of this host whose process is gone (kill -9, crash): end their leases now
        so `recover_lost` takes their tasks at once instead of when the lease runs out, and
        show them offline. Returns their names, their owner ids and the process groups
        recorded for their running command attempts (the caller kills what they left
        running). A pid reused by another process only delays this to the lease bound."""
        rows = await self.db.reader.execute_fetchall(
            "SELECT name, owner, pid FROM agents WHERE host = ? AND state != 'offline'", (host,)
        )
        dead = [(n, o) for n, o, pid in rows if pid != os.getpid() and not alive(pid)]
        if not dead:
            return [], [], []
        pgids: list[int] = []

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            for name, owner in dead:
                rows = con.execute(
                    "UPDATE tasks SET lease_until = 0 WHERE owner = ? AND status = 'running' "
                    "RETURNING pgid",
                    (owner,),
                ).fetchall()
                pgids.extend(r[0] for r in rows if r[0])
                con.execute(
                    "UPDATE agents SET state = 'offline', rev = ? WHERE name = ? AND owner = ?",
                    (rev, name, owner),
                )

        await self.db.write(txn)
        return [n for n, _ in dead], [o for _, o in dead], pgids


def claim_in(con: sqlite3.Connection, rev: int, now: float, c: Claimant) -> list[Claim]:
    """Claim for `c` inside a transaction (a claim, or the refill of a flush)."""
    if c.types is not None and not c.types:
        return []  # an engine with no job types runs nothing (and `IN ()` has no plan)
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
    decoded: dict[int, Any] = {}  # each claimed job's params, decoded once
    claims = []
    counts = Counts()
    for r in sorted(rows, key=lambda r: (r[1], r[0])):
        counts.move(r[1], "pending", "running")
        cl = Claim(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7])
        timeout, params, cl.type, cl.type_hash = extra[cl.job_id]
        if cl.job_id not in decoded:
            decoded[cl.job_id] = json.loads(params)
        cl.timeout, cl.params = timeout, decoded[cl.job_id]
        cl.alone = r[8] > 0
        claims.append(cl)
    apply_counts(con, rev, now, counts, claim=True)  # also starts the jobs' time
    return claims


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
        f"INDEXED BY jobs_claimable WHERE status = 'running' AND running < parallel{jobs_of} "
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


def complete_in(
    con: sqlite3.Connection, rev: int, now: float, outcomes: list[Outcome]
) -> list[bool]:
    """Record outcomes inside a transaction (the batched writer's); each is accepted only
    while its attempt is still the running one of its owner (fenced)."""
    ids = [o.task_id for o in outcomes]
    rows = con.execute(
        "SELECT t.id, t.job_id, t.attempt, t.owner, t.status, t.base_attempt, j.retries, "
        "j.backoff, j.status, t.name FROM tasks t JOIN jobs j ON j.id = t.job_id "
        f"WHERE t.id IN ({qmarks(ids)})",
        ids,
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
    con.executemany(
        "UPDATE tasks SET status = ?, finished = ?, exit_code = ?, error = ?, not_before = ?, "
        "owner = NULL, lease_until = NULL WHERE id = ?",
        updates,
    )
    if system_lines:
        con.executemany(
            "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            system_lines,
        )
    record_failures(SQLITE, con, now, failed)
    apply_counts(con, rev, now, counts)
    return accepted


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
