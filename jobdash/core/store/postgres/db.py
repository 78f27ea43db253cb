"""The connections of a PostgreSQL store and how it writes: `Db`, which every area of the
backend holds, so that writing, the revision, reconnecting and the handling of failures are
in one place (as the SQLite backend's `Db`).

- One writer connection per process (psycopg, sync), used by one transaction at a time under
  the write lock, in the writer's own thread: a transaction is a plain function
  `txn(con, rev, now) -> T` run whole, one hop to that thread per transaction.
- **Revisions are transaction ids; the feed reads below a watermark.** A write transaction
  is stamped with its own transaction id (`pg_current_xact_id()`, taken in its first
  statement, before anything is written): no lock is needed to number it, so writers do
  not queue for a number. They commit in another order than they were numbered, so a
  reader does not take the highest number committed: `WATERMARK` (`Reads.rev`) is one
  below the lowest transaction id of this store's writers still running (the writers are
  found by the store's advisory lock, below, their ids in the lock table), else one below
  the next id to be given. Every transaction of this store at or below it has ended, so a
  reader that sees revision N sees every row stamped ≤ N, and the change feed never misses
  a change committed out of order (`tests/test_pg_feed_order.py`). The transactions of
  other stores and other programs in the cluster do not hold it back.
- **Writers that decide are serialised; claims and outcomes run side by side.** Every write
  transaction takes the store's advisory lock first (one key per schema, held to its
  commit). Most take it exclusively (`shared=False`, the default), and for them nothing
  changed: no other writer of any process runs meanwhile, so under READ COMMITTED each
  statement sees everything committed before, and the rules read what they decide on
  (cancel, retry, admission, recovery, schedules, failures' first-seen flags, metrics…).
  The hot path takes it shared (`shared=True`): claims and the batches of outcomes that
  write no log lines, no metrics and no failure (`PgFlusher.write_batch`), so the agents'
  transactions overlap. They run while no exclusive writer does (PostgreSQL queues a
  shared request behind a waiting exclusive one: neither starves), and what they decide
  on is locked row by row: an outcome is fenced on its task row (read `FOR UPDATE`, or
  written by an UPDATE whose condition is the fence: `sql.claims.complete_fenced`), a
  claim locks the tasks it takes (`SKIP LOCKED`) and the rows of the jobs it counts room
  in (`FOR NO KEY UPDATE`: `parallel` holds across claimants), and the jobs' counters are
  added to, never overwritten. A batch locks every job row it will write in one statement,
  in id order, before it writes the first (`PgFlusher.lock_jobs`): two batches never each
  hold a row the other waits for.
- Log lines' `seq` (a sequence, taken as they are inserted) is commit-ordered because only
  exclusive writers insert lines (a batch with lines or a failure, which may add a retry's
  line, is exclusive): a second writer numbers no line before the first has committed, so
  a follower that reads past a `seq` passes over no line committed later
  (`tests/test_pg_log_order.py`).
- The reader connection (psycopg, async, autocommit) serves reads and the change feed.
- A commit notifies the other processes (a wake-up hint, coalesced: `hints.py`); a third
  connection LISTENs, once a feed or an agent wants hints.
- Every psycopg error leaves as a StoreError; a broken connection is opened again at the
  next use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from jobdash.core.identity import real_user
from jobdash.core.model import BadInput
from jobdash.core.store.faults import FaultLog, StoreError
from jobdash.core.store.postgres.faults import is_fault, store_error
from jobdash.core.store.postgres.hints import Listener, Throttle, channel_of
from jobdash.core.store.sql.dialect import POSTGRES, Dialect
from jobdash.core.store.sql.writer import WriterThread

T = TypeVar("T")
# How long the server lets the writer's transaction sit between two statements before it
# ends it (and the connection). Jobdash's transactions pass milliseconds there; a writer
# stopped mid-transaction (SIGSTOP, a host cut off from the network) would otherwise hold
# the store's lock, and the feed's watermark, until its connection is found dead: every
# other writer and every feed of the store would wait (TCP finds a dead peer in hours).
# The server starts this clock only once it has answered every statement sent (a Sync of
# the protocol): so no write transaction runs in pipeline mode, where statements go without
# one and a writer stopped between two of them holds the lock for good (PostgreSQL 17's
# `transaction_timeout` would bound that too; Debian 12 has 15). What is left unbounded is a
# stop inside one burst that psycopg sends whole before it syncs (an `executemany`, a COPY of
# log lines): a millisecond or so of a transaction, against the whole of it before.
IDLE_IN_TRANSACTION = "5s"
# The store's advisory lock: a constant class and the schema's own key (stores live in
# schemas of one database). Taken first by every write transaction (see the module).
LOCK_KEY = "1785686579, hashtext(current_schema()) & 2147483647"
# A write transaction's first statement: the lock (exclusive, or shared), then its revision,
# its transaction id (given once the lock is held: see WATERMARK), and its wake-up hint for
# the other processes (`pg_notify`, sent by PostgreSQL at the COMMIT and never if it rolls
# back: hints.py), when it carries one.
_LOCKED = "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock{}({})) "
BEGIN = {
    (shared, hint): _LOCKED.format("_shared" if shared else "", LOCK_KEY)
    + "SELECT pg_current_xact_id()::text::bigint"
    + (", pg_notify(%s, %s)" if hint else "")
    + " FROM l"
    for shared in (False, True)
    for hint in (False, True)
}
# The revision a reader may read up to: one below the lowest id of a transaction still
# running (in the statement's snapshot) that may be this store's writer, else one below the
# next id. A running id is passed over only when the lock table shows it is held by a
# session without the store's lock: a writer takes the lock before its id, and an id that
# has no lock row yet (just given) counts as this store's. The lock table is read after
# the snapshot is taken (the statement's), so a writer seen running there is seen here.
WATERMARK = f"""
WITH s AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
l AS MATERIALIZED (SELECT locktype, pid, database, classid, objid, objsubid, transactionid,
    mode, granted FROM pg_locks),
mine AS (SELECT pid FROM l WHERE locktype = 'advisory' AND granted AND objsubid = 2
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND (classid, objid) = (SELECT k[1]::oid, k[2]::oid FROM (SELECT ARRAY[{LOCK_KEY}] k) k)),
others AS (SELECT transactionid::text::bigint AS x FROM l WHERE locktype = 'transactionid'
    AND mode = 'ExclusiveLock' AND granted AND pid NOT IN (SELECT pid FROM mine))
SELECT coalesce(min(x::text::bigint), (SELECT pg_snapshot_xmax(s)::text::bigint FROM s)) - 1
FROM s, pg_snapshot_xip(s.s) x
WHERE (x::text::bigint & 4294967295) NOT IN (SELECT x FROM others)
"""
# Revisions at or above the next transaction id: a store restored into another cluster
# (pg_dump, then psql or pg_restore) keeps the revisions its first cluster gave, while this
# one numbers its transactions from where it stands, and a row stamped higher than every
# revision to come would stay above the watermark: its changes would never reach a feed.
# Opening such a store stamps those rows 0 (older than any revision; every process reads a
# restored store afresh). Each table with revisions, read by its index of them.
REV_TABLES = ("jobs", "removed", "schedules", "agents", "agents_pruned", "read_marks")
NEXT_ID = "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
AHEAD = "SELECT " + " OR ".join(
    f"EXISTS (SELECT 1 FROM {t} WHERE rev >= {NEXT_ID})" for t in REV_TABLES
)


def renumber_restored(con: psycopg.Connection[Any]) -> bool:
    """Stamp 0 the rows whose revision is ahead of this cluster's transaction ids (see
    `AHEAD`), under the store's lock; whether there were any."""
    with con.transaction():
        row = con.execute(AHEAD).fetchone()
        if not (row and row[0]):
            return False
        con.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        for table in REV_TABLES:
            con.execute(f"UPDATE {table} SET rev = 0 WHERE rev >= {NEXT_ID}")
    log.warning(
        "the store's revisions were ahead of this server's transaction ids "
        "(restored from another cluster?): stamped 0"
    )
    return True


# A write transaction: given the writer, a new revision and the time, it runs whole.
Txn = Callable[[psycopg.Connection[Any], int, float], T]
log = logging.getLogger("jobdash.store")


def shown_location(url: str) -> str:
    """The store's URL as a person would name it, and as it can be given again: without a
    password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return url
    params.pop("password", None)
    user = params.pop("user", "")
    host = params.pop("host", "")
    port = params.pop("port", "")
    dbname = params.pop("dbname", "")
    socket = str(host).startswith("/")
    if socket:  # a socket folder goes in the query, as libpq writes it
        params = {"host": host, **({"port": port} if port else {}), **params}
        host = port = ""
    rest = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in params.items())
    at = f"{user}@" if user else ""
    return f"postgresql://{at}{host}{':' + str(port) if port else ''}/{dbname}" + (
        f"?{rest}" if rest else ""
    )


def conninfo(url: str) -> str:
    """`url` as libpq connection parameters, named for pg_stat_activity; BadInput (one
    line) for a URL libpq cannot read."""
    try:
        return make_conninfo(url, application_name="jobdash")
    except psycopg.ProgrammingError as e:
        raise BadInput(f"{shown_location(url)}: not a PostgreSQL URL: {str(e).strip()}") from None


class NotReady(Exception):
    """`Db.write`'s `ready` said no: nothing was written."""


class Db(WriterThread):
    """A store's connections, its write lock and its failure state (see the module)."""

    dialect: Dialect = POSTGRES  # how the shared SQL (core.store.sql) is spelled here
    writer: psycopg.Connection[Any] | None
    THREAD_NAME = "jobdash-pg"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.where = shown_location(url)
        self._reader: psycopg.AsyncConnection[Any] | None = None
        self.on_commit: list[Callable[[], None]] = []  # in-process wake-ups
        self.actor = real_user()  # who writes: named in every audit row
        self.created = ""  # what opening created, told once
        self.row_security = False  # row-level security applies to this role (roles.py)
        self.read_only: StoreError | None = None  # kept for the SQLite store's parity
        self.damage: StoreError | None = None
        self.damaged = asyncio.Event()
        self.faults = FaultLog()
        self.held: Callable[[], int] = lambda: 0
        self.inflight = 0
        # The outcomes held by the batched writer, and writing them now (set by the store):
        # a claim writes them first, see `Claims.claim`.
        self.outcomes_held: Callable[[], int] = lambda: 0
        self.record_outcomes: Callable[[], Awaitable[None]] = _nothing
        # Wake-up hints (hints.py): what this process's commits tell the others, and what
        # it hears of theirs.
        self.throttle = Throttle()
        self.listener = Listener(conninfo(url))
        self.channel = ""  # the NOTIFY channel, found when the writer connects
        self._owed: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- connections

    def connect_writer(self) -> psycopg.Connection[Any]:
        """The writer's connection (in its thread), opened again when it broke."""
        if self.writer is None or self.writer.closed or self.writer.broken:
            if self.writer is not None:
                with contextlib.suppress(Exception):
                    self.writer.close()
            self.writer = None
            con = psycopg.connect(conninfo(self.url), connect_timeout=10)
            con.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")
            self.channel = channel_of(con)
            con.commit()
            self.writer = con
        return self.writer

    async def reader(self) -> psycopg.AsyncConnection[Any]:
        con = self._reader
        if con is None or con.closed or con.broken:
            if con is not None:
                with contextlib.suppress(Exception):
                    await con.close()
            self._reader = None
            con = await psycopg.AsyncConnection.connect(
                conninfo(self.url), autocommit=True, connect_timeout=10
            )
            self._reader = con
        return con

    async def close_connections(self) -> None:
        await self.listener.close()
        if self._owed is not None:
            self._owed.cancel()
            self._owed = None
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
            self._reader = None
        await self.close_writer()

    # ----------------------------------------------------------------- failures

    def error(self, e: BaseException) -> StoreError:
        return store_error(self.where, e)

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        """Log a failed background step (call it in an `except`): a failure of the store
        once while it lasts (FaultLog), the traceback of a bug."""
        e = sys.exc_info()[1]
        if isinstance(e, StoreError) and (e.__cause__ is None or is_fault(e.__cause__)):
            self.faults.failed(e.fault, self.held() + self.inflight)
        else:
            logger.exception(what, *args)

    # ----------------------------------------------------------------- writing

    async def write(
        self,
        fn: Txn[T],
        ready: Callable[[], bool] | None = None,
        work: bool = False,
        shared: bool | Callable[[], bool] = False,
    ) -> T:
        """Run `fn(con, rev, now)` whole in one transaction of the writer, in its thread.
        `ready`: asked on the event loop once the write lock is held (no other write of
        this process is under way then); False gives the lock back and raises NotReady.
        `work`: it may make tasks claimable, so its hint wakes agents (hints.py).
        `shared`: it takes the store's lock shared, beside the other shared writers (a
        claim, a batch of outcomes: see the module); a function is asked after `ready`."""
        try:
            async with self.lock:
                if ready is not None and not ready():
                    raise NotReady()
                payload = self.throttle.payload(work)
                side = shared() if callable(shared) else shared
                result = await self.in_thread(self._whole_transaction, fn, payload, side)
                self._owe(self.throttle.committed(payload, work))
        except psycopg.Error as e:
            raise self.error(e) from e
        if not self.held():
            self.faults.worked()
        for cb in self.on_commit:
            cb()
        return result

    def _whole_transaction(self, fn: Txn[T], payload: str | None, shared: bool = False) -> T:
        """The store's lock, the revision and the hint (`BEGIN`; `payload` None: no hint),
        `fn`, COMMIT."""

        def whole(con: psycopg.Connection[Any]) -> T:
            hint = () if payload is None else (self.channel, payload)
            row = con.execute(BEGIN[shared, bool(hint)], hint).fetchone()
            assert row is not None, "no transaction id"
            return fn(con, int(row[0]), time.time())

        return self._committed(whole)

    def _committed(self, body: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`body`, then COMMIT; ROLLBACK when anything raised (a rolled-back write tells no
        one). Each statement is a round trip (see IDLE_IN_TRANSACTION): the store's lock is
        held from the first statement to the COMMIT, so the exclusive writers of every
        process wait for them in turn, and the shared ones for the rows they lock."""
        con = self.connect_writer()
        try:
            result = body(con)
            con.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                con.rollback()
            raise
        return result

    def _notify(self, payload: str) -> Callable[[psycopg.Connection[Any]], None]:
        """A transaction's body that only sends the hint (the one owed: `_send_owed`)."""

        def body(con: psycopg.Connection[Any]) -> None:
            con.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))

        return body

    def _owe(self, due: float | None) -> None:
        """A commit owes a NOTIFY, due in `due` seconds (None: it sent one)."""
        if due is not None and (self._owed is None or self._owed.done()):
            self._owed = asyncio.get_running_loop().create_task(self._send_owed(due))

    async def _send_owed(self, due: float) -> None:
        """The NOTIFY owed at the end of the window, in a transaction of its own unless a
        write sent one meanwhile. A failure is dropped: the hint is lost, not the change
        (the listeners' polling finds it)."""
        await asyncio.sleep(due)
        async with self.lock:
            payload = self.throttle.owed
            if payload is None:
                return
            try:
                await self.in_thread(self._committed, self._notify(payload))
            except psycopg.Error as e:
                log.debug("NOTIFY failed: %s", e)
                return
            self.throttle.notified()

    async def close(self) -> None:
        """The NOTIFY still owed goes out first (a last submission is heard), then the
        connections close once no transaction is under way."""
        await self.send_owed_now()
        await super().close()

    async def send_owed_now(self) -> None:
        """At close: the NOTIFY still owed goes out now (a last submission is heard)."""
        if self._owed is not None and not self._owed.done():
            self._owed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._owed
            self._owed = None
            await self._send_owed(0.0)

    def copy(self, cur: psycopg.Cursor[Any], into: str, rows: Iterable[Sequence[Any]]) -> None:
        """Write `rows` into `into` ("table (col, …)") by COPY; under row-level security,
        which refuses COPY, by INSERTs (one batch)."""
        if not self.row_security:
            with cur.copy(f"COPY {into} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        rows = list(rows)
        if rows:
            values = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"INSERT INTO {into} VALUES ({values})", rows)

    # ----------------------------------------------------------------- reading

    async def fetchall(
        self, sql: str, args: Sequence[Any] = (), window: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows of a read (autocommit: each read sees what is committed now). A read whose
        caller is cancelled is cancelled in the server too (psycopg does so), the
        dashboard's window reads (`window`) as any other."""
        try:
            con = await self.reader()
            cur = await con.execute(sql, list(args))
            return await cur.fetchall()
        except psycopg.Error as e:
            raise self.error(e) from e

    async def exists(self, sql: str, args: Sequence[Any] = ()) -> bool:
        return bool(await self.fetchall(sql + " LIMIT 1", args))


async def _nothing() -> None:
    return None


def marks(values: Sequence[Any] | Any) -> str:
    """Placeholders for a list of values (`IN (…)`)."""
    return ", ".join("%s" for _ in values)
