"""Failures grouped by cause, written once for both backends: each failed task attempt is a
row of `failures` (recorded in the transaction that records the failure: an outcome, or an
attempt lost with its agent), with its cause's fingerprint (`core.fingerprint`); the groups,
a group's tasks and one attempt's log are read from it.

What a group counts is a `FailureFilter`: the attempts of the jobs its query matches (the
filter language: `since:` counts on the attempts' own time, free words are also looked for
in the normalised message), of one user, since a time. The groups' read is one pass over
the table's covering index (`failures_group`): counts, first and last seen, and the trend
as cumulative sums over the edges of its spans (`ts >= edge`), turned into counts per span
here; then one grouped read of the job types.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.fingerprint import key, normalise
from jobdash.core.model import JobStatus, LogLine, TaskStatus
from jobdash.core.query import Query
from jobdash.core.store.sql.dialect import Connection, Dialect, Reading, Statements
from jobdash.core.store.sql.filters import TEXT_OF, query_sql, seen_sql
from jobdash.core.store.sql.reads import LOG_LINES, log_lines
from jobdash.core.values import parse_duration

if TYPE_CHECKING:
    from jobdash.core.store.side_records import FailureFilter
    from jobdash.core.views import FailedTask, FailureGroup

Q = Statements(
    # Whether it is the first attempt of its task, and of its job, in this cause: looked up
    # in the rows before it (executemany runs row by row, so a batch sees its own).
    record="INSERT INTO failures (job_id, task_id, attempt, ts, fingerprint, message, error, "
    'type, "user", new_task, new_job) SELECT id, CAST(? AS BIGINT), CAST(? AS INTEGER), '
    "CAST(? AS DOUBLE PRECISION), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), type, "
    '"user", CASE WHEN EXISTS (SELECT 1 FROM failures WHERE task_id = ? AND fingerprint = ?) '
    "THEN 0 ELSE 1 END, CASE WHEN EXISTS (SELECT 1 FROM failures WHERE job_id = ? AND "
    "fingerprint = ?) THEN 0 ELSE 1 END FROM jobs WHERE id = ?",
    messages="SELECT fingerprint, message FROM failures WHERE ",
    attempt_log=" WHERE l.job_id = ? AND l.task_id = ? AND l.attempt = ? ORDER BY l.seq DESC "
    "LIMIT ?",
)

# A failed attempt: (job id, task id, attempt, error as it was).
Failed = tuple[int, int, int, str]


def record_failures(d: Dialect, con: Connection, now: float, failed: Sequence[Failed]) -> None:
    """Record failed attempts in the transaction that records their failure."""
    if failed:
        rows = []
        for job_id, task_id, attempt, error in failed:
            message = normalise(error)
            fp = key(message)
            rows.append(
                (task_id, attempt, now, fp, message, error, task_id, fp, job_id, fp, job_id)
            )
        d.many(con, Q[d].record, rows)


def where_failed(d: Dialect, f: FailureFilter, now: float) -> tuple[str, str, list[Any]]:
    """(joins, WHERE clause, its parameters) over `failures f` for the attempts `f` counts:
    the jobs table is joined (as `j`) only when the query asks about jobs."""
    clauses: list[str] = []
    args: list[Any] = []
    if f.user is not None:
        clauses.append(seen_sql(d, f.user, f.shared, args, 'f."user"', "f.job_id"))
    if f.since is not None:
        clauses.append(f"f.ts >= {d.mark}")
        args.append(f.since)
    since = [t for t in f.query.terms if t.field == "since"]
    for positive in (True, False):
        spans = [t.value for t in since if t.negated != positive]
        if spans:
            ors = [f"f.ts >= {d.mark}" for _ in spans]
            args.extend(now - parse_duration(v, "since") for v in spans)
            clause = "(" + " OR ".join(ors) + ")"
            clauses.append(clause if positive else f"NOT {clause}")
    rest = Query(tuple(t for t in f.query.terms if t.field != "since"))
    joins = ""
    if not rest.is_empty:
        where, more = query_sql(d, rest, now, table="j", also=("f.message",))
        joins = " JOIN jobs j ON j.id = f.job_id"
        clauses.append(f"({where})")
        args.extend(more)
    return joins, " AND ".join(clauses) or TEXT_OF[d.name].true, args


class Failures:
    """The failure groups, a group's tasks, and the log of one failed attempt."""

    db: Reading

    async def failure_groups(self, f: FailureFilter) -> list[FailureGroup]:
        from jobdash.core.views import FailureGroup  # not loaded by a read that makes none

        d = self.db.dialect
        now = time.time() if f.now is None else f.now
        joins, where, args = where_failed(d, f, now)
        start = f.since
        if start is None:
            first = f"SELECT min(f.ts) FROM failures f{joins} WHERE {where}"
            rows = await self.db.fetchall(first, args)
            start = rows[0][0] if rows and rows[0][0] is not None else now
        end = max(now, start)
        n = max(1, f.buckets)
        edges = [start + (end - start) * k / n for k in range(1, n)]
        sums = "".join(f", sum(CASE WHEN f.ts >= {d.mark} THEN 1 ELSE 0 END)" for _ in edges)
        # One pass over the index in its order, by cause and job type (a job has one type,
        # so every count adds up across types).
        rows = await self.db.fetchall(
            "SELECT f.fingerprint, f.type, count(*), sum(f.new_task), sum(f.new_job), "
            f"min(f.ts), max(f.ts), max(f.id){sums} FROM failures f{joins} WHERE {where} "
            "GROUP BY f.fingerprint, f.type",
            [*edges, *args],
        )
        groups: dict[str, FailureGroup] = {}
        newest: dict[str, int] = {}
        for fp, type_, attempts, tasks, jobs, first, last, top, *after in rows:
            g = groups.get(fp)
            if g is None:
                g = groups[fp] = FailureGroup(fp, "", 0, 0, 0, first, last, {}, [0] * n)
                g.trend_start, g.trend_end = start, end
            g.attempts += attempts
            g.tasks += int(tasks)
            g.jobs += int(jobs)
            g.first, g.last = min(g.first, first), max(g.last, last)
            g.types[type_] = attempts
            newest[fp] = max(newest.get(fp, 0), top)
            # Attempts at or after each edge, then per span: all, minus those after it.
            at_or_after = [attempts, *after, 0]
            for k in range(n):
                g.trend[k] += int(at_or_after[k] - at_or_after[k + 1])
        if not groups:
            return []
        if f.since is not None or any(t.field == "since" for t in f.query.terms):
            # A time bound may leave out the first attempt of a task or a job: count them.
            for fp, tasks, jobs in await self.db.fetchall(
                "SELECT f.fingerprint, count(DISTINCT f.task_id), count(DISTINCT f.job_id) "
                f"FROM failures f{joins} WHERE {where} GROUP BY f.fingerprint",
                args,
            ):
                groups[fp].tasks, groups[fp].jobs = tasks, jobs
        among, among_args = d.among("id", list(newest.values()))
        for fp, message in await self.db.fetchall(Q[d].messages + among, among_args):
            groups[fp].message = message
        for g in groups.values():
            g.types = dict(sorted(g.types.items(), key=lambda tc: (-tc[1], tc[0])))
        return sorted(groups.values(), key=lambda g: (-g.last, g.id))

    async def failure_tasks(
        self, group: str, f: FailureFilter, limit: int | None = None
    ) -> list[FailedTask]:
        from jobdash.core.views import FailedTask  # not loaded by a read that makes none

        d = self.db.dialect
        now = time.time() if f.now is None else f.now
        joins, where, args = where_failed(d, f, now)
        inner = (
            "SELECT f.task_id, f.job_id, count(*) AS n, max(f.attempt) AS a, max(f.ts) AS ts "
            f"FROM failures f{joins} WHERE f.fingerprint = {d.mark} AND {where} "
            "GROUP BY f.task_id, f.job_id ORDER BY max(f.ts) DESC, f.task_id DESC"
        )
        if limit is not None:
            inner += f" LIMIT {int(limit)}"
        rows = await self.db.fetchall(
            'SELECT g.job_id, j.type, j.status, j."user", g.task_id, t.seq, t.name, t.status, '
            "g.n, g.a, g.ts, e.error, t.attempt "
            f"FROM ({inner}) g JOIN tasks t ON t.id = g.task_id JOIN jobs j ON j.id = g.job_id "
            "JOIN failures e ON e.task_id = g.task_id AND e.attempt = g.a "
            "AND e.fingerprint = " + d.mark + " ORDER BY g.ts DESC, g.task_id DESC",
            [group, *args, group],
        )
        return [
            FailedTask(
                r[0],
                r[1],
                JobStatus(r[2]),
                r[3],
                r[4],
                r[5],
                r[6],
                TaskStatus(r[7]),
                r[8],
                r[9],
                r[10],
                r[11],
                r[9] == r[12],
            )
            for r in rows
        ]

    async def attempt_log(self, job_id: int, task_id: int, attempt: int, n: int) -> list[LogLine]:
        rows = await self.db.fetchall(
            LOG_LINES + Q[self.db.dialect].attempt_log, (job_id, task_id, attempt, n)
        )
        return log_lines(reversed(rows))
