"""What every write that moves tasks does to their jobs, inside its transaction: the per-job
task counters (`Counts`, checked by the lifecycle), the progress, and the settling of a job
that has nothing left to run (its end decided by `lifecycle.settle`). Shared by jobs, claims
and the batched writer of both backends, so that a job's counters change in one way only.
Also the audit row that actions write in their own transaction.

`CountsSql(dialect)` holds the statements prepared for one dialect; each backend's counts.py
binds its functions once (`apply_counts = CountsSql(SQLITE).apply_counts`, …).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from jobdash.core.lifecycle import (
    CLAIMABLE,
    FINALIZE,
    FINALIZE_KIND,
    SETTLING,
    after_last_task,
    check_task_move,
    finalizing_info,
    settle,
)
from jobdash.core.model import JobStatus, NotFound
from jobdash.core.store.records import AUDIT_ACTIONS
from jobdash.core.store.sql.dialect import POSTGRES, SQLITE, Connection, Dialect

COUNT_COLUMNS = ("pending", "running", "succeeded", "failed", "cancelled", "skipped")
COLUMN = {c: i for i, c in enumerate(COUNT_COLUMNS)}  # a task status's counter, by place
INFO_MAX = 300


@functools.cache
def host() -> str:
    """Where this process's audit rows come from: asked once, at the first write (`socket`
    is not loaded by a read)."""
    import socket

    return socket.gethostname()


# The jobs that are not finished: the predicate of the schemas' partial indexes (jobs_active).
# Four comparisons, not `status NOT IN (…)`: SQLite evaluates a list of more than two
# values against a temporary b-tree it builds at each evaluation, and an UPDATE or INSERT
# evaluates the partial indexes' predicates at each row it writes (see sqlite/schema.py's
# migration 26). PostgreSQL's index keeps `NOT IN`, which these comparisons imply.
ACTIVE_ONLY = (
    "status <> 'succeeded' AND status <> 'warning' AND status <> 'failed' AND status <> 'cancelled'"
)
SETTLING_SQL = ", ".join(f"'{s}'" for s in sorted(SETTLING))  # the statuses a job settles from
# The jobs a claim takes tasks of (lifecycle.CLAIMABLE), as the claim statements and SQLite's
# partial index jobs_claimable say it, word for word (SQLite uses a partial index only for
# a query that repeats its condition).
CLAIMABLE_SQL = "status IN (" + ", ".join(f"'{s}'" for s in sorted(CLAIMABLE)) + ")"
# A job's new revision, never below the one it has: on PostgreSQL, claims and outcomes
# commit side by side and a revision is the transaction's id, so the later commit may hold
# the lower id (postgres/db.py); the row keeps the higher, and a reader that saw it does not
# take the later write for a stale one. (SQLite's revisions only grow: the same.)
NEWER = "rev = {max}(rev, ?)"


# Ends the span a job's clock stood still (a pause, the gap before a retry's first task):
# its seconds go to idle_time. One parameter: the time it ends.
END_IDLE = (
    "idle_time = idle_time + CASE WHEN paused_at IS NULL THEN 0 "
    "ELSE {max}(0, ? - paused_at) END, paused_at = NULL"
)


def end_idle(d: Dialect) -> str:
    """`END_IDLE` in the dialect `d`."""
    return d.prep(END_IDLE)


class Counts:
    """Per-job deltas of task counters, applied in one statement per distinct delta
    (`Dialect.by_key`). The status changes that claims, outcomes, cancels and recovery make
    pass here, and are checked by the lifecycle (`check_task_move`): a move it does not allow is a bug, and its transaction is rolled back
    rather than written. (Retry re-counts a job's tasks instead.) A job's deltas are a list
    in the order of `COUNT_COLUMNS` (this runs for every task claimed and ended)."""

    def __init__(self) -> None:
        self.delta: dict[int, list[int]] = {}

    def move(self, job_id: int, old: str | None, new: str | None, n: int = 1) -> None:
        if old and new:
            check_task_move(job_id, old, new)
        d = self.delta.get(job_id)
        if d is None:
            d = self.delta[job_id] = [0] * len(COUNT_COLUMNS)
        if old:
            d[COLUMN[old]] -= n
        if new:
            d[COLUMN[new]] += n

    def rows(self, rev: int, now: float) -> list[tuple[Any, ...]]:
        return [(*d, now, rev, job_id) for job_id, d in self.delta.items()]


class Known(NamedTuple):
    """A job's row as a transaction read it before its counters' deltas (`apply_counts`):
    its status, finalize step (None: its type has none), counters (`COUNT_COLUMNS`) and
    warnings."""

    status: str
    finalize: int | None
    counts: tuple[int, ...]
    warnings: int


# The columns `Known` is made of, as a statement that joins `jobs j` reads them.
KNOWN_COLUMNS = (
    "j.status, j.finalize, " + ", ".join(f"j.{c}" for c in COUNT_COLUMNS) + ", j.warnings"
)


def known_of(values: Sequence[Any]) -> Known:
    """`Known` from the values of `KNOWN_COLUMNS`."""
    return Known(values[0], values[1], tuple(values[2:8]), values[8])


@functools.lru_cache(maxsize=1024)
def ending(
    status: str,
    total: int,
    failed: int,
    cancelled: int,
    warnings: int,
    first: tuple[str, str] | None,
    step: tuple[str, str] | None,
) -> tuple[str, str, float]:
    """`lifecycle.settle`'s end as the settle statements write it (status, info line,
    progress); cached, as jobs of a batch mostly end alike (one task, done)."""
    end = settle(status, total, failed, cancelled, warnings, first, step)
    return str(end.status), end.info[:INFO_MAX], end.progress


class CountsSql:
    """The counters' statements in one dialect (prepared here, once)."""

    def __init__(self, d: Dialect) -> None:
        self.d = d
        sets = ", ".join(f"{c} = {c} + ?" for c in COUNT_COLUMNS)
        self._add = d.prep(f"UPDATE jobs SET {sets}, updated = ?, {NEWER} WHERE id = ?")
        # A claim's: a job's time starts with its first task (not its admission); a retried
        # job's gap since its last run ends with the retry's first task. It no longer waits.
        self._add_claimed = d.prep(
            f"UPDATE jobs SET {sets}, started = coalesce(started, ?), {END_IDLE}, "
            f"waiting = '', updated = ?, {NEWER} WHERE id = ?"
        )
        self._progress = d.prep(
            """
            UPDATE jobs SET progress = CASE
                WHEN pending + running + succeeded + failed + cancelled + skipped = 0 THEN 0
                ELSE 100.0 * (succeeded + failed + cancelled + skipped + coalesce((
                    SELECT """
            + ("total" if d.running else "sum")
            + f"""(progress) FROM tasks{d.running}
                    WHERE tasks.status = 'running' AND tasks.job_id = jobs.id
                    AND tasks.progress > 0), 0))
                    / (pending + running + succeeded + failed + cancelled + skipped) END,
                {NEWER}
            WHERE """
        )
        self._settling = d.prep(
            "SELECT id, status, failed, cancelled, warnings, pending + running + "
            "succeeded + failed + cancelled + skipped, finalize FROM jobs "
            "WHERE pending = 0 AND running = 0 "
            f"AND status IN ({SETTLING_SQL}) AND "
        )
        self._first_failed = d.prep(
            "SELECT name, error FROM tasks WHERE job_id = ? AND status = 'failed' "
            f"AND kind != '{FINALIZE_KIND}' ORDER BY seq LIMIT 1"
        )
        # A job's finalize step: its row, a free key for a new one, adding it, re-arming
        # the one a retry set aside, and the job becoming finalizing.
        self._step = d.prep("SELECT status, error FROM tasks WHERE id = ?")
        self._key_taken = d.prep("SELECT 1 FROM tasks WHERE job_id = ? AND key = ?")
        self._add_step = d.prep(
            "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) VALUES "
            "(?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks WHERE job_id = ?), ?, "
            f"'{FINALIZE}', '{FINALIZE_KIND}', 'null', 'null', 'pending')"
            + ("" if d.name == "sqlite" else " RETURNING id")
        )
        self._rearm_step = d.prep(
            "UPDATE tasks SET status = 'pending', base_attempt = attempt, not_before = 0, "
            "error = '', exit_code = NULL, finished = NULL, progress = 0 WHERE id = ?"
        )
        self._finalizing = d.prep(
            "UPDATE jobs SET status = 'finalizing', finalize = ?, info = ?, waiting = '' "
            "WHERE id = ?"
        )
        # A job's end (`settle`), alone or with the counters' last deltas before it.
        ends = (
            d.prep("status = ?, finished = ?, updated = ?, info = ?, admitted = 0, progress = ?, ")
            + end_idle(d)
            + d.prep(f", waiting = '', {NEWER} WHERE id = ?")
        )
        self._settle = "UPDATE jobs SET " + ends
        self._settle_counted = d.prep(f"UPDATE jobs SET {sets}, ") + ends
        self._unlock = d.prep("DELETE FROM locks WHERE job_id = ?")
        self._set_status = d.prep("UPDATE jobs SET status = ?, updated = ?, rev = ? WHERE id = ?")
        self._audit = d.prep(
            'INSERT INTO audit (ts, "user", action, target, detail, actor, host) '
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )

    def apply_counts(
        self,
        con: Connection,
        rev: int,
        now: float,
        counts: Counts,
        claim: bool = False,
        known: dict[int, Known] | None = None,
    ) -> None:
        """Apply the counters' deltas, then the jobs' progress and settling. A `claim`
        (pending to running, at progress 0) moves neither, and its jobs' time starts in the
        same statement: one row write per job claimed instead of four. `known`: the jobs'
        rows as this transaction read them before the deltas (see `Known`); a job these
        deltas settle is then settled in the statement that writes them (one row write
        instead of two, and no read of the jobs left with nothing to run)."""
        if not counts.delta:
            return
        if claim:  # started, the end of the idle span, then the rest
            rows = [(*d, now, now, now, rev, j) for j, d in counts.delta.items()]
            self.d.by_key(con, self._add_claimed, rows)
            return
        merged = self._settle_counted_jobs(con, rev, now, counts, known) if known else set()
        self.d.by_key(con, self._add, [r for r in counts.rows(rev, now) if r[-1] not in merged])
        settled = self.settle_jobs(con, rev, now, [j for j in counts.delta if j not in merged])
        # A settled job's progress is its end's (settle wrote it): the others' only.
        self.update_progress(con, rev, set(counts.delta).difference(settled, merged))

    def _settle_counted_jobs(
        self, con: Connection, rev: int, now: float, counts: Counts, known: dict[int, Known]
    ) -> set[int]:
        """Settle, with their counters' deltas, the jobs of `counts` that these deltas leave
        with nothing pending or running and that `after_last_task` settles (not those that
        finalize or hold: the usual way, after the counters, handles them). Returns them."""
        ends = []
        for job_id, delta in counts.delta.items():
            k = known.get(job_id)
            if k is None or k.status not in SETTLING:
                continue
            now_counts = [a + b for a, b in zip(k.counts, delta, strict=True)]
            pending, running, _ok, failed, cancelled, _skipped = now_counts
            if pending or running or after_last_task(k.status, k.finalize is not None) != "settle":
                continue
            row = (job_id, k.status, failed, cancelled, k.warnings, sum(now_counts), k.finalize)
            ends.append((*delta, *self._end(con, rev, now, row)))
        self.d.by_key(con, self._settle_counted, ends)
        self.d.by_key(con, self._unlock, [(e[-1],) for e in ends])
        return {e[-1] for e in ends}

    def update_progress(self, con: Connection, rev: int, job_ids: Iterable[int]) -> None:
        ids = list(job_ids)
        if not ids:
            return
        among, args = self.d.among("id", ids)
        con.execute(self._progress + among, (rev, *args))

    def settle_jobs(
        self, con: Connection, rev: int, now: float, job_ids: Sequence[int]
    ) -> list[int]:
        """Finish the jobs among `job_ids` that have nothing pending or running any more:
        the jobs settled (finished, not those that began to finalize)."""
        if not job_ids:
            return []
        among, args = self.d.among("id", job_ids)
        rows = con.execute(self._settling + among + " ORDER BY id", args).fetchall()
        ends = []
        for row in rows:
            job_id, status, _failed, _cancelled, _warnings, total, step_id = row
            way = after_last_task(status, step_id is not None)
            if way == "hold":
                continue
            if way == "finalize":
                self._begin_finalize(con, rev, now, job_id, step_id, total)
                continue
            ends.append(self._end(con, rev, now, tuple(row)))
        self.d.by_key(con, self._settle, ends)
        self.d.by_key(con, self._unlock, [(e[-1],) for e in ends])
        return [e[-1] for e in ends]

    def _end(self, con: Connection, rev: int, now: float, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """The end of a job that settles (`row`: id, status, failed, cancelled, warnings,
        tasks and finalize step, as `_settling` reads them), as `lifecycle.settle` decides:
        the values of `_settle`."""
        job_id, status, failed, cancelled, warnings, total, step_id = row
        step = None
        if step_id:  # its end beside the counts, which include it (`settle` tells them apart)
            found = con.execute(self._step, (step_id,)).fetchall()
            step = (str(found[0][0]), str(found[0][1])) if found else None
        first = None
        if failed > (step is not None and step[0] == "failed"):  # a task besides the step
            found = con.execute(self._first_failed, (job_id,)).fetchall()
            first = (found[0][0], found[0][1]) if found else None
        final, info, progress = ending(status, total, failed, cancelled, warnings, first, step)
        return (final, now, now, info, progress, now, rev, job_id)

    def _begin_finalize(
        self, con: Connection, rev: int, now: float, job_id: int, step_id: int, total: int
    ) -> None:
        """Job `job_id` (`total` tasks, all ended) becomes finalizing: its finalize step is
        added as a pending task at the next seq (`step_id` 0), or the one a retry set aside
        (`step_id`) is pending again as a new attempt. Claimed like any task from then on."""
        counts = Counts()
        if step_id:
            (old,) = con.execute(self._step, (step_id,)).fetchall()[0][:1]
            counts.move(job_id, str(old), "pending")
            con.execute(self._rearm_step, (step_id,))
            total -= 1
        else:
            key, n = FINALIZE, 1
            while con.execute(self._key_taken, (job_id, key)).fetchall():  # a task's own
                n += 1
                key = f"{FINALIZE} {n}"
            cur = con.execute(self._add_step, (job_id, job_id, key))
            step_id = int(cur.lastrowid if self.d.name == "sqlite" else cur.fetchone()[0])
            counts.move(job_id, None, "pending")
        self.d.many(con, self._add, counts.rows(rev, now))
        con.execute(self._finalizing, (step_id, finalizing_info(total), job_id))
        self.update_progress(con, rev, [job_id])

    def job_row(self, con: Connection, job_id: int, columns: str) -> tuple[Any, ...]:
        """A job's `columns` (NotFound when there is no such job)."""
        sql = self.d.prep(f"SELECT {columns} FROM jobs WHERE id = ?")
        rows = con.execute(sql, (job_id,)).fetchall()
        if not rows:
            raise NotFound(f"no job {job_id}")
        return tuple(rows[0])

    def job_status(self, con: Connection, job_id: int) -> JobStatus:
        return JobStatus(self.job_row(con, job_id, "status")[0])

    def set_status(
        self, con: Connection, rev: int, now: float, job_id: int, new: JobStatus
    ) -> None:
        con.execute(self._set_status, (str(new), now, rev, job_id))

    def audit_row(
        self,
        con: Connection,
        now: float,
        actor: str,
        user: str,
        action: str,
        target: str,
        detail: str = "",
    ) -> None:
        """One audit row: `user` asked for `action` (one of `AUDIT_ACTIONS`) on `target`;
        `actor` is who wrote it, on this host."""
        known_action(action)
        con.execute(self._audit, (now, user, action, target, detail, actor, host()))

    def audit_rows(
        self, con: Connection, actor: str, rows: Sequence[tuple[float, str, str, str, str]]
    ) -> None:
        """Many audit rows (time, user, action, target, detail) written by `actor`, at once."""
        for r in rows:
            known_action(r[2])
        host_name = host()
        self.d.many(con, self._audit, [(*r, actor, host_name) for r in rows])


def known_action(action: str) -> None:
    """Raise RuntimeError for an audit action not in `AUDIT_ACTIONS`: a store that writes
    one has a bug (the audit filter would refuse to look for it), and its transaction must
    not be written."""
    if action not in AUDIT_ACTIONS:
        raise RuntimeError(f"audit action {action!r} is not one of AUDIT_ACTIONS")


COUNTS = {d.name: CountsSql(d) for d in (SQLITE, POSTGRES)}  # a dialect's, by name
