"""The SQLite store's writer: one transaction at a time on its connection, whatever happens
to the coroutine that asked for it. A transaction runs whole in the writer's thread; its
caller may be cancelled meanwhile (a timeout, a shutdown), and the write lock must then stay
held until the thread has committed or rolled back, or the next write would start inside it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from jobdash.core.store.faults import StoreError
from jobdash.core.store.sqlite import SqliteStore

WAIT = 10.0  # seconds a thread waits for the test's signal at most (a hung test fails)


def audit_insert(con: sqlite3.Connection, rev: int, what: str) -> None:
    con.execute(
        "INSERT INTO audit (ts, user, action, target, detail, actor) "
        "VALUES (0, 'test', 'run', ?, ?, 'test')",
        (what, str(rev)),
    )


async def cancel_mid_transaction(
    store: SqliteStore, fail: bool
) -> tuple[asyncio.Task[int], asyncio.Task[int], threading.Event]:
    """Start a transaction in the writer's thread that stops half-way (one row written,
    one to come) until the returned event is set; cancel its caller there; then ask for a
    small write run on the loop's thread. Returns both tasks and the event."""
    started, go = threading.Event(), threading.Event()

    def slow(con: sqlite3.Connection, rev: int, now: float) -> int:
        audit_insert(con, rev, "first half")
        started.set()
        go.wait(WAIT)
        if fail:
            raise RuntimeError("the transaction failed half-way")
        audit_insert(con, rev, "second half")
        return rev

    def after(con: sqlite3.Connection, rev: int, now: float) -> int:
        audit_insert(con, rev, "after")
        return rev

    first = asyncio.create_task(store.db.write(slow))
    assert await asyncio.to_thread(started.wait, WAIT)
    first.cancel()
    await asyncio.sleep(0)  # the cancellation reaches the writer's caller
    second = asyncio.create_task(store.db.write(after, inline=True))
    await asyncio.sleep(0.05)  # give a wrongly released lock its chance
    assert not second.done(), "a write ran while another transaction was open"
    return first, second, go


def audit_rows(path: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return con.execute("SELECT target, detail FROM audit ORDER BY id").fetchall()
    finally:
        con.close()


async def test_a_cancelled_writer_holds_the_lock_until_its_transaction_commits(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        first, second, go = await cancel_mid_transaction(store, fail=False)
        go.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        rev_after = await second
        assert await store.rev() == rev_after
    finally:
        await store.close()
    rows = audit_rows(tmp_path / "store.db")
    # The cancelled transaction committed whole, before the next one, each at its revision.
    assert [t for t, _ in rows] == ["first half", "second half", "after"]
    assert rows[0][1] == rows[1][1] and int(rows[2][1]) == int(rows[1][1]) + 1


async def test_a_cancelled_writer_whose_transaction_fails_rolls_it_back(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        first, second, go = await cancel_mid_transaction(store, fail=True)
        go.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        await second
        await store.audit("alice", "run", "job:1")  # the writer goes on (in its thread)
    finally:
        await store.close()
    assert [t for t, _ in audit_rows(tmp_path / "store.db")] == ["after", "job:1"]


async def test_a_transaction_that_raises_writes_nothing_and_the_error_comes_out(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:

        def bad(con: sqlite3.Connection, rev: int, now: float) -> None:
            audit_insert(con, rev, "half")
            con.execute("INSERT INTO no_such_table VALUES (1)")

        for inline in (False, True):
            with pytest.raises(StoreError, match="no such table"):
                await store.db.write(bad, inline=inline)
        await store.audit("alice", "run", "job:1")
    finally:
        await store.close()
    assert [t for t, _ in audit_rows(tmp_path / "store.db")] == ["job:1"]
