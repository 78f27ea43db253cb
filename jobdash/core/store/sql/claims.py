"""What the two backends' claims share: recording outcomes (fenced on task id, attempt, owner
and status = running), turning claimed rows into `Claim`s, giving claims back, and
recovering the tasks of agents that died (their leases ran out). Claiming itself is each
backend's own (SQLite's `UPDATE … RETURNING` per batch of jobs, PostgreSQL's CTE with `FOR
UPDATE SKIP LOCKED`), as is how a claim waits for the outcomes a batch is writing.

What an outcome or a death does to a task is `core.lifecycle`'s decision (`after_failure`,
`judge`); this module applies it in the transaction that read what it needs.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.lifecycle import after_failure, released
from jobdash.core.model import TaskStatus
from jobdash.core.store.sql.counts import COUNTS, KNOWN_COLUMNS, Counts, Known, known_of
from jobdash.core.store.sql.dialect import Connection, Dialect, Reading, Statements
from jobdash.core.store.sql.failures import Failed, record_failures
from jobdash.core.store.sql.task_values import stored_value

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Claim, Outcome

# What a claim returns of a task (`claims_of` reads these columns first).
CLAIM_RETURNING = "id, job_id, seq, name, kind, spec, item, attempt, lost"

Q = Statements(
    # The rows an outcome is fenced on (PostgreSQL locks them: `Dialect.lock_tasks`).
    fenced="SELECT t.id, t.job_id, t.attempt, t.owner, t.status, t.base_attempt, j.retries, "
    f"j.backoff, j.status, t.name, {KNOWN_COLUMNS} FROM tasks t JOIN jobs j ON j.id = t.job_id "
    "WHERE ",
    outcome="UPDATE tasks SET status = ?, finished = ?, exit_code = ?, error = ?, "
    "not_before = ?, owner = NULL, lease_until = NULL WHERE id = ?",
    # The same for a whole batch, its columns as arrays (`Dialect.arrays`).
    outcomes="UPDATE tasks SET status = v.status, finished = v.finished, "
    "exit_code = v.exit_code, error = v.error, not_before = v.not_before, owner = NULL, "
    "lease_until = NULL FROM unnest(CAST({array} AS TEXT[]), "
    "CAST({array} AS DOUBLE PRECISION[]), CAST({array} AS INTEGER[]), "
    "CAST({array} AS TEXT[]), CAST({array} AS DOUBLE PRECISION[]), "
    "CAST({array} AS BIGINT[])) AS v (status, finished, exit_code, error, not_before, id) "
    "WHERE tasks.id = v.id",
    # Outcomes alike (status, exit code, error), of one owner and attempt, ended as they say,
    # fenced in the statement that writes them (`complete_fenced`); followed by `among`.
    fenced_outcome="UPDATE tasks SET status = ?, finished = ?, exit_code = ?, error = ?, "
    "not_before = 0, owner = NULL, lease_until = NULL WHERE status = 'running' "
    "AND owner = ? AND attempt = ? AND ",
    system_line="INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
    "VALUES (?, ?, ?, ?, ?, ?)",
    # The claims to give back that are still the owner's, with their jobs' status.
    releasing="SELECT t.id, t.job_id, j.status FROM tasks t JOIN jobs j ON j.id = t.job_id "
    "WHERE t.owner = ? AND t.status = 'running' AND ",
    # A first attempt given back leaves the task as never run: no agent, no start.
    release="UPDATE tasks SET status = ?, finished = ?, owner = NULL, lease_until = NULL, "
    "agent = CASE WHEN attempt = 1 THEN NULL ELSE agent END, "
    "started = CASE WHEN attempt = 1 THEN NULL ELSE started END, "
    "attempt = attempt - 1 WHERE id = ?",
    lost="SELECT t.owner, t.id, t.job_id, t.seq, t.name, t.attempt, t.base_attempt, "
    "j.retries, j.status, t.lost, t.charged, t.agent FROM tasks t "
    "JOIN jobs j ON j.id = t.job_id WHERE t.status = 'running' AND t.owner IN "
    "(SELECT owner FROM tasks WHERE status = 'running' AND lease_until < ?) "
    "ORDER BY t.job_id, t.seq",
    recovered="UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL, "
    "error = ?, finished = ?, lost = ?, charged = ?, not_before = ?, "
    "charged_by = CASE WHEN ? THEN ? ELSE charged_by END WHERE id = ?",
    recovery_line="INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
    "VALUES (?, ?, ?, 'system', ?, ?)",
    agents_of="SELECT name, owner, pid FROM agents WHERE host = ? AND state != 'offline'",
    expire="UPDATE tasks SET lease_until = 0 WHERE owner = ? AND status = 'running' RETURNING pgid",
    offline="UPDATE agents SET state = 'offline', rev = ? WHERE name = ? AND owner = ?",
)


def complete_in(
    d: Dialect,
    con: Connection,
    rev: int,
    now: float,
    outcomes: list[Outcome],
    lock_jobs: Callable[[Connection, list[int]], dict[int, Known] | None] | None = None,
) -> list[bool]:
    """Record outcomes inside a transaction (the batched writer's); each is accepted only
    while its attempt is still the running one of its owner (fenced). `lock_jobs`: given
    the outcomes' tasks, it locks every job row the transaction will write, in id order,
    before anything is read or written (PostgreSQL's writers side by side: see its
    flusher), so that the fenced read below reads each job's counters as they are now, not
    as another batch running beside this one left them (its `Known` decides the job's end).
    It returns the jobs' `Known` as it locked them: then outcomes that need no decision on
    their task's row are written by `complete_fenced`, without the fenced read."""
    q = Q[d]
    task_ids = [o.task_id for o in outcomes]
    locked = lock_jobs(con, task_ids) if lock_jobs is not None else None
    if (
        locked is not None
        and len(set(task_ids)) == len(task_ids)
        and all(o.status in ENDED_AS_SAID for o in outcomes)
    ):  # no failure, no task twice: fenced by the statements that write them
        return complete_fenced(d, con, rev, now, outcomes, locked)
    among, args = d.among("t.id", task_ids)
    rows = con.execute(q.fenced + among + d.lock_tasks, args).fetchall()
    current: dict[int, tuple[Any, ...]] = {r[0]: tuple(r[:10]) for r in rows}
    # each job as read before these outcomes (its columns alike in each of its rows)
    known = {job_id: known_of(r[10:]) for job_id, r in {r[1]: r for r in rows}.items()}
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
            fate = after_failure(name, attempt, base, retries, backoff, job_status, o.error, now)
            if fate.delay is not None:
                new = TaskStatus.PENDING
                not_before = now + fate.delay
            system_lines.append((job_id, o.task_id, now, "system", fate.line, attempt))
        finished = None if new is TaskStatus.PENDING else float(now)
        word = str(new)
        updates.append((word, finished, o.exit_code, o.error, float(not_before), o.task_id))
        counts.move(job_id, "running", word)
        del current[o.task_id]  # a second outcome of it in this batch is not the running one
    if updates and d.arrays and len({u[:-1] for u in updates}) > 1:
        con.execute(q.outcomes, [list(column) for column in zip(*updates, strict=True)])
    elif updates:  # most outcomes of a batch alike (succeeded, now): one statement
        # (PostgreSQL: `id = ANY(…)` when all are alike, ~4 µs a task less on the server
        # than joining six arrays, and one array to send instead of six)
        d.by_key(con, q.outcome, updates)
    if system_lines:
        d.many(con, q.system_line, system_lines)
    record_failures(d, con, now, failed)
    COUNTS[d.name].apply_counts(con, rev, now, counts, known=known)
    return accepted


# The outcomes recorded as they say, with no decision on the task's row to read first (a
# failure's retry reads its job's retries and the task's attempts).
ENDED_AS_SAID = frozenset({TaskStatus.SUCCEEDED, TaskStatus.CANCELLED})


def complete_fenced(
    d: Dialect,
    con: Connection,
    rev: int,
    now: float,
    outcomes: list[Outcome],
    known: dict[int, Known],
) -> list[bool]:
    """`complete_in` for outcomes that are `ENDED_AS_SAID`, of distinct tasks, whose jobs'
    rows are locked and `known` (PostgreSQL's batches, see its flusher): each group of alike
    outcomes (one owner, attempt, status, exit code and error: mostly the whole batch) is
    fenced and written by one UPDATE, which returns the tasks it accepted. No read of the
    tasks before, and no lock of their rows but the update's own."""
    q = Q[d]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for o in outcomes:
        key = (str(o.status), now, o.exit_code, o.error, o.owner, o.attempt)
        groups.setdefault(key, []).append(o.task_id)
    accepted_ids: set[int] = set()
    counts = Counts()
    for key, ids in groups.items():
        among, args = d.among("id", ids)
        rows = con.execute(q.fenced_outcome + among + " RETURNING id, job_id", (*key, *args))
        found = rows.fetchall()
        accepted_ids.update(r[0] for r in found)
        for job_id, n in Counter(r[1] for r in found).items():
            counts.move(job_id, "running", key[0], n)
    COUNTS[d.name].apply_counts(con, rev, now, counts, known=known)
    return [o.task_id in accepted_ids for o in outcomes]


def claims_of(
    d: Dialect, con: Connection, rev: int, now: float, rows: Sequence[Any], jobs: dict[int, Any]
) -> list[Claim]:
    """The claims of the claimed `rows` (CLAIM_RETURNING's columns), in job and task order,
    with their jobs' (timeout, params, type, type hash) from `jobs`; counts them and starts
    their jobs' time, in the claim's transaction."""
    from jobdash.core.store.engine_records import Claim  # not loaded by a read

    decoded: dict[int, Any] = {}  # each claimed job's params, decoded once
    claims = []
    counts = Counts()
    per_job = Counter(r[1] for r in rows)  # counted by job, not by task
    for r in sorted(rows, key=lambda r: (r[1], r[0])):
        job_id = r[1]
        timeout, params, type_name, type_hash = jobs[job_id]
        if job_id not in decoded:
            decoded[job_id] = {} if params == "{}" else json.loads(params)
            counts.move(job_id, "pending", "running", per_job[job_id])
        claims.append(
            Claim(
                r[0],
                job_id,
                r[2],
                r[3],
                r[4],
                stored_value(r[5]),
                stored_value(r[6]),
                r[7],
                timeout,
                decoded[job_id],
                type_name,
                type_hash,
                r[8] > 0,
            )
        )
    COUNTS[d.name].apply_counts(con, rev, now, counts, claim=True)  # also starts the jobs' time
    return claims


class Claims:
    """Giving claims back and recovering lost ones (claiming is the backend's)."""

    db: Reading

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        """Give back claims without counting an attempt (a graceful stop, a forfeit): each
        task as `lifecycle.released` says, and its job settles if that was its last."""
        d = self.db.dialect

        def txn(con: Connection, rev: int, now: float) -> None:
            among, args = d.among("t.id", task_ids)
            rows = con.execute(Q[d].releasing + among + d.lock_tasks, (owner, *args)).fetchall()
            counts = Counts()
            updates = []
            for task_id, job_id, job_status in rows:
                new = released(job_status)
                updates.append((str(new), None if new is TaskStatus.PENDING else now, task_id))
                counts.move(job_id, "running", str(new))
            d.many(con, Q[d].release, updates)
            COUNTS[d.name].apply_counts(con, rev, now, counts)

        if task_ids:
            await self.db.write(txn, work=True)

    async def recover_lost(self, quarantine_after: int | None = None) -> int:
        """The tasks of agents whose leases ran out (they died or hung): every running task
        of such an agent, at once, as one death. Each runs again (alone: see
        `deaths.judge`) while retries remain, else fails with "agent lost"; a task charged
        with `quarantine_after` deaths (None: `deaths.QUARANTINE_AFTER`) is failed as
        quarantined and not claimed again. Returns how many tasks were recovered."""
        from jobdash.core.deaths import QUARANTINE_AFTER, LostTask, judge  # not loaded by a read

        quarantine = QUARANTINE_AFTER if quarantine_after is None else quarantine_after
        d = self.db.dialect
        q = Q[d]

        def txn(con: Connection, rev: int, now: float) -> int:
            rows = con.execute(q.lost, (now,)).fetchall()
            deaths: dict[str, list[LostTask]] = defaultdict(list)
            for owner, *rest in rows:
                deaths[owner].append(LostTask(*rest))
            counts = Counts()
            failed: list[Failed] = []
            for owner, death in deaths.items():
                for t, v in zip(death, judge(death, quarantine), strict=True):
                    con.execute(
                        q.recovered,
                        (
                            str(v.status),
                            v.error,
                            None if v.status is TaskStatus.PENDING else now,
                            v.lost,
                            v.charged,
                            now,  # a suspect is ready from now (see deaths.SUSPECT_DRAIN)
                            v.charged > t.charged,
                            owner,
                            t.task_id,
                        ),
                    )
                    con.execute(q.recovery_line, (t.job_id, t.task_id, now, v.text, t.attempt))
                    counts.move(t.job_id, "running", v.status)
                    if v.status is not TaskStatus.CANCELLED:  # the attempt failed: lost
                        failed.append((t.job_id, t.task_id, t.attempt, v.error))
            record_failures(d, con, now, failed)
            COUNTS[d.name].apply_counts(con, rev, now, counts)
            return len(rows)

        return await self.db.write(txn, work=True)

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        """Agents of this host whose process is gone (kill -9, crash): end their leases now
        so `recover_lost` takes their tasks at once instead of when the lease runs out, and
        show them offline. Returns their names, their owner ids and the process groups
        recorded for their running command attempts (the caller kills what they left
        running). A pid reused by another process only delays this to the lease bound."""
        q = Q[self.db.dialect]
        rows = await self.db.fetchall(q.agents_of, (host,))
        dead = [(n, o) for n, o, pid in rows if pid != os.getpid() and not alive(pid)]
        if not dead:
            return [], [], []
        pgids: list[int] = []

        def txn(con: Connection, rev: int, now: float) -> None:
            for name, owner in dead:
                found = con.execute(q.expire, (owner,)).fetchall()
                pgids.extend(r[0] for r in found if r[0])
                con.execute(q.offline, (rev, name, owner))

        await self.db.write(txn)
        return [n for n, _ in dead], [o for _, o in dead], pgids
