"""What a new job writes, in both stores: its row, its lock keys, its report and its audit
row, the refusals of a job that may not be created, and whether it is created running
(`Creating`). Written once so that a column added
to a job, or a refusal, is not added twice; what differs stays with each backend's
`insert_job`: how a duplicate (schedule, fire time) is caught (SQLite's IntegrityError
inside the submission's savepoint, PostgreSQL's UniqueViolation inside its own) and how the
tasks go in (executemany against COPY).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.lifecycle import admitted_at_submit, refuse_lock
from jobdash.core.model import Refused
from jobdash.core.store.sql.catalogue import live_catalogue_in
from jobdash.core.store.sql.counts import ACTIVE_ONLY, COUNTS
from jobdash.core.store.sql.dialect import Connection, Dialect, Statements

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import NewJob
    from jobdash.core.store.side_records import Published

JOB_COLUMNS = (
    'type, params, "user", trigger, schedule_id, fire_time, status, admitted, created, '
    "updated, pending, target, parallel, cancellable, on_lock, timeout, retries, backoff, "
    "info, rev, type_hash, finalize"
)
JOB = f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * 22)})"
Q = Statements(
    job=JOB,  # SQLite: the row id is the cursor's, free; a RETURNING row costs ~12 µs a job
    job_returning=JOB + " RETURNING id",
    # SQLite's bulk insert: ids given (see sqlite/submits.py's `insert_jobs`).
    job_with_id=f"INSERT INTO jobs (id, {JOB_COLUMNS}) VALUES ({', '.join('?' * 23)})",
    last_id="SELECT coalesce(max(id), 0) FROM jobs",
    lock="INSERT INTO job_locks (job_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
    report="INSERT INTO reports (job_id, state, recipients) VALUES (?, 'pending', ?)",
    holders="SELECT key, job_id FROM locks WHERE job_id {distinct} CAST(? AS BIGINT) AND ",
    # The jobs not admitted yet (queued or waiting) that need one of these keys; the few
    # active jobs lead, each probing its own keys (job_locks' primary key).
    awaiting="SELECT k.key, j.id FROM jobs j JOIN job_locks k ON k.job_id = j.id "
    f"WHERE j.status IN ('queued', 'waiting') AND {ACTIVE_ONLY} AND k.",
    # A queued job, ahead of any new one (one entry of jobs_active, whatever the backlog).
    queued=f"SELECT 1 FROM jobs WHERE status = 'queued' AND {ACTIVE_ONLY} LIMIT 1",
)


class Creating:
    """One transaction's new jobs: its connection, revision and time, who writes them
    (`actor`, named in their audit rows), and which are created running (`admitted`, as
    `lifecycle.admitted_at_submit` decides): what that rule needs is read once a transaction,
    when a job may be (one without a `live_after`, or with lock keys, is queued without a
    read). Once one job of the transaction is queued, those after it are too: it is ahead
    of them."""

    def __init__(self, d: Dialect, con: Connection, rev: int, now: float, actor: str) -> None:
        self.d, self.rev, self.now, self.actor = d, rev, now, actor
        self.con: Any = con  # the backend's own: its insert_job uses more of it
        self.queued_ahead: bool | None = None
        self.live: list[Published] | None = None  # read once a transaction
        self.runnable: dict[tuple[str, str | None], bool] = {}

    def admitted(self, nj: NewJob) -> bool:
        if nj.live_after is None or not nj.tasks or self.queued_ahead:
            admitted = False  # (a job without tasks is settled by admission: it goes there)
        else:
            if self.queued_ahead is None:
                self.queued_ahead = bool(self.con.execute(Q[self.d].queued).fetchall())
            if self.live is None:  # the first job's: those batched with it came ms apart
                self.live = live_catalogue_in(self.d, self.con, nj.live_after)
            if (nj.type, nj.type_hash) not in self.runnable:  # one answer a type and hash
                why = unrunnable(nj.type, nj.type_hash, self.live)
                self.runnable[nj.type, nj.type_hash] = bool(self.live) and why is None
            runnable = self.runnable[nj.type, nj.type_hash]
            admitted = admitted_at_submit(bool(nj.lock_keys), self.queued_ahead, runnable)
        if not admitted:
            self.queued_ahead = True
        return admitted


def may_refuse(nj: NewJob) -> bool:
    """Whether the store may refuse this job at submit: a second job of a (schedule, fire
    time), or a lock held with on_lock = "refuse". Another is refused by no rule."""
    return nj.schedule_id is not None or (nj.on_lock == "refuse" and bool(nj.lock_keys))


def refuse_held(d: Dialect, con: Connection, nj: NewJob) -> None:
    """With on_lock = "refuse", Refused for a job whose lock another job holds, or awaits
    ahead of it (admission would give that job the key first: the new one would wait). On a
    shared PostgreSQL store a user sees only the waiting jobs row-level security shows them
    (the engine, which fires schedules, sees all); a job they cannot see makes theirs wait."""
    if nj.on_lock != "refuse" or not nj.lock_keys:
        return
    held = holders(d, con, nj.lock_keys, None)
    if held:
        raise refuse_lock(nj.type, *held[0])
    among, args = d.among("key", nj.lock_keys)
    awaited = con.execute(Q[d].awaiting + among + " ORDER BY j.id LIMIT 1", args).fetchone()
    if awaited is not None:
        raise refuse_lock(nj.type, awaited[0], awaited[1], held=False)


def holders(d: Dialect, con: Connection, keys: Sequence[str], job_id: int | None) -> list[Any]:
    """Who holds these lock keys: (key, job id), other than `job_id`, by key."""
    among, args = d.among("key", keys)
    rows = con.execute(Q[d].holders + among + " ORDER BY key", (job_id, *args)).fetchall()
    return [(r[0], r[1]) for r in rows]


def insert_row(c: Creating, nj: NewJob) -> int:
    """The job's row, queued or running (see `Creating`); returns its id."""
    values = row_values(c, nj)
    if c.d.name == "sqlite":
        return int(c.con.execute(Q[c.d].job, values).lastrowid)
    return int(c.con.execute(Q[c.d].job_returning, values).fetchone()[0])


def row_values(c: Creating, nj: NewJob) -> tuple[Any, ...]:
    """A new job's row (`JOB_COLUMNS`)."""
    admitted, now = c.admitted(nj), c.now
    return (
        nj.type,
        json.dumps(nj.params) if nj.params else "{}",
        nj.user,
        str(nj.trigger),
        nj.schedule_id,
        nj.fire_time,
        "running" if admitted else "queued",
        int(admitted),
        now,
        now,
        len(nj.tasks),
        nj.target,
        nj.parallel,
        int(nj.cancellable),
        nj.on_lock,
        nj.timeout,
        nj.retries,
        nj.backoff,
        nj.info,
        c.rev,
        nj.type_hash,
        0 if nj.finalize else None,  # 0: a finalize step to add after the last task
    )


def fire_time_taken(nj: NewJob) -> Refused:
    """The refusal of a second job for a (schedule, fire time)."""
    return Refused(f"schedule {nj.schedule_id} already started a job for that fire time")


def insert_rest(c: Creating, made: Sequence[tuple[int, NewJob, str | None]]) -> None:
    """What jobs have besides their rows and tasks (`made`: id, job, audit user): their lock
    keys, reports and audit rows, one statement of each kind."""
    d, con = c.d, c.con
    q = Q[d]
    locks = [(job_id, k) for job_id, nj, _u in made for k in nj.lock_keys]
    if locks:
        d.many(con, q.lock, locks)
    reports = [
        (job_id, json.dumps(nj.report)) for job_id, nj, _u in made if any(nj.report.values())
    ]
    if reports:
        d.many(con, q.report, reports)
    audits = [(c.now, user, "run", f"job:{job_id}", nj.type) for job_id, nj, user in made if user]
    if audits:
        COUNTS[d.name].audit_rows(con, c.actor, audits)
