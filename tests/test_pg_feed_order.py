"""The change feed and the claims on PostgreSQL while writers of two processes run side by
side (a real server, `JOBDASH_TEST_PG`). Claims and batches of outcomes take the store's
lock shared (postgres/db.py), so they are numbered (their transaction ids) in one order and
commit in another. A feed that read up to the highest revision committed would pass over
the first writer's change for good; the feed reads up to the watermark instead, below every
writer of this store still running. Each test holds one writer's transaction open in its
thread while the other commits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.store.base import open_store
from jobdash.core.store.engine_records import Claimant, Outcome
from jobdash.core.store.faults import StoreError
from jobdash.core.store.postgres import db as pg_db
from jobdash.core.store.postgres.claims import claim_in, lock_jobs
from jobdash.core.store.postgres.store import PostgresStore
from jobdash.core.store.sql.claims import complete_in
from jobdash.core.store.sql.dialect import POSTGRES
from jobdash.core.store.sql.flush import Q as FLUSH
from tests.pg import fresh_pg_store
from tests.store_contract.jobs import DEADLINE, commands, until

# What a batch writes of a job's warnings (shared, as outcomes are): how the hot path stamps
# a job's row.
STAMP = FLUSH[POSTGRES].warnings


@pytest.fixture
def location(request: pytest.FixtureRequest) -> str:
    return fresh_pg_store(request)


@pytest.fixture
async def stores(location: str) -> AsyncIterator[list[PostgresStore]]:
    """Three stores on one schema, as three processes open it: two writers and a reader."""
    opened = [await open_store(location) for _ in range(3)]
    assert all(isinstance(s, PostgresStore) for s in opened)
    yield opened  # type: ignore[misc]
    for s in opened:
        await s.close()


def stamp(job: int, n: int, revs: list[int]) -> Callable[[Any, int, float], None]:
    """A write transaction that adds `n` warnings to `job`, as a batch stamps its job; its
    revision goes in `revs`."""

    def txn(con: Any, rev: int, now: float) -> None:
        revs.append(rev)
        con.execute(STAMP, (n, rev, job))

    return txn


class Held:
    """A shared write transaction of `store` held open in the writer's thread after `body`
    ran, until `commit` (which runs `then` in it first)."""

    def __init__(
        self,
        store: PostgresStore,
        body: Callable[[Any, int, float], Any],
        then: Callable[[Any, int, float], Any] | None = None,
    ) -> None:
        self.ran, self.release = threading.Event(), threading.Event()
        self.result: Any = None

        def txn(con: Any, rev: int, now: float) -> None:
            self.result = body(con, rev, now)
            self.ran.set()
            self.release.wait(DEADLINE)
            if then is not None:
                then(con, rev, now)

        self.task = asyncio.ensure_future(store.db.write(txn, shared=True))

    async def started(self) -> None:
        async def ran() -> bool:
            return self.ran.is_set()

        await until(ran, "the held transaction's body run")

    async def commit(self) -> None:
        self.release.set()
        await self.task


async def test_two_writers_committed_out_of_order_the_feed_delivers_both(
    stores: list[PostgresStore],
) -> None:
    """The first writer is numbered first and commits last. While it runs, the second
    commits without waiting for it, and the feed shows neither (the watermark stays below
    the first); once both committed, the next read gives both, as each wrote them."""
    first, second, reader = stores
    a = (await reader.create_job(commands("a"))).id
    b = (await reader.create_job(commands("b"))).id
    since = await reader.rev()
    revs: list[int] = []
    held = Held(first, stamp(a, 1, revs))
    try:
        await held.started()
        await asyncio.wait_for(second.db.write(stamp(b, 2, revs), shared=True), DEADLINE)
        assert revs[0] < revs[1]  # numbered a, b; committed b, a
        early = await reader.changes_since(since)
        assert early.jobs == [] and early.rev < revs[0]
    finally:
        await held.commit()
    late = await reader.changes_since(early.rev)
    assert {j.id: j.warnings for j in late.jobs} == {a: 1, b: 2}
    assert late.rev >= revs[1]


async def test_a_job_keeps_its_newest_revision_when_a_lower_one_commits_later(
    stores: list[PostgresStore],
) -> None:
    """The writer numbered first changes the job after the second committed its own
    change: the row keeps the second's (higher) revision, so a reader that saw that one does
    not take the last write for a stale row (the dashboard drops rows older than its own);
    the feed gives the job, with the last write, once both committed."""
    first, second, reader = stores
    a = (await reader.create_job(commands("a"))).id
    since = await reader.rev()
    revs: list[int] = []
    held = Held(first, lambda con, rev, now: revs.append(rev), stamp(a, 10, []))
    try:
        await held.started()
        await second.db.write(stamp(a, 1, revs), shared=True)
        seen = await reader.get_job(a)
        assert seen.warnings == 1 and seen.rev == revs[1] > revs[0]
    finally:
        await held.commit()
    job = await reader.get_job(a)
    assert job.warnings == 11 and job.rev == seen.rev
    changes = await reader.changes_since(since)
    assert [(j.id, j.warnings) for j in changes.jobs] == [(a, 11)]


async def test_another_stores_open_transaction_does_not_hold_the_feed(
    stores: list[PostgresStore], request: pytest.FixtureRequest
) -> None:
    """A write transaction left open on another schema of the cluster (another store, or
    any other program) is not this store's writer: the feed goes on past it."""
    _first, second, reader = stores
    other = fresh_pg_store(request)
    a = (await reader.create_job(commands("a"))).id
    since = await reader.rev()
    with psycopg.connect(other) as con:
        con.execute("CREATE TABLE open_write (x INTEGER)")  # takes a transaction id, held
        revs: list[int] = []
        await second.db.write(stamp(a, 1, revs), shared=True)
        changes = await reader.changes_since(since)
        assert [j.id for j in changes.jobs] == [a]
        con.rollback()


async def test_claims_side_by_side_keep_a_jobs_parallel(stores: list[PostgresStore]) -> None:
    """Two claimants of two processes, one job of `parallel` 1 with two tasks: while the
    first's claim is not committed the second's waits for the job's row, then finds no room
    (one task runs); the second task goes once the first ends."""
    first, second, reader = stores
    job = (await reader.create_job(commands("p", 2, parallel=1))).id
    await reader.admit()
    held = Held(first, lambda con, rev, now: claim_in(con, rev, now, Claimant("A", "A", 2, 600)))
    try:
        await held.started()
        assert [c.job_id for c in held.result] == [job]
        later = asyncio.ensure_future(second.claim(Claimant("B", "B", 2, 600)))
        await asyncio.sleep(0.5)  # it waits for the first (no timing is asserted)
        assert not later.done()
    finally:
        await held.commit()
    assert await asyncio.wait_for(later, DEADLINE) == []
    assert (await reader.get_job(job)).running == 1


@pytest.mark.parametrize("refill", [True, False])
async def test_a_batch_locks_the_rows_it_will_write_before_the_first(
    stores: list[PostgresStore], location: str, refill: bool
) -> None:
    """A batch with an outcome of job b locks b's row, and when it refills, the row of job a,
    which its claim will count room in, in the same statement (in id order: two batches
    never each hold a row the other waits for); without a refill a's row stays free."""
    first, _second, reader = stores
    a = (await reader.create_job(commands("a", 2))).id
    b = (await reader.create_job(commands("b", 2))).id
    await reader.admit()
    refiller = Claimant("A", "A", 2, 600) if refill else None
    held = Held(first, lambda con, rev, now: lock_jobs(con, [b], [], refiller))
    lock = "SELECT id FROM jobs WHERE id = %s FOR NO KEY UPDATE NOWAIT"
    try:
        await held.started()
        with psycopg.connect(location) as con:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                con.execute(lock, (b,))
            con.rollback()
            if refill:
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    con.execute(lock, (a,))
            else:
                assert con.execute(lock, (a,)).fetchall() == [(a,)]
            con.rollback()
    finally:
        await held.commit()


async def test_the_last_of_two_outcomes_side_by_side_settles_the_job(
    stores: list[PostgresStore],
) -> None:
    """Two agents' batches end the two tasks of one job side by side. The second waits for
    the job's row while the first's is not committed (its batch locks the rows of its jobs
    before it reads its outcomes' tasks and jobs), then reads the job's counters as the
    first left them: its outcome is the last, and the job is settled once, succeeded."""
    first, second, reader = stores
    job = (await reader.create_job(commands("two", 2, parallel=2))).id
    await reader.admit()
    (a,) = await first.claim(Claimant("A", "A", 1, 600))
    (b,) = await second.claim(Claimant("B", "B", 1, 600))
    done = TaskStatus.SUCCEEDED
    held = Held(
        first,
        lambda con, rev, now: complete_in(
            POSTGRES,
            con,
            rev,
            now,
            [Outcome(a.task_id, a.attempt, "A", done)],
            first.flusher.lock_jobs({}),
        ),
    )
    try:
        await held.started()
        assert held.result == [True]
        later = asyncio.ensure_future(second.complete(Outcome(b.task_id, b.attempt, "B", done)))
        await asyncio.sleep(0.5)  # it waits for the first's row lock (no timing is asserted)
    finally:
        await held.commit()
    assert await asyncio.wait_for(later, DEADLINE)
    ended = await reader.get_job(job)
    assert (ended.status, ended.running, ended.succeeded) == (JobStatus.SUCCEEDED, 0, 2)


async def test_a_store_restored_into_another_cluster_still_feeds_its_changes(
    stores: list[PostgresStore], location: str
) -> None:
    """A store restored from a dump keeps its revisions, which another cluster's transaction
    ids may be far below: opened, its rows are stamped 0, and a change is fed again."""
    first, _second, reader = stores
    job = (await reader.create_job(commands("restored"))).id
    ahead = 2**62
    with psycopg.connect(location) as con:  # as a dump of a busier cluster restores them
        for table in ("jobs", "agents_pruned"):
            con.execute(f"UPDATE {table} SET rev = %s", (ahead,))
    fresh = await open_store(location)
    try:
        with psycopg.connect(location) as con:
            assert con.execute("SELECT max(rev) FROM jobs").fetchone() == (0,)
        since = await fresh.rev()
        await first.db.write(stamp(job, 1, []), shared=True)
        changes = await fresh.changes_since(since)
        assert [j.id for j in changes.jobs] == [job]
    finally:
        await fresh.close()


async def test_a_writer_stuck_in_its_transaction_is_ended_by_the_server(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that stops mid-transaction (SIGSTOP, a host cut off) holds the store's lock
    and the feed's watermark. The server ends its transaction once it sat idle
    `IDLE_IN_TRANSACTION`; the other writers then write, the feed moves on, and the stuck
    writer's transaction is rolled back: what it wrote never shows."""
    monkeypatch.setattr(pg_db, "IDLE_IN_TRANSACTION", "1s")
    stuck_store, other, reader = [await open_store(location) for _ in range(3)]
    try:
        a = (await reader.create_job(commands("a"))).id
        since = await reader.rev()
        revs: list[int] = []
        ran, woke = threading.Event(), threading.Event()

        def stuck(con: Any, rev: int, now: float) -> None:  # exclusive: every writer waits
            stamp(a, 5, revs)(con, rev, now)
            ran.set()
            woke.wait(DEADLINE)  # "stopped" until the other writer has written

        held = asyncio.ensure_future(stuck_store.db.write(stuck))  # type: ignore[attr-defined]
        await until(lambda: asyncio.sleep(0, ran.is_set()), "the stuck transaction's body run")
        await asyncio.wait_for(other.db.write(stamp(a, 2, revs)), DEADLINE)  # type: ignore[attr-defined]
        woke.set()
        with pytest.raises(StoreError):  # its connection was ended: the COMMIT fails
            await held
        assert (await reader.get_job(a)).warnings == 2
        seen = await reader.changes_since(since)
        assert [j.warnings for j in seen.jobs] == [2]
        # The stuck writer's next write opens a connection again, and works.
        await asyncio.wait_for(stuck_store.db.write(stamp(a, 1, revs)), DEADLINE)  # type: ignore[attr-defined]
        assert (await reader.get_job(a)).warnings == 3
    finally:
        for s in (stuck_store, other, reader):
            await s.close()
