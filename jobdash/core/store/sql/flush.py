"""The batched writer: log lines, progress, process groups, metrics, warnings and task
outcomes are held in memory and written together, in one transaction, by a single flusher
task (`Flusher`). Small writes are the engine's hottest path: one transaction per batch
instead of one per line is what makes thousands of lines a second cheap. Outcomes do not
wait for the batch interval. What is held is bounded (back-pressure), and what could not be
written is put back and tried again.

The outcomes are recorded (`core.store.sql.claims.complete_in`) and the slots they freed
refilled (`Refill`: the agent claims in the same transaction, one write per finished batch
instead of a completion and then a claim). A backend's flusher adds what is its own: how the
lines go in (`insert_logs`: executemany, or COPY), its claim (`claim_in`), and how the
batch is run (`write_batch`).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jobdash.core.alarm import Alarm
from jobdash.core.lazylog import lazy_logger
from jobdash.core.model import LineLevel, counts_as_read, line_level
from jobdash.core.store.sql.claims import complete_in
from jobdash.core.store.sql.counts import ACTIVE_ONLY, COUNTS, INFO_MAX, NEWER
from jobdash.core.store.sql.dialect import Buffering, Connection, Statements

if TYPE_CHECKING:
    import asyncio

    from jobdash.core.store.engine_records import Claim, Claimant, Outcome, Refill

log = lazy_logger("jobdash.store")  # `logging` loaded at its first message
# A buffered log line: (job id, task id, time, stream, text, attempt).
LogRow = tuple[int, int | None, float, str, str, int | None]

FLUSH_INTERVAL = 0.05  # seconds a log line may wait before it is written
MAX_BUFFERED_LINES = 20_000  # writers of log lines wait (back-pressure) past this
MAX_BUFFERED_BYTES = 64 << 20  # … or past this much text (lines are up to 1 MiB)
# A running task's last sign of life (`tasks.active`, stall detection) is written at most
# this often per task: a stall is told in minutes, and a chatty task costs one more row
# update a second, not one a batch.
ACTIVE_EVERY = 1.0


C = TypeVar("C", bound=Connection)  # the backend's connection, as its transactions get it

Q = Statements(
    logs="INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) VALUES (?, ?, ?, ?, ?, ?)",
    # The last line of a batch becomes the job's info line while it runs (a line written
    # after the job ended, in a later batch than its end, leaves the outcome's summary be);
    # the lines to read are counted by level (unread logs, `sql/marks.py`) in the same
    # statement.
    info=f"UPDATE jobs SET info = CASE WHEN {ACTIVE_ONLY} THEN ? ELSE info END, updated = ?, "
    "rev = ?, log_lines = log_lines + ?, "
    "log_warnings = log_warnings + ?, log_errors = log_errors + ? WHERE id = ?",
    progress="UPDATE tasks SET progress = ? WHERE id = ? AND status = 'running'",
    pgid="UPDATE tasks SET pgid = ? WHERE id = ? AND status = 'running'",
    active="UPDATE tasks SET active = ? WHERE id = ? AND status = 'running'",
    metrics_of="SELECT id, metrics FROM jobs WHERE ",
    metrics="UPDATE jobs SET metrics = ?, rev = ? WHERE id = ?",
    warnings=f"UPDATE jobs SET warnings = warnings + ?, {NEWER} WHERE id = ?",
    jobs_of="SELECT DISTINCT job_id FROM tasks WHERE ",
)


def info_rows(logs: list[LogRow], now: float, rev: int) -> list[tuple[Any, ...]]:
    """The `info` statement's rows of a batch of lines: per job, its last line to read
    (`counts_as_read`) as its info line, and how many lines to read, warnings and errors
    it adds (`line_level`: the log pane's classes)."""
    last: dict[int, str] = {}
    counts: dict[int, list[int]] = {}
    for job_id, _t, _ts, stream, text, _a in logs:
        if counts_as_read(stream, text):
            last[job_id] = text
            level = line_level(stream, text)
            n = counts.get(job_id)
            if n is None:
                n = counts[job_id] = [0, 0, 0]
            n[0] += 1
            if level is LineLevel.WARNING:
                n[1] += 1
            elif level is LineLevel.ERROR:
                n[2] += 1
    return [(t.strip()[:INFO_MAX], now, rev, *counts[j], j) for j, t in last.items()]


class Flusher(Generic[C]):
    """What is buffered, and the task that writes it (started by `start`)."""

    def __init__(self, db: Buffering) -> None:
        self.db = db
        self.d = d = db.dialect
        self.q = Q[d]
        self.update_progress = COUNTS[d.name].update_progress
        # (job id, task id, time, stream, text, attempt)
        self._logs: list[LogRow] = []
        self._outcomes: list[Outcome] = []
        # Outcomes taken for a batch and not yet committed: still held, for a claim that
        # counts slots freed by outcomes (see the PostgreSQL claim).
        self._writing_outcomes = 0
        self._progress: dict[int, float] = {}
        self._pgids: dict[int, int] = {}
        self._metrics: dict[int, dict[str, float]] = defaultdict(dict)
        self._warnings: dict[int, int] = defaultdict(int)
        self._flush_wanted = Alarm()
        self._flush_now = Alarm()  # an outcome waits: no FLUSH_INTERVAL delay
        self._task: asyncio.Task[None] | None = None
        self._log_bytes = 0  # characters of the lines in `_logs`
        self.closed = False
        self.refill: Refill | None = None  # the agent whose freed slots a flush refills
        self._active_at: dict[int, float] = {}  # task id -> the last `active` written
        db.held = lambda: len(self._logs)

    # The events are made at their first use, on a loop: a store opened for a loop-free
    # read (`core.loopfree`) buffers nothing and imports no asyncio.
    @cached_property
    def _outcomes_written(self) -> asyncio.Event:
        """Set while no outcome taken for a batch waits for its commit."""
        import asyncio

        event = asyncio.Event()
        if not self._writing_outcomes:
            event.set()
        return event

    @cached_property
    def _flushed(self) -> asyncio.Event:
        """Set when the flusher's task ends a batch (a new one for the next)."""
        import asyncio

        return asyncio.Event()

    def start(self) -> None:
        import asyncio

        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        self.closed = True
        if self._task:
            import asyncio

            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        import asyncio

        while True:
            await self._flush_wanted.wait()
            if not self._outcomes:
                # Log lines wait a little to be written together. An outcome does not: the
                # agent's slot is busy until it is recorded, and outcomes that arrive while
                # one transaction runs are batched into the next one anyway.
                await self._flush_now.wait(FLUSH_INTERVAL)
            try:
                await self._flush_once()
            except Exception:  # keep the flusher alive: what was buffered is retried
                self.db.report_failure(log, "writing buffered log lines and results failed")
                if self.backlogged():
                    self.db.faults.note(
                        f"{len(self._logs)} log lines held, the most jobdash holds: tasks' "
                        "output now waits in their pipes (commands block writing it) until the "
                        "store takes lines again",
                        key="backlog",
                    )
                await asyncio.sleep(1.0)
                self._want_flush()
            self._flushed.set()
            self._flushed = asyncio.Event()

    async def flush(self) -> None:
        """Write whatever is buffered now (used at shutdown and by tests)."""
        if self.closed:
            return
        await self._flush_once()

    async def _flush_once(self) -> None:
        logs, self._logs = self._logs, []
        log_bytes, self._log_bytes = self._log_bytes, 0
        outcomes, self._outcomes = self._outcomes, []
        progress, self._progress = self._progress, {}
        pgids, self._pgids = self._pgids, {}
        metrics, self._metrics = self._metrics, defaultdict(dict)
        warnings, self._warnings = self._warnings, defaultdict(int)
        if not (logs or outcomes or progress or metrics or warnings or pgids):
            return

        refilled: list[Any] = []  # [the Refill, its claims…] once a refill claimed
        txn = self.batch(logs, outcomes, progress, pgids, metrics, warnings, refilled)
        self.db.inflight = len(logs)
        self._writing_outcomes += len(outcomes)
        self._outcomes_written.clear()
        try:
            accepted = await self.write_batch(txn, len(logs), outcomes, bool(metrics or warnings))
        except BaseException as e:
            # Nothing was written: lines, progress and metrics go back in front of what
            # arrived meanwhile; completions fail, and their agents try again.
            self._logs[:0] = logs
            self._log_bytes += log_bytes
            self._progress = progress | self._progress
            self._pgids = pgids | self._pgids
            for job_id, m in metrics.items():
                for k, v in m.items():
                    self._metrics[job_id][k] = self._metrics[job_id].get(k, 0.0) + v
            for job_id, n in warnings.items():
                self._warnings[job_id] += n
            self._answer(outcomes, [e] * len(outcomes))
            raise
        finally:
            self.db.inflight = 0
            self._writing_outcomes -= len(outcomes)
            if not self._writing_outcomes:
                self._outcomes_written.set()
        self.db.faults.worked()
        if len(refilled) > 1:
            refilled[0].started(refilled[1:])
        self._answer(outcomes, accepted)

    def _answer(self, outcomes: list[Outcome], answers: Sequence[bool | BaseException]) -> None:
        """Tell each outcome's sender whether it was accepted, or why it was not written."""
        for o, answer in zip(outcomes, answers, strict=True):
            if o.then is not None:
                try:
                    o.then(answer)
                except Exception:  # the sender's bug: the other senders are told still
                    log.exception("the answer to task %s's outcome failed", o.task_id)
            elif o.future is None or o.future.done():
                pass
            elif isinstance(answer, BaseException):
                o.future.set_exception(answer)
            else:
                o.future.set_result(answer)

    def batch(
        self,
        logs: list[LogRow],
        outcomes: list[Outcome],
        progress: dict[int, float],
        pgids: dict[int, int],
        metrics: dict[int, dict[str, float]],
        warnings: dict[int, int],
        refilled: list[Any],
    ) -> Any:
        """The transaction that writes one batch; it puts the refill and its claims in
        `refilled` when the outcomes' freed slots were refilled (see `wanted`)."""
        d, q = self.d, self.q

        def txn(con: C, rev: int, now: float) -> list[bool]:
            refilled.clear()
            if logs:
                self.insert_logs(con, logs)
                d.many(con, q.info, info_rows(logs, now, rev))
            if progress:
                d.many(con, q.progress, [(p, tid) for tid, p in progress.items()])
            if pgids:
                d.many(con, q.pgid, [(g, tid) for tid, g in pgids.items()])
            if active := self.active_rows(logs, progress, now):
                d.many(con, q.active, active)
            if metrics:
                among, args = d.among("id", list(metrics))
                rows = con.execute(q.metrics_of + among, args).fetchall()
                merged = []
                for job_id, text in rows:
                    total = json.loads(text)
                    for k, v in metrics[job_id].items():
                        total[k] = total.get(k, 0) + v
                    merged.append((json.dumps(total), rev, job_id))
                d.many(con, q.metrics, merged)
            if warnings:
                d.many(con, q.warnings, [(n, rev, j) for j, n in warnings.items()])
            accepted = (
                complete_in(d, con, rev, now, outcomes, self.lock_jobs(progress))
                if outcomes
                else []
            )
            if outcomes and (want := self.wanted()) is not None:
                refilled[:] = [want[0], *self.claim_in(con, rev, now, want[1])]
            touched = {j for j, *_ in logs} | set(metrics) | set(warnings)
            if progress:
                among, args = d.among("id", list(progress))
                rows = con.execute(q.jobs_of + among, args).fetchall()
                touched |= {r[0] for r in rows}
            self.update_progress(con, rev, touched)
            return accepted

        return txn

    def active_rows(
        self, logs: list[LogRow], progress: dict[int, float], now: float
    ) -> list[tuple[float, int]]:
        """The `active` statement's rows of a batch: its tasks that wrote a line of their own
        (jobdash's notes are not the task's) or reported progress, each at most once per
        ACTIVE_EVERY."""
        seen = {t for _j, t, _ts, stream, _x, _a in logs if t is not None and stream != "system"}
        seen.update(progress)
        if not seen:
            return []
        last = self._active_at
        if len(last) > 10_000:  # ended tasks' entries: kept no longer than they matter
            for tid in [t for t, at in last.items() if at < now - 60]:
                del last[tid]
        rows = [(now, t) for t in seen if now - last.get(t, 0.0) >= ACTIVE_EVERY]
        for _now, t in rows:
            last[t] = now
        return rows

    def insert_logs(self, con: C, logs: list[LogRow]) -> None:
        """Write the lines of a batch (SQLite: executemany; PostgreSQL: COPY)."""
        self.d.many(con, self.q.logs, logs)

    def wanted(self) -> tuple[Refill, Claimant] | None:
        """Who refills the slots a batch's outcomes freed, for how many (asked in the
        batch's transaction; PostgreSQL's asks before it, see its flusher)."""
        refill = self.refill
        want = refill.want() if refill is not None else None
        return None if want is None or refill is None else (refill, want)

    def lock_jobs(self, progress: dict[int, float]) -> Any:
        """What locks the rows of the jobs a batch will write, given its outcomes' tasks
        (`complete_in`'s `lock_jobs`; `progress`: the tasks whose jobs' progress it
        writes): none here (SQLite's one writer holds the whole database)."""
        return None

    def claim_in(self, con: C, rev: int, now: float, want: Claimant) -> list[Claim]:
        """Claim for `want` inside the batch's transaction: the backend's claim."""
        raise NotImplementedError

    async def write_batch(
        self, txn: Any, lines: int, outcomes: list[Outcome], jobs_first: bool
    ) -> list[bool]:
        """Run a batch's transaction (the backend's `Db.write`, as it runs them); `outcomes`
        is the batch's list, which may take outcomes that arrive before it runs;
        `jobs_first`: it writes jobs' rows before its outcomes (metrics, read and merged;
        warnings)."""
        raise NotImplementedError

    def outcomes_held(self) -> int:
        """How many outcomes wait to be written or are being written."""
        return len(self._outcomes) + self._writing_outcomes

    async def outcomes_written(self) -> None:
        """Return once every outcome held now is written (or failed)."""
        if self._outcomes:
            await self.flush()
        await self._outcomes_written.wait()

    def _want_flush(self) -> None:
        self._flush_wanted.ring()

    async def append_log(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        """Buffer one log line (jobdash's own: a few; of task attempt `attempt`, if a
        task's); waits for the next flush when the buffer is full."""
        self.append_log_nowait(job_id, task_id, stream, text, attempt)
        if self.backlogged():
            await self._flushed.wait()

    def backlogged(self) -> bool:
        """True when writers of log lines should wait for `drained()` (back-pressure): the
        memory bound of what is held while the store cannot be written."""
        return len(self._logs) >= MAX_BUFFERED_LINES or self._log_bytes >= MAX_BUFFERED_BYTES

    async def drained(self) -> None:
        """Return once the buffer is under its bound again (at once when it is)."""
        while self.backlogged():
            await self._flushed.wait()

    def append_log_nowait(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        self._logs.append((job_id, task_id, time.time(), stream, text, attempt))
        self._log_bytes += len(text)
        self._want_flush()

    def report_progress(self, task_id: int, fraction: float) -> None:
        self._progress[task_id] = max(0.0, min(1.0, fraction))
        self._want_flush()

    def note_pgid(self, task_id: int, pgid: int) -> None:
        """The process group of a command attempt just started (see `expire_dead_agents`)."""
        self._pgids[task_id] = pgid
        self._want_flush()

    def add_metric(self, job_id: int, name: str, value: float) -> None:
        """Metrics are counters: values reported by the tasks of a job add up."""
        m = self._metrics[job_id]
        m[name] = m.get(name, 0.0) + value
        self._want_flush()

    def add_warning(self, job_id: int) -> None:
        self._warnings[job_id] += 1
        self._want_flush()

    async def complete(self, outcome: Outcome) -> bool:
        """Record how an attempt ended; False when the attempt was no longer ours (fenced)."""
        import asyncio  # loaded: an outcome is written on a loop

        outcome.future = asyncio.get_running_loop().create_future()
        self._outcomes.append(outcome)
        self._want_flush()
        self._flush_now.ring()
        return await outcome.future

    def complete_nowait(
        self, outcome: Outcome, then: Callable[[bool | BaseException], None]
    ) -> None:
        """`complete` without waiting: `then` is called with the answer (or with the failure
        of the write) once the batch that holds it is written."""
        outcome.then = then
        self._outcomes.append(outcome)
        self._want_flush()
        self._flush_now.ring()
