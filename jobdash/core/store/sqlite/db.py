"""The connections of a SQLite store and how it writes: `Db`, which every area of the backend
holds (jobs, claims, agents, …), so that writing, waiting for a locked store, checkpoints and
the handling of its failures are in one place.

- One writer connection per process (plain sqlite3), used by one transaction at a time under
  the write lock. A transaction is a plain function `txn(con, rev, now) -> T` run whole, in
  one `BEGIN IMMEDIATE` … `COMMIT`: on the event loop's thread (`inline`, for the small hot
  ones: claims and flushes of buffered lines) or in the writer's own thread (one hop for the
  whole transaction). The write lock is held until the transaction has committed or rolled
  back, whatever happens to its caller (see `_in_thread`).
- Another process holding SQLite's write lock is waited for by sleeping in the event loop
  and trying again (the writer's busy timeout is 0), never inside SQLite: so a transaction
  may run on the loop's thread. WAL checkpoints run in the writer's thread, between writes.
- The reader connection (aiosqlite, public API) serves reads and the change feed. The
  dashboard's reads of its Completed window (a page, a count) have a connection of their
  own, opened at the first: a read there whose caller is cancelled (a filter key typed
  meanwhile) is interrupted in SQLite, so the next one does not wait for it to end.
- Every SQLite error leaves as a StoreError (`error`); damage is final: nothing more is
  written.
- A store opened for a read without the event loop (`opening.open_db`'s `loop_free`: the
  command line's read-only commands, see `core.loopfree`) has no writer, no thread, and a
  plain sqlite3 reader (`PlainConnection`); nothing of this module imports asyncio or
  aiosqlite before something awaits on a loop.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jobdash.core.identity import real_user
from jobdash.core.lazylog import lazy_logger
from jobdash.core.store.faults import FaultLog, StoreError
from jobdash.core.store.sql.dialect import SQLITE, Dialect
from jobdash.core.store.sql.writer import WriterThread
from jobdash.core.store.sqlite.faults import DAMAGED, error_code, is_fault, store_error

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import logging

    import aiosqlite

T = TypeVar("T")
# A write transaction: given the writer, a new revision and the time, it runs whole.
Txn = Callable[[sqlite3.Connection, int, float], T]
log = lazy_logger("jobdash.store")  # `logging` loaded at its first message

BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY = 200  # commits of the writer between WAL checkpoints (in its thread)


class Locked(Exception):
    """Another connection holds the write lock: BEGIN IMMEDIATE did nothing; try later."""


class PlainConnection:
    """A plain sqlite3 connection with the part of aiosqlite's `Connection` a `Reader` uses,
    run right here: its coroutines never await, so that a read can be driven without an
    event loop (`core.loopfree`). Only for such a read: on a loop it would hold the loop
    for the whole of each statement."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Iterable[sqlite3.Row]:
        return self.con.execute(sql, () if parameters is None else list(parameters)).fetchall()

    async def interrupt(self) -> None:
        self.con.interrupt()

    async def close(self) -> None:
        self.con.close()


class Reader:
    """A reader connection of a store: every SQLite error comes out as the StoreError
    `error` makes of it (which remembers damage: the store then writes nothing more).

    `interruptible`: a read whose caller is cancelled is interrupted (`sqlite3_interrupt`),
    so that the reads queued behind it in the connection's thread start at once: a free
    word of one or two letters, which no index finds, reads every finished job (seconds
    at 10,000,000), and the next filter key waited for it. An interrupt can land on the
    read after it instead, which then runs again. Only for a connection whose reads may
    all be cut short so: the dashboard's window reads."""

    def __init__(
        self,
        con: aiosqlite.Connection | PlainConnection,
        error: Callable[[sqlite3.Error], StoreError],
        interruptible: bool = False,
    ) -> None:
        self.con = con
        self._error = error
        self.interruptible = interruptible

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Iterable[sqlite3.Row]:
        while True:
            try:
                return await self.con.execute_fetchall(sql, parameters)
            except sqlite3.Error as e:
                if self.interruptible and error_code(e) == sqlite3.SQLITE_INTERRUPT:
                    continue  # cut short for a cancelled read before it: again
                raise self._error(e) from e
            except BaseException:  # its caller cancelled (asyncio's CancelledError)
                if self.interruptible:
                    await self.con.interrupt()  # at once: not queued behind the read
                raise


class Db(WriterThread):
    """A store's connections, its write lock and its failure state (see the module)."""

    dialect: Dialect = SQLITE  # how the shared SQL (core.store.sql) is spelled here
    writer: sqlite3.Connection | None

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.where = str(path)
        self._reader: Reader | None = None
        self._window_reader: Reader | None = None  # opened at its first read
        self._connect_more: Callable[[], Awaitable[Any]] | None = None
        self.on_commit: list[Callable[[], None]] = []  # in-process wake-ups
        self.actor = real_user()  # who writes: named in every audit row
        self.created = ""  # what opening created or changed, told once
        self.read_only: StoreError | None = None  # opened read-only: why it cannot be written
        self.damage: StoreError | None = None  # once seen damaged, nothing more is written
        self._damaged: asyncio.Event | None = None  # made when first asked for: `damaged`
        self.faults = FaultLog()
        # The log lines the batched writer holds (`held`), and those of the flush under way.
        self.held: Callable[[], int] = lambda: 0
        self.inflight = 0
        self._commits = 0  # since the last checkpoint
        self._checkpoint: asyncio.Task[None] | None = None
        self.verdict: asyncio.Future[None] | None = None  # of a whole-file check under way

    @property
    def damaged(self) -> asyncio.Event:
        """Set once the store is found damaged (an engine stops, the dashboard ends): made
        when first asked for, by what waits on a loop, so that a loop-free read needs no
        asyncio."""
        if self._damaged is None:
            import asyncio

            self._damaged = asyncio.Event()
            if self.damage is not None:
                self._damaged.set()
        return self._damaged

    def _set_damaged(self) -> None:
        if self._damaged is not None:
            self._damaged.set()

    def await_verdict(self, check: concurrent.futures.Future[None]) -> None:
        """Write nothing until `check`, the whole-file check of the store still under way
        in a thread (`files.check_under_way`), has passed; reads go on meanwhile. A check
        that fails makes the store damaged, as a failure seen by a write does: nothing is
        written, `damaged` is set (an engine stops, the dashboard ends with its line)."""
        import asyncio

        self.verdict = asyncio.wrap_future(check)
        self.verdict.add_done_callback(self._take_verdict)

    def _take_verdict(self, verdict: asyncio.Future[None]) -> None:
        if verdict.cancelled():
            return
        e = verdict.exception()  # taken even when unused: asyncio tells of one never taken
        if e is None or self.damage is not None:
            return
        if isinstance(e, StoreError):
            self.damage = e
        elif isinstance(e, (sqlite3.Error, OSError)):
            self.damage = store_error(self.path, e)
        else:
            self.damage = StoreError(f"{self.path}: the check of the store failed: {e}")
        self._set_damaged()

    # ----------------------------------------------------------------- connections

    def connect_reader(
        self,
        con: aiosqlite.Connection | PlainConnection,
        more: Callable[[], Awaitable[aiosqlite.Connection | PlainConnection]],
    ) -> None:
        """The reader connection, and how to open another one like it (`window_reader`)."""
        self._reader = Reader(con, self.error)
        self._connect_more = more

    @property
    def reader(self) -> Reader:
        assert self._reader is not None, "store is not open"
        return self._reader

    async def window_reader(self) -> Reader:
        """The connection of the dashboard's window reads (interruptible: see `Reader`)."""
        if self._window_reader is None:
            assert self._connect_more is not None, "store is not open"
            try:
                con = await self._connect_more()
            except sqlite3.Error as e:
                raise self.error(e) from e
            if self._window_reader is None:
                self._window_reader = Reader(con, self.error, interruptible=True)
            else:  # opened meanwhile by another read
                await con.close()
        return self._window_reader

    async def close_connections(self) -> None:
        """Close the connections and end the writer's thread."""
        for reader in (self._reader, self._window_reader):
            if reader is not None:
                with contextlib.suppress(Exception):
                    if reader.interruptible:  # a window read under way: not waited for
                        await reader.con.interrupt()
                    await reader.con.close()
        await self.close_writer()

    async def close(self) -> None:
        """Let a checkpoint under way end, then close."""
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        await super().close()

    # ----------------------------------------------------------------- failures

    def fault(self, e: BaseException) -> StoreError | None:
        """The StoreError for a failure of the store itself (None for another error).
        Damage is final: from then on this store writes nothing."""
        if not is_fault(e):
            return None
        err = store_error(self.path, e)
        if error_code(e) in DAMAGED and self.damage is None:
            self.damage = err
            self._set_damaged()
        return err

    def error(self, e: sqlite3.Error) -> StoreError:
        """The StoreError an SQLite error leaves the store as (none leaks out): a failure
        of the store itself (see `fault`), or "store failure: …" for another one."""
        return self.fault(e) or store_error(self.path, e)

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        """Log a failed background step (call it in an `except`): the traceback of a bug
        (also of a bad statement), but a failure of the store once while it lasts
        (FaultLog), not every retry."""
        e = sys.exc_info()[1]
        if self.damage is not None:
            self.faults.note(f"{self.damage.fault}: nothing more is written to it")
        elif isinstance(e, StoreError) and (e.__cause__ is None or is_fault(e.__cause__)):
            self.faults.failed(e.fault, self.held() + self.inflight)
        else:
            logger.exception(what, *args)

    # ----------------------------------------------------------------- writing

    async def write(self, fn: Txn[T], *, inline: bool = False, work: bool = False) -> T:
        """Run `fn(con, rev, now)` whole in one `BEGIN IMMEDIATE` transaction of the writer:
        in the writer's thread, or with `inline` (small transactions: the event loop waits
        while it runs) right here on the loop's thread, which saves the two thread switches
        that cost more than the SQL of the hot transactions (claims, flushes). `work` (it
        may make tasks claimable) is PostgreSQL's hint to other processes; here agents
        find such work by polling, and this process's by `on_commit`.

        Another process holding the write lock is waited for here, up to BUSY_TIMEOUT_MS."""
        if self.read_only is not None:
            raise self.read_only
        import asyncio  # loaded already: writes run on the loop

        if self.verdict is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.verdict)
            self._take_verdict(self.verdict)
        give_up = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.001
        while True:
            if self.damage is not None:
                raise self.damage
            try:
                async with self.lock:
                    con = self.writer
                    assert con is not None, "store is not open"
                    if inline:
                        result = whole_transaction(con, fn)
                    else:
                        result = await self.in_thread(whole_transaction, con, fn)
                break
            except Locked:  # at BEGIN IMMEDIATE: nothing was done
                if time.monotonic() > give_up:
                    raise StoreError(
                        f"{self.path}: another process held the store's write lock for "
                        f"{BUSY_TIMEOUT_MS // 1000} s",
                        "the store stayed locked by another process",
                    ) from None
            except sqlite3.Error as e:
                raise self.error(e) from e
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        if not self.held():  # else the next flush of what is held says whether writes work
            self.faults.worked()
        for cb in self.on_commit:
            cb()
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_wal())
        return result

    async def _checkpoint_wal(self) -> None:
        """Copy the WAL into the store file, as SQLite does after a commit now and then, but
        in the writer's thread. Between two writes, so that the next one starts the WAL over."""
        try:
            async with self.lock:
                if self.damage is None and (con := self.writer) is not None:
                    await self.in_thread(_checkpoint, con)
        except Exception as e:
            if isinstance(e, sqlite3.Error) and (err := self.fault(e)) is not None:
                self.faults.failed(err.fault, self.held())
            else:
                log.exception("WAL checkpoint failed")
        finally:
            self._checkpoint = None

    # ----------------------------------------------------------------- reading

    async def fetchall(
        self, sql: str, args: Sequence[Any] = (), window: bool = False
    ) -> list[sqlite3.Row]:
        """Rows of a read (a reader connection: each read sees what is committed now;
        `window`: the dashboard's window reads', interrupted when their caller is
        cancelled)."""
        reader = await self.window_reader() if window else self.reader
        return list(await reader.execute_fetchall(sql, list(args)))

    async def exists(self, sql: str, args: Sequence[Any] = ()) -> bool:
        return bool(list(await self.reader.execute_fetchall(sql + " LIMIT 1", list(args))))


def is_busy(e: sqlite3.Error) -> bool:
    """Another connection holds the lock asked for: SQLITE_BUSY or one of its extended codes."""
    return getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def whole_transaction(con: sqlite3.Connection, fn: Txn[T]) -> T:
    """BEGIN IMMEDIATE, a new revision, `fn`, COMMIT; ROLLBACK when anything raised."""
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if is_busy(e):
            raise Locked() from e
        raise
    try:
        rev = con.execute("UPDATE counter SET rev = rev + 1 RETURNING rev").fetchall()[0][0]
        result = fn(con, rev, time.time())
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    return result


def _checkpoint(con: sqlite3.Connection) -> None:
    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def qmarks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values)
