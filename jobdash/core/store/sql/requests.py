"""The user's requests on a job (cancel, pause, resume, retry), a running job's own request
for more tasks (add_tasks) and the removal of finished jobs (clear, prune), written once for
both backends.

Whether a request is legal and what it does is `core.lifecycle`'s decision (`decide_*`,
`added_task_status`); each transaction reads what the decision needs, asks, and applies
the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.lifecycle import (
    added_task_status,
    decide_cancel,
    decide_pause,
    decide_resume,
    decide_retry,
)
from jobdash.core.model import FINISHED_JOB, Job, JobStatus, TaskStatus
from jobdash.core.store.sql.artifacts import Q as ARTIFACTS_Q
from jobdash.core.store.sql.artifacts import kept_files
from jobdash.core.store.sql.audit import write_audit
from jobdash.core.store.sql.counts import COUNT_COLUMNS, COUNTS, Counts, end_idle
from jobdash.core.store.sql.dialect import POSTGRES, SQLITE, Connection, Reading, Statements
from jobdash.core.store.sql.reads import read_job
from jobdash.core.store.sql.task_values import value_text
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import NewTask

FINISHED = [str(s) for s in FINISHED_JOB]
# The tasks a retry runs again.
RETRIABLE = "WHERE job_id = ? AND status IN ('failed', 'cancelled')"

Q = Statements(
    cancel="UPDATE jobs SET status = ?, force = {max}(force, ?), updated = ?, rev = ?, "
    "info = ? WHERE id = ?",
    cancel_tasks="UPDATE tasks SET status = 'cancelled', finished = ? "
    "WHERE job_id = ? AND status = 'pending'",
    # Its clock stops while it is paused; its line says who paused it.
    pause="UPDATE jobs SET paused_at = CASE WHEN started IS NULL THEN paused_at "
    "ELSE coalesce(paused_at, ?) END, waiting = ? WHERE id = ?",
    # On resume, the running tasks of the job (stopped since `paused_at`, or since they
    # started) add the span to their idle time, and their silence starts again: a task
    # stopped for an hour is not stalled the second it is resumed. Parameters: now, the
    # job's paused_at, now, the job.
    resume_tasks="UPDATE tasks SET idle_time = idle_time + {max}(0, ? - {max}(started, ?)), "
    "active = ? WHERE job_id = ? AND status = 'running' AND started IS NOT NULL",
    retriable=f"SELECT count(*) FROM tasks {RETRIABLE}",
    retry_tasks="UPDATE tasks SET status = 'pending', base_attempt = attempt, not_before = 0, "
    f"error = '', exit_code = NULL, finished = NULL {RETRIABLE}",
    # The job's finalize step, if it was added, is set aside (skipped) whatever its end: it
    # runs again, as a new attempt, once the retried tasks have ended (lifecycle).
    park_step="UPDATE tasks SET status = 'skipped' WHERE id = (SELECT finalize FROM jobs "
    "WHERE id = ?)",
    by_status="SELECT status, count(*) FROM tasks WHERE job_id = ? GROUP BY status",
    # Its clock stands still from its end until the retry's first task starts.
    retry="UPDATE jobs SET status = ?, paused_at = CASE WHEN started IS NULL "
    "THEN NULL ELSE finished END, finished = NULL, force = 0, "
    f"{', '.join(c + ' = ?' for c in COUNT_COLUMNS)}, info = ?, updated = ?, "
    "rev = ? WHERE id = ?",
    retry_log="INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, "
    "'system', ?)",
    # The run ends again later: its report goes out again then.
    retry_report="UPDATE reports SET state = 'pending', done = '[]', attempts = 0, "
    "next_try = 0, owner = NULL, claimed_until = NULL, sent = NULL, last_error = '' "
    "WHERE job_id = ?",
    finished='SELECT id, "user" FROM jobs WHERE ',
    removed='INSERT INTO removed (job_id, rev, "user") VALUES (?, ?, ?) '
    'ON CONFLICT (job_id) DO UPDATE SET rev = excluded.rev, "user" = excluded."user"',
    of_user='"user" = ?',
    before="finished < ?",
    # Each row takes the next free seq; a duplicate key is ignored and takes none.
    add_task="INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
    "VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks WHERE job_id = ?), "
    "?, ?, ?, ?, ?, 'pending') ON CONFLICT DO NOTHING",
    added_cancelled="UPDATE jobs SET cancelled = cancelled + ?, rev = ?, updated = ? WHERE id = ?",
    added_pending="UPDATE jobs SET pending = pending + ?, rev = ?, updated = ? WHERE id = ?",
)
END_PAUSE = {
    d.name: f"UPDATE jobs SET {end_idle(d)}, waiting = '' WHERE id = {d.mark}"
    for d in (SQLITE, POSTGRES)
}


class Requests:
    """Cancel, pause, resume and retry a job; add tasks to one; remove finished jobs."""

    db: Reading
    remove_files: Callable[[Sequence[Sequence[Any]]], None]  # the Artifacts area's

    async def cancel(self, job_id: int, user: str, force: bool = False) -> None:
        actor = self.db.actor
        d = self.db.dialect
        q = Q[d]
        c = COUNTS[d.name]

        def txn(con: Connection, rev: int, now: float) -> None:
            status, cancellable, type_, paused_at = c.job_row(
                con, job_id, "status, cancellable, type, paused_at"
            )
            plan = decide_cancel(job_id, type_, JobStatus(status), bool(cancellable), force, user)
            con.execute(q.cancel, (str(plan.status), int(plan.force), now, rev, plan.info, job_id))
            if plan.ends_pause:
                self._end_pause(con, job_id, paused_at, now)
            cur = con.execute(q.cancel_tasks, (now, job_id))
            counts = Counts()
            counts.move(job_id, "pending", "cancelled", cur.rowcount)
            c.audit_row(con, now, actor, user, plan.action, f"job:{job_id}")
            c.apply_counts(con, rev, now, counts)

        await self.db.write(txn)

    async def pause(self, job_id: int, user: str) -> None:
        from jobdash.core.waiting import paused_line  # not loaded by a read

        actor = self.db.actor
        q = Q[self.db.dialect]
        c = COUNTS[self.db.dialect.name]

        def txn(con: Connection, rev: int, now: float) -> None:
            new = decide_pause(job_id, c.job_status(con, job_id))
            c.set_status(con, rev, now, job_id, new)
            con.execute(q.pause, (now, paused_line(user), job_id))
            c.audit_row(con, now, actor, user, "pause", f"job:{job_id}")

        await self.db.write(txn)

    async def resume(self, job_id: int, user: str) -> None:
        actor = self.db.actor
        c = COUNTS[self.db.dialect.name]

        def txn(con: Connection, rev: int, now: float) -> None:
            status, admitted, paused_at = c.job_row(con, job_id, "status, admitted, paused_at")
            new = decide_resume(job_id, JobStatus(status), bool(admitted))
            c.set_status(con, rev, now, job_id, new)
            self._end_pause(con, job_id, paused_at, now)
            c.audit_row(con, now, actor, user, "resume", f"job:{job_id}")
            c.settle_jobs(con, rev, now, [job_id])

        await self.db.write(txn, work=True)

    def _end_pause(self, con: Connection, job_id: int, paused_at: float | None, now: float) -> None:
        """The end of a paused job's pause (a resume, a cancel): its running tasks add the
        paused span to their idle time, and so does the job; its paused line goes."""
        d = self.db.dialect
        if paused_at is not None:
            con.execute(Q[d].resume_tasks, (now, paused_at, now, job_id))
        con.execute(END_PAUSE[d.name], (now, job_id))

    async def cancel_job(self, job_id: int, user: str, force: bool = False) -> Job:
        await self.cancel(job_id, user, force)
        return await read_job(self.db, job_id)

    async def pause_job(self, job_id: int, user: str) -> Job:
        await self.pause(job_id, user)
        return await read_job(self.db, job_id)

    async def resume_job(self, job_id: int, user: str) -> Job:
        await self.resume(job_id, user)
        return await read_job(self.db, job_id)

    async def retry_job(self, job_id: int, user: str, task_ids: Sequence[int] | None = None) -> int:
        """Re-queue the failed and cancelled tasks of a finished job (those of `task_ids`
        only, when given); returns how many."""
        actor = self.db.actor
        d = self.db.dialect
        q = Q[d]
        c = COUNTS[d.name]
        retriable, retry_tasks, args = q.retriable, q.retry_tasks, [job_id]
        if task_ids is not None:
            among, more = d.among("id", [int(i) for i in task_ids] or [0])
            retriable += f" AND {among}"
            retry_tasks += f" AND {among}"
            args += more

        def txn(con: Connection, rev: int, now: float) -> int:
            status = c.job_status(con, job_id)
            found = con.execute(retriable, args).fetchall()
            plan = decide_retry(job_id, status, found[0][0], user)
            con.execute(retry_tasks, args)
            con.execute(q.park_step, (job_id,))
            rows = con.execute(q.by_status, (job_id,)).fetchall()
            by_status = dict.fromkeys(COUNT_COLUMNS, 0) | {r[0]: r[1] for r in rows}
            con.execute(
                q.retry,
                (
                    str(plan.status),
                    *(by_status[c] for c in COUNT_COLUMNS),
                    plan.info,
                    now,
                    rev,
                    job_id,
                ),
            )
            con.execute(q.retry_log, (job_id, now, plan.log))
            con.execute(q.retry_report, (job_id,))
            c.update_progress(con, rev, [job_id])
            c.audit_row(con, now, actor, user, "retry", f"job:{job_id}", plan.detail)
            return plan.tasks

        return await self.db.write(txn, work=True)

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Add tasks to a running job (a Python job function adding work); keys dedupe.
        Tasks added to a job being cancelled are cancelled at once (the lifecycle says)."""
        q = Q[self.db.dialect]
        c = COUNTS[self.db.dialect.name]

        def txn(con: Connection, rev: int, now: float) -> int:
            added = self.insert_added(con, job_id, tasks)
            if added and added_task_status(c.job_status(con, job_id)) is TaskStatus.CANCELLED:
                con.execute(q.cancel_tasks, (now, job_id))
                con.execute(q.added_cancelled, (added, rev, now, job_id))
            else:
                con.execute(q.added_pending, (added, rev, now, job_id))
            c.update_progress(con, rev, {job_id})
            return added

        return await self.db.write(txn, work=True) if tasks else 0

    def insert_added(self, con: Connection, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Insert the tasks a running job adds, each new key at the next seq (a key already
        there is left out); how many went in. PostgreSQL's store does it by COPY."""
        rows = [
            (job_id, job_id, t.key, t.name, t.kind, value_text(t.spec), value_text(t.item))
            for t in tasks
        ]
        return self.db.dialect.many(con, Q[self.db.dialect].add_task, rows)

    # ----------------------------------------------------------------- removing

    async def _delete_finished(self, where: str, args: Sequence[Any], batch: int) -> int:
        """Delete up to `batch` finished jobs matching `where`, with their tasks and logs, in
        one short transaction (so clearing a large history never blocks the live path)."""
        d = self.db.dialect
        q = Q[d]

        artifacts_q = ARTIFACTS_Q[d]

        def txn(con: Connection, rev: int, now: float) -> tuple[int, list[Any]]:
            finished, f_args = d.among("status", FINISHED)
            rows = con.execute(
                f"{q.finished}{finished} AND {where} LIMIT {int(batch)}", [*f_args, *args]
            ).fetchall()
            ids = [r[0] for r in rows]
            if not ids:
                return 0, []
            among_ids, id_args = d.among("{}", ids)
            files = kept_files(con, among_ids.format("job_id"), id_args, artifacts_q)
            for table, col in (
                ("artifacts", "job_id"),
                ("logs", "job_id"),
                ("failures", "job_id"),
                ("tasks", "job_id"),
                ("job_locks", "job_id"),
                ("reports", "job_id"),
                ("jobs", "id"),
            ):
                con.execute(f"DELETE FROM {table} WHERE {among_ids.format(col)}", id_args)
            d.many(con, q.removed, [(r[0], rev, r[1]) for r in rows])
            return len(ids), files

        n, files = await self.db.write(txn)
        self.remove_files(files)  # once the rows are gone for good
        return n

    async def _delete_all_finished(self, where: str, args: Sequence[Any], batch: int = 200) -> int:
        import asyncio

        total = 0
        while n := await self._delete_finished(where, args, batch):
            total += n
            await asyncio.sleep(0)  # let claims and completions in between batches
        return total

    async def clear(self, user: str | None, actor: str) -> int:
        """Remove finished jobs (of `user`, or everyone's when None) with their tasks and logs."""
        if user is None:
            n = await self._delete_all_finished("1 = 1", ())
        else:
            n = await self._delete_all_finished(Q[self.db.dialect].of_user, (user,))
        await write_audit(
            self.db,
            actor,
            "clear",
            "jobs:all" if user is None else f"jobs:{user}",
            plural(n, "job"),
        )
        return n

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        """Remove the finished jobs among `job_ids` (of `user` only, unless None)."""
        d = self.db.dialect
        n = 0
        ids = [int(i) for i in job_ids]
        for i in range(0, len(ids), 500):
            among, args = d.among("id", ids[i : i + 500])
            if user is not None:
                among += " AND " + Q[d].of_user
                args.append(user)
            n += await self._delete_all_finished(among, args)
        target = "jobs:all" if user is None else f"jobs:{user}"
        await write_audit(self.db, actor, "clear", target, f"{plural(n, 'job')} (chosen)")
        return n

    async def prune(self, older_than: float) -> int:
        """The retention setting: remove jobs that finished before `older_than`."""
        return await self._delete_all_finished(Q[self.db.dialect].before, (older_than,))
