"""The SQLite store (aiosqlite): the single source of truth for jobs, tasks, logs and agents.

Design, from ARCHITECTURE.md:
- WAL, and every write transaction starts with `BEGIN IMMEDIATE`, so two processes never
  deadlock upgrading a read lock ("database is locked"). The writer waits for another
  process's lock by sleeping in the event loop and trying again (its own busy timeout is 0),
  never inside SQLite: so its small, hot transactions can run on the event loop's thread.
- One writer connection per process. Small writes (log lines, task completions, progress)
  are buffered and flushed together in one transaction by a single flusher task.
- Claims are one statement (`UPDATE … WHERE id IN (SELECT …) RETURNING …`); completions are
  fenced on (task id, attempt, owner, status = running).
- Every write transaction takes a new revision from `counter` and stamps the rows it changes,
  so a watcher in any process asks "what changed since revision N" after it sees
  `PRAGMA data_version` move.
- It decides no rule of the product: what a request, an outcome or an agent's death does to a
  job and its tasks is `core.lifecycle`'s decision, which it applies in the transaction that
  read what the decision needs (see that module for what a store must guarantee).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Iterable,
    Sequence,
)
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from jobdash.core.alarm import Alarm
from jobdash.core.catalogue import unrunnable
from jobdash.core.identity import real_user, user_name
from jobdash.core.lifecycle import (
    QUARANTINE_AFTER,
    SETTLING,
    LostTask,
    added_task_status,
    admission,
    after_failure,
    check_task_move,
    decide_cancel,
    decide_pause,
    decide_resume,
    decide_retry,
    judge,
    lock_wait,
    refuse_lock,
    settle,
    suspect_way,
)
from jobdash.core.model import (
    FINISHED_JOB,
    AuditEvent,
    BadInput,
    Job,
    JobStatus,
    LogLine,
    NotFound,
    Refused,
    Task,
    TaskStatus,
    Trigger,
)
from jobdash.core.store.agents import AgentStore
from jobdash.core.store.catalogue import CatalogueStore, live_catalogue
from jobdash.core.store.faults import FaultLog, StoreError
from jobdash.core.store.files import (
    check_store_file,
    make_private,
    private_store,
    readable_uri,
    sidecar,
)
from jobdash.core.store.records import (
    Changes,
    Claim,
    Claimant,
    JobFilter,
    NewJob,
    NewTask,
    Outcome,
    Refill,
)
from jobdash.core.store.schedules import ScheduleStore, report_state
from jobdash.core.store.schema import (
    ACTIVE_ONLY,
    APP_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    schema_mismatch,
)
from jobdash.core.store.sqlite_faults import (
    DAMAGED,
    Reads,
    cannot_write,
    error_code,
    is_fault,
    store_error,
    why_not_writable,
)
from jobdash.core.store.sqlite_filters import job_query
from jobdash.core.store.waits import WaitStore
from jobdash.present.words import plural

T = TypeVar("T")
log = logging.getLogger("jobdash.store")

BUSY_TIMEOUT_MS = 30_000
INLINE_MAX_LINES = 1_000  # a flush with more log lines runs in the thread: the loop goes on
CHECKPOINT_EVERY = 200  # commits of the writer between WAL checkpoints (in its thread)
FLUSH_INTERVAL = 0.05  # seconds a log line may wait before it is written
MAX_BUFFERED_LINES = 20_000  # writers of log lines wait (back-pressure) past this
MAX_BUFFERED_BYTES = 64 << 20  # … or past this much text (lines are up to 1 MiB)

# A running job with nothing running shows why it waits (`waiting`) instead of its info.
JOB_COLUMNS = (
    "id, type, params, user, trigger, schedule_id, fire_time, status, created, updated, "
    "started, finished, pending, running, succeeded, failed, cancelled, skipped, progress, "
    "CASE WHEN waiting != '' AND status = 'running' AND running = 0 THEN waiting ELSE info END, "
    "metrics, warnings, target, parallel, cancellable, rev, idle_time, paused_at"
)
TASK_COLUMNS = (
    "id, job_id, seq, name, item, status, attempt, agent, started, finished, exit_code, "
    "error, progress, not_before"
)
COUNT_COLUMNS = ("pending", "running", "succeeded", "failed", "cancelled", "skipped")
INFO_MAX = 300
SETTLING_SQL = ", ".join(f"'{s}'" for s in sorted(SETTLING))  # the statuses a job settles from

# What a claim sets on a task, and what it returns.
CLAIM_SET = (
    "status = 'running', attempt = attempt + 1, owner = ?, agent = ?, lease_until = ?, "
    "started = ?, finished = NULL, exit_code = NULL, error = '', progress = 0, pgid = NULL"
)
CLAIM_RETURNING = "id, job_id, seq, name, kind, spec, item, attempt, lost"
# The first suspect task ready to run alone (`%s`: the claimant's type filter), since when it
# is ready, and its job's id, timeout, params, type and type hash; found through the (nearly
# empty) tasks_suspect index.
SUSPECT_READY = (
    "SELECT t.id, t.not_before, j.id, j.timeout, j.params, j.type, j.type_hash FROM tasks t "
    "INDEXED BY tasks_suspect JOIN jobs j ON j.id = t.job_id "
    "WHERE t.status = 'pending' AND t.lost > 0 AND t.not_before <= ? "
    "AND j.status = 'running' AND j.running < j.parallel%s ORDER BY t.id LIMIT 1"
)
# An ordinary task of `jobs` ready to run (inside EXISTS).
ORDINARY_READY = (
    "SELECT 1 FROM tasks t WHERE t.job_id = jobs.id AND t.status = 'pending' "
    "AND t.not_before <= ? AND t.lost = 0"
)
# Ends the span a job's clock stood still (a pause, the gap before a retry's first task):
# its seconds go to idle_time. One parameter: the time it ends.
END_IDLE = (
    "idle_time = idle_time + CASE WHEN paused_at IS NULL THEN 0 ELSE max(0, ? - paused_at) END, "
    "paused_at = NULL"
)


_STATUS = {str(s): s for s in JobStatus}
_TRIGGER = {str(t): t for t in Trigger}
_loads = json.loads


def job_from_row(r: Sequence[Any]) -> Job:
    """A job row as a Job. Hot: the dashboard converts 100,000 of them at start, so the
    enums come from dicts and the usual empty JSON objects are not parsed."""
    params, metrics = r[2], r[20]
    return Job(
        r[0],  # id
        r[1],  # type
        {} if params == "{}" else _loads(params),
        r[3],  # user
        _TRIGGER[r[4]],
        _STATUS[r[7]],
        r[8],  # created
        r[9],  # updated
        r[10],  # started
        r[11],  # finished
        r[5],  # schedule_id
        r[6],  # fire_time
        r[12],  # pending
        r[13],  # running
        r[14],  # succeeded
        r[15],  # failed
        r[16],  # cancelled
        r[17],  # skipped
        r[18],  # progress
        r[19],  # info
        {} if metrics == "{}" else _loads(metrics),
        r[21],  # warnings
        r[22],  # target
        r[23],  # parallel
        bool(r[24]),  # cancellable
        r[25],  # rev
        r[26],  # idle_time
        r[27],  # paused_at
    )


def task_from_row(r: Sequence[Any]) -> Task:
    return Task(
        id=r[0],
        job_id=r[1],
        seq=r[2],
        name=r[3],
        item=json.loads(r[4]),
        status=TaskStatus(r[5]),
        attempt=r[6],
        agent=r[7],
        started=r[8],
        finished=r[9],
        exit_code=r[10],
        error=r[11],
        progress=r[12],
        not_before=r[13],
    )


class Counts:
    """Per-job deltas of task counters, applied in one executemany. The status changes that
    claims, outcomes, cancels and recovery make pass here, and are checked by the lifecycle
    (`check_task_move`): a move it does not allow is a bug, and its transaction is rolled back
    rather than written. (Retry re-counts a job's tasks instead.)"""

    def __init__(self) -> None:
        self.delta: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))

    def move(self, job_id: int, old: str | None, new: str | None, n: int = 1) -> None:
        if old and new:
            check_task_move(job_id, old, new)
        d = self.delta[job_id]
        if old:
            d[old] -= n
        if new:
            d[new] += n

    def rows(self, rev: int, now: float) -> list[tuple[Any, ...]]:
        return [
            (*(d[c] for c in COUNT_COLUMNS), now, rev, job_id) for job_id, d in self.delta.items()
        ]


class SqliteStore(ScheduleStore, CatalogueStore, AgentStore, WaitStore):
    """jobdash's embedded store: the SQLite backend of the Store contract (`base.Store`).
    Open with `await SqliteStore.open(path)`, or `base.open_store(location)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._w: aiosqlite.Connection | None = None  # the writer
        self._r: aiosqlite.Connection | None = None  # reads and the change feed
        self._wlock = asyncio.Lock()
        # (job id, task id, time, stream, text, attempt)
        self._logs: list[tuple[int, int | None, float, str, str, int | None]] = []
        self._outcomes: list[Outcome] = []
        self._progress: dict[int, float] = {}
        self._pgids: dict[int, int] = {}
        self._metrics: dict[int, dict[str, float]] = defaultdict(dict)
        self._warnings: dict[int, int] = defaultdict(int)
        self._flush_wanted = Alarm()
        self._flush_now = Alarm()  # an outcome waits: no FLUSH_INTERVAL delay
        self._flushed = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._commits = 0  # since the last checkpoint
        self._checkpoint: asyncio.Task[None] | None = None
        self._closed = False
        self.on_commit: list[Callable[[], None]] = []  # in-process wake-ups
        self.refill: Refill | None = None  # the agent whose freed slots a flush refills
        self.actor = real_user()  # who writes: named in every audit row
        # What opening created or changed, to tell the user once ("created store at …").
        self.created = ""
        self._read_only: StoreError | None = None  # opened read-only: why it cannot be written
        self._reads: Reads | None = None
        self._damage: StoreError | None = None  # once seen damaged, nothing more is written
        self.damaged = asyncio.Event()
        self.faults = FaultLog()
        self._inflight = 0  # log lines in the flush under way
        self._log_bytes = 0  # characters of the lines in `_logs`

    # ----------------------------------------------------------------- opening

    @classmethod
    async def open(
        cls, path: Path | str, create_folder: bool = False, reading: bool = False
    ) -> SqliteStore:
        """Open the store at `path`, creating it only where none exists (a missing or empty
        file; the folder too when `create_folder`, the default path's). StoreError (one
        line) when it cannot be used: another user's, not a store, damaged, unreadable,
        or not writable where a write is needed. `created` then says what was created, or
        that the store's mode was made 0600.

        `reading`: for a command that only reads. A store that cannot be written (a
        read-only file system, a file or folder not writable by you) is then opened
        read-only (see `_open_read_only`); its writes raise why it cannot be written."""
        path = Path(path).expanduser()
        for _ in range(3):
            try:
                return await cls._open(path, create_folder, reading)
            except _CreatedMeanwhile:
                # Another process created the store between our look and our create (a
                # dashboard and a command started together): look at it again, now made.
                await asyncio.sleep(0.05)
        raise StoreError(f"{path}: changed while jobdash opened it; try again")

    @classmethod
    async def _open(cls, path: Path, create_folder: bool, reading: bool) -> SqliteStore:
        version = check_store_file(path, create_folder)
        store = cls(path)
        made = False
        try:
            store._make_private()
            if version is None:
                made = store._create_file()
            await store._connect(version)
        except BaseException as e:
            await store._close_connections()
            if made:  # nothing half-made is left behind
                with contextlib.suppress(OSError):
                    if path.stat().st_size == 0:
                        path.unlink()
            if isinstance(e, (sqlite3.Error, OSError)):
                err = store_error(path, e)
                if reading and version is not None and cannot_write(e):
                    return await cls._open_read_only(path, version, err, store.created)
                raise err from None
            raise
        return store

    @classmethod
    async def _open_read_only(
        cls, path: Path, version: int, why: StoreError, note: str
    ) -> SqliteStore:
        """A store that cannot be written (`why`), opened to be read (see `readable_uri`):
        a reader and no writer; every write raises `why`."""
        reason = why_not_writable(path) or why.fault
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{path}: made by an older jobdash (store schema {version}, this version "
                f"uses {SCHEMA_VERSION}): upgrading it writes it, and {reason}",
                why.fault,
            )
        store = cls(path)
        store.created = note
        store._read_only = why
        try:
            store._r = await _connect_reader(readable_uri(path))
        except BaseException as e:
            await store._close_connections()
            if isinstance(e, (sqlite3.Error, OSError)):
                raise store_error(path, e) from None
            raise
        store._reads = Reads(store._r, store._error)
        return store

    def _make_private(self) -> None:
        """An existing store with group or other bits is made 0600 (`private_store`)."""
        if note := private_store(self.path):
            self._note(note)

    def _note(self, text: str) -> None:
        self.created = f"{self.created}; {text}" if self.created else text

    def _create_file(self) -> bool:
        """Make the store's file (0600, before SQLite touches it: job logs may hold
        secrets) and a missing default folder (0700). True when the file was made here.
        A dangling symbolic link of the user's own is followed: the store is made where it
        points to (0600 too); one of another user's is not (it could point anywhere)."""
        path = self.path
        folder = ""
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, mode=0o700)
            folder = " (and its folder, mode 0700)"
        target, where = path, ""
        if path.is_symlink() and not path.exists():
            owner = path.lstat().st_uid
            if owner != os.geteuid():
                raise StoreError(
                    f"{path}: a symbolic link of {user_name(owner)}'s to {os.readlink(path)}, "
                    "which does not exist: jobdash creates a store only through a link of "
                    "your own"
                )
            target = Path(os.path.realpath(path))
            if not target.parent.is_dir():
                raise StoreError(f"{path}: links to {target}, in no folder {target.parent}")
            where = f" (at {target}, where the link points)"
        try:
            fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # an empty file: SQLite takes it for an empty database
            if where or not path.is_file() or path.stat().st_size:
                raise _CreatedMeanwhile() from None
            self._note(f"created store at {path} (in the empty file there)")
            return False
        os.close(fd)
        self._note(f"created store at {path}{where}{folder}")
        return True

    async def _connect(self, version: int | None) -> None:
        # -wal and -shm files get the store's mode: a read-only session leaves them so.
        self._chmod_sidecars()
        # check_same_thread=False: `write` runs small transactions on the loop's thread while
        # aiosqlite's thread is idle (both under the write lock, never at the same time).
        self._w = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        # Pragmas that answer a row are read to the end: a statement left open on the writer
        # makes its next COMMIT fail.
        await self._w.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await self._w.execute_fetchall("PRAGMA journal_mode = WAL")
        await self._w.execute_fetchall("PRAGMA synchronous = NORMAL")
        await self._w.execute_fetchall("PRAGMA foreign_keys = ON")
        if version != SCHEMA_VERSION:  # a store up to date is not written to by opening it
            await self._migrate()
        # From now on a locked store is waited for in `write`, and checkpoints (which copy
        # the WAL into the file and sync it) run in aiosqlite's thread: neither may hold up
        # the event loop during a transaction run on its thread.
        await self._w.execute_fetchall("PRAGMA busy_timeout = 0")
        await self._w.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
        self._chmod_sidecars()
        self._r = await _connect_reader(self.path)
        self._reads = Reads(self._r, self._error)
        self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    def _chmod_sidecars(self) -> None:
        """-wal and -shm hold job output too: 0600 (their owner stays the store's; one
        that a session on a read-only store made 0400 is writable again). Only files of
        the store's owner, never through a link (see `make_private`)."""
        with contextlib.suppress(OSError):
            uid = self.path.stat().st_uid
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    make_private(sidecar(self.path, suffix), uid, follow=False, exact=0o600)

    async def _migrate(self) -> None:
        w = self._writer
        await w.execute("BEGIN IMMEDIATE")
        try:
            rows = await w.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
            )
            version = 0
            if rows:
                got = await w.execute_fetchall("SELECT value FROM meta WHERE key='schema_version'")
                version = int(next(iter(got))[0]) if got else 0
            if version > SCHEMA_VERSION:  # made newer between the check and this lock
                raise BadInput(
                    f"{self.path}: made by a newer jobdash (store schema {version}, this "
                    f"version knows {SCHEMA_VERSION}); upgrade jobdash — the store was left "
                    "untouched"
                )
            # The upgrade from `version` assumes that version's tables: on other tables (a
            # schema_version edited or restored apart from them) it would fail half-way.
            have = {
                r[0]
                for r in await w.execute_fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
            if mismatch := schema_mismatch(have, version):
                raise StoreError(
                    f"{self.path}: its tables do not match its recorded schema version "
                    f"{version} ({mismatch}); jobdash will not upgrade it and left it "
                    "untouched: restore a backup, or set meta.schema_version to the version "
                    "its tables are"
                )
            for i in range(version, SCHEMA_VERSION):
                for stmt in split_sql(MIGRATIONS[i]):
                    await w.execute(stmt)
            await w.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (APP_ID,))
            await w.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            await w.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                await w.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Write what is buffered and close. The connections are closed whatever happens
        (their threads would keep the process alive); StoreError when buffered lines or
        results could not be written (they are lost: say so)."""
        if self._closed:
            return
        lost: StoreError | None = None
        try:
            await self.flush()
        except StoreError as e:
            held = len(self._logs)
            lost = StoreError(
                f"{self.path}: {e.fault}: {held} log line{'s' * (held != 1)} held in memory "
                "could not be written",
                e.fault,
            )
        finally:
            self._closed = True
            if self._flusher:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
            if self._checkpoint is not None:
                with contextlib.suppress(Exception):
                    await self._checkpoint
            async with self._wlock:
                await self._close_connections()
        if self._damage is not None:
            raise self._damage
        if lost is not None:
            raise lost

    async def _close_connections(self) -> None:
        for con in (self._w, self._r):
            if con is not None:
                with contextlib.suppress(Exception):
                    await con.close()

    @property
    def _writer(self) -> aiosqlite.Connection:
        assert self._w is not None, "store is not open"
        return self._w

    @property
    def _reader(self) -> Reads:
        assert self._reads is not None, "store is not open"
        return self._reads

    @property
    def location(self) -> str:
        return str(self.path)

    def _fault(self, e: BaseException) -> StoreError | None:
        """The StoreError for a failure of the store itself (None for another error).
        Damage is final: from then on this store writes nothing."""
        if not is_fault(e):
            return None
        err = store_error(self.path, e)
        if error_code(e) in DAMAGED and self._damage is None:
            self._damage = err
            self.damaged.set()
        return err

    def _error(self, e: sqlite3.Error) -> StoreError:
        """The StoreError an SQLite error leaves the store as (none leaks out): a failure
        of the store itself (see `_fault`), or "store failure: …" for another one."""
        return self._fault(e) or store_error(self.path, e)

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        """Log a failed background step (call it in an `except`): the traceback of a bug
        (also of a bad statement), but a failure of the store once while it lasts
        (FaultLog), not every retry."""
        e = sys.exc_info()[1]
        if self._damage is not None:
            self.faults.note(f"{self._damage.fault}: nothing more is written to it")
        elif isinstance(e, StoreError) and (e.__cause__ is None or is_fault(e.__cause__)):
            self.faults.failed(e.fault, len(self._logs) + self._inflight)
        else:
            logger.exception(what, *args)

    # ----------------------------------------------------------------- writing

    async def write(
        self,
        fn: Callable[[aiosqlite.Connection, int, float], Awaitable[T]],
        *,
        whole: bool = False,
        inline: bool = False,
    ) -> T:
        """Run `fn(conn, rev, now)` in one `BEGIN IMMEDIATE` transaction of the writer.

        `whole`: `fn` awaits nothing but the connection (and helpers that only use it), so
        the transaction runs in one go, given a stand-in connection whose awaits complete at
        once (`_ThreadConn`): in aiosqlite's thread in one hop, or with `inline` (for small
        transactions: the event loop waits while it runs) right here on the loop's thread.
        Otherwise each await is a round trip to aiosqlite's thread. Both ways cost more than
        the SQL of the hot transactions (flush, claim): each statement passes the GIL to the
        other thread and back, and waits its turn while the loop is busy.

        Another process holding the write lock is waited for here, up to BUSY_TIMEOUT_MS."""
        if self._read_only is not None:
            raise self._read_only
        give_up = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.001
        while True:
            if self._damage is not None:
                raise self._damage
            try:
                async with self._wlock:
                    result = await self._write_once(fn, whole, inline)
                break
            except _Locked:  # at BEGIN IMMEDIATE: nothing was done
                if time.monotonic() > give_up:
                    raise StoreError(
                        f"{self.path}: another process held the store's write lock for "
                        f"{BUSY_TIMEOUT_MS // 1000} s",
                        "the store stayed locked by another process",
                    ) from None
            except sqlite3.Error as e:
                raise self._error(e) from e
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        if not self._logs:  # else the next flush of what is held says whether writes work
            self.faults.worked()
        for cb in self.on_commit:
            cb()
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_wal())
        return result

    async def _write_once(
        self,
        fn: Callable[[aiosqlite.Connection, int, float], Awaitable[T]],
        whole: bool,
        inline: bool,
    ) -> T:
        w = self._writer
        if whole:
            if inline:
                return cast(T, _whole_transaction(w._conn, fn))
            return cast(T, await w._execute(_whole_transaction, w._conn, fn))
        try:
            await w.execute_fetchall("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise _Locked() from e
            raise
        try:
            rows = await w.execute_fetchall("UPDATE counter SET rev = rev + 1 RETURNING rev")
            rev = next(iter(rows))[0]
            result = await fn(w, rev, time.time())
            await w.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                await w.execute("ROLLBACK")
            raise
        return result

    async def _checkpoint_wal(self) -> None:
        """Copy the WAL into the store file, as SQLite does after a commit now and then, but
        in aiosqlite's thread. Between two writes, so that the next one starts the WAL over."""
        try:
            async with self._wlock:
                if self._damage is None:
                    await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as e:
            if isinstance(e, sqlite3.Error) and (err := self._fault(e)) is not None:
                self.faults.failed(err.fault, len(self._logs))
            else:
                log.exception("WAL checkpoint failed")
        finally:
            self._checkpoint = None

    async def _flush_loop(self) -> None:
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
                self.report_failure(log, "writing buffered log lines and results failed")
                if self.backlogged():
                    self.faults.note(
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
        if self._closed:
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

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> list[bool]:
            refilled.clear()
            if logs:
                await w.executemany(
                    "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    logs,
                )
                last: dict[int, str] = {}
                for job_id, _t, _ts, stream, text, _a in logs:
                    if stream != "system" and text.strip():
                        last[job_id] = text
                await w.executemany(
                    "UPDATE jobs SET info = ?, updated = ?, rev = ? WHERE id = ?",
                    [(t.strip()[:INFO_MAX], now, rev, j) for j, t in last.items()],
                )
            if progress:
                await w.executemany(
                    "UPDATE tasks SET progress = ? WHERE id = ? AND status = 'running'",
                    [(p, tid) for tid, p in progress.items()],
                )
            if pgids:
                await w.executemany(
                    "UPDATE tasks SET pgid = ? WHERE id = ? AND status = 'running'",
                    [(g, tid) for tid, g in pgids.items()],
                )
            if metrics:
                rows = await w.execute_fetchall(
                    f"SELECT id, metrics FROM jobs WHERE id IN ({qmarks(metrics)})", list(metrics)
                )
                merged = []
                for job_id, text in rows:
                    total = json.loads(text)
                    for k, v in metrics[job_id].items():
                        total[k] = total.get(k, 0) + v
                    merged.append((json.dumps(total), rev, job_id))
                await w.executemany("UPDATE jobs SET metrics = ?, rev = ? WHERE id = ?", merged)
            if warnings:
                await w.executemany(
                    "UPDATE jobs SET warnings = warnings + ?, rev = ? WHERE id = ?",
                    [(n, rev, j) for j, n in warnings.items()],
                )
            accepted = await self._complete(w, rev, now, outcomes) if outcomes else []
            refill = self.refill
            if outcomes and refill is not None:
                # The slots these outcomes freed are filled in the same transaction: one
                # write per finished batch instead of a completion and then a claim.
                want = refill.want()
                if want is not None:
                    refilled[:] = [refill, *await self._claim_in(w, rev, now, want)]
            touched = {j for j, *_ in logs} | set(metrics) | set(warnings)
            if progress:
                rows = await w.execute_fetchall(
                    f"SELECT DISTINCT job_id FROM tasks WHERE id IN ({qmarks(progress)})",
                    list(progress),
                )
                touched |= {r[0] for r in rows}
            await self._update_progress(w, rev, touched)
            return accepted

        self._inflight = len(logs)
        try:
            accepted = await self.write(txn, whole=True, inline=len(logs) <= INLINE_MAX_LINES)
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
            for o in outcomes:
                if o.future and not o.future.done():
                    o.future.set_exception(e)
            raise
        finally:
            self._inflight = 0
        self.faults.worked()
        if len(refilled) > 1:
            refilled[0].started(refilled[1:])
        for o, ok in zip(outcomes, accepted, strict=True):
            if o.future and not o.future.done():
                o.future.set_result(ok)

    def _want_flush(self) -> None:
        self._flush_wanted.ring()

    async def append_log(
        self,
        job_id: int,
        task_id: int | None,
        stream: str,
        text: str,
        attempt: int | None = None,
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
        self,
        job_id: int,
        task_id: int | None,
        stream: str,
        text: str,
        attempt: int | None = None,
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
        outcome.future = asyncio.get_running_loop().create_future()
        self._outcomes.append(outcome)
        self._want_flush()
        self._flush_now.ring()
        return await outcome.future

    # ----------------------------------------------------------------- jobs

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> int:
            if nj.on_lock == "refuse" and nj.lock_keys:
                held = await self._holders(w, nj.lock_keys, None)
                if held:
                    raise refuse_lock(nj.type, *held[0])
            try:
                cur = await w.execute(
                    "INSERT INTO jobs (type, params, user, trigger, schedule_id, fire_time, "
                    "status, created, updated, pending, target, parallel, cancellable, on_lock, "
                    "timeout, retries, backoff, info, rev, type_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        nj.type,
                        json.dumps(nj.params),
                        nj.user,
                        str(nj.trigger),
                        nj.schedule_id,
                        nj.fire_time,
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
                        rev,
                        nj.type_hash,
                    ),
                )
            except sqlite3.IntegrityError as e:
                if nj.schedule_id is not None:
                    raise Refused(
                        f"schedule {nj.schedule_id} already started a job for that fire time"
                    ) from e
                raise
            job_id = cur.lastrowid
            assert job_id is not None
            await w.executemany(
                "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (job_id, i, t.key, t.name, t.kind, json.dumps(t.spec), json.dumps(t.item))
                    for i, t in enumerate(nj.tasks, 1)
                ],
            )
            await w.executemany(
                "INSERT OR IGNORE INTO job_locks (job_id, key) VALUES (?, ?)",
                [(job_id, k) for k in nj.lock_keys],
            )
            if any(nj.report.values()):
                await w.execute(
                    "INSERT INTO reports (job_id, state, recipients) VALUES (?, 'pending', ?)",
                    (job_id, json.dumps(nj.report)),
                )
            if audit_user:
                await self._audit(w, now, audit_user, "run", f"job:{job_id}", nj.type)
            return job_id

        job_id = await self.write(txn)
        return await self.get_job(job_id)

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Add tasks to a running job (a Python job function adding work); keys dedupe."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> int:
            # One executemany (one thread hop), not one round trip per task. Each row takes
            # the next free seq; a duplicate key is ignored and takes none.
            cur = await w.executemany(
                "INSERT OR IGNORE INTO tasks (job_id, seq, key, name, kind, spec, item, status)"
                " VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks WHERE job_id = ?),"
                " ?, ?, ?, ?, ?, 'pending')",
                [
                    (job_id, job_id, t.key, t.name, t.kind, json.dumps(t.spec), json.dumps(t.item))
                    for t in tasks
                ],
            )
            added = max(cur.rowcount, 0)
            status = await self._job_status(w, job_id)
            if added and added_task_status(status) is TaskStatus.CANCELLED:
                await w.execute(
                    "UPDATE tasks SET status = 'cancelled', finished = ? "
                    "WHERE job_id = ? AND status = 'pending'",
                    (now, job_id),
                )
                await w.execute(
                    "UPDATE jobs SET cancelled = cancelled + ?, rev = ?, updated = ? WHERE id = ?",
                    (added, rev, now, job_id),
                )
            else:
                await w.execute(
                    "UPDATE jobs SET pending = pending + ?, rev = ?, updated = ? WHERE id = ?",
                    (added, rev, now, job_id),
                )
            await self._update_progress(w, rev, {job_id})
            return added

        return await self.write(txn)

    async def _job_status(self, w: aiosqlite.Connection, job_id: int) -> JobStatus:
        rows = list(await w.execute_fetchall("SELECT status FROM jobs WHERE id = ?", (job_id,)))
        if not rows:
            raise NotFound(f"no job {job_id}")
        return JobStatus(rows[0][0])

    async def _holders(
        self, w: aiosqlite.Connection, keys: Sequence[str], job_id: int | None
    ) -> list[tuple[str, int]]:
        rows = await w.execute_fetchall(
            f"SELECT key, job_id FROM locks WHERE key IN ({qmarks(keys)}) AND job_id IS NOT ?",
            (*keys, job_id),
        )
        return [(r[0], r[1]) for r in rows]

    async def admit(self, live_after: float | None = None) -> list[int]:
        """Move queued and waiting jobs to running when their locks are free (FIFO by id).

        A job whose lock is held waits, with the holder named in its info line. With
        `live_after` (agents heart-beating since then are live), so does a job whose type
        and hash no live agent runs, with the reason, and it takes no lock meanwhile (an
        engine always passes it; None is for tools and tests without agents).
        """

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> list[int]:
            rows = await w.execute_fetchall(
                "SELECT id, status, info, type, type_hash FROM jobs "
                f"WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY} "
                "ORDER BY id"
            )
            live = None if live_after is None else await live_catalogue(w, live_after)
            changed = []
            for job_id, status, info, type_name, digest in rows:
                reason = unrunnable(type_name, digest, live) if live is not None else None
                keys = []
                if reason is None:
                    keys = [
                        r[0]
                        for r in await w.execute_fetchall(
                            "SELECT key FROM job_locks WHERE job_id = ?", (job_id,)
                        )
                    ]
                    held = await self._holders(w, keys, job_id) if keys else []
                    if held:
                        reason = lock_wait(*held[0])
                move = admission(status, info, reason)
                if move is None:
                    continue
                new, info_now = move
                admitted = new is JobStatus.RUNNING
                if admitted:  # it takes its locks
                    await w.executemany(
                        "INSERT INTO locks (key, job_id) VALUES (?, ?)",
                        [(k, job_id) for k in keys],
                    )
                await w.execute(
                    "UPDATE jobs SET status = ?, admitted = ?, info = ?, updated = ?, rev = ? "
                    "WHERE id = ?",
                    (str(new), int(admitted), info_now, now, rev, job_id),
                )
                changed.append(job_id)
            # A job with no tasks at all (empty glob) is finished as soon as it is admitted.
            await self._settle(w, rev, now, changed)
            return changed

        return await self.write(txn)

    async def claim(
        self,
        owner: str,
        agent: str,
        limit: int | Callable[[], int],
        lease: float,
        types: Collection[str] | None = None,
        idle: bool | Callable[[], bool] = True,
    ) -> list[Claim]:
        """Claim up to `limit` pending tasks of running jobs, within each job's `parallel`,
        of the job types whose hashes are in `types` (None: any; an agent passes its own
        catalogue's). A suspect task (see `lifecycle.suspect_way`) is claimed alone, by an idle claimant.

        `limit` and `idle` may be functions, asked inside the transaction: an agent's free
        slots counted there cannot be taken meanwhile by a refill (see `Refill`)."""
        if isinstance(limit, int) and limit <= 0:
            return []

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> list[Claim]:
            n = limit if isinstance(limit, int) else limit()
            if n <= 0:
                return []
            c = Claimant(owner, agent, n, lease, types, idle if isinstance(idle, bool) else idle())
            return await self._claim_in(w, rev, now, c)

        return await self.write(txn, whole=True, inline=True)

    async def _claim_in(
        self, w: aiosqlite.Connection, rev: int, now: float, c: Claimant
    ) -> list[Claim]:
        if c.types is not None and not c.types:
            return []  # an engine with no job types runs nothing (and `IN ()` has no plan)
        jobs_of, type_args = _types_sql(c.types)
        suspect = list(await w.execute_fetchall(SUSPECT_READY % jobs_of, (now, *type_args)))
        way = suspect_way(suspect[0][1] if suspect else None, c.idle, now)
        if way == "drain":
            return []
        if way == "alone":
            task_id, _ready, job_id, timeout, params, type_name, digest = suspect[0]
            extra = {job_id: (timeout, json.loads(params), type_name, digest)}
            rows = await w.execute_fetchall(
                f"UPDATE tasks SET {CLAIM_SET} WHERE id = ? RETURNING {CLAIM_RETURNING}",
                (c.owner, c.agent, now + c.lease, now, task_id),
            )
        else:
            rows, extra = await self._claim_ready(w, now, c, jobs_of, type_args)
        claims = []
        counts = Counts()
        for r in sorted(rows, key=lambda r: (r[1], r[0])):
            counts.move(r[1], "pending", "running")
            cl = Claim(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7])
            cl.timeout, cl.params, cl.type, cl.type_hash = extra[cl.job_id]
            cl.alone = r[8] > 0
            claims.append(cl)
        if claims:
            await self._apply_counts(w, rev, now, counts)
            # A job's time starts with its first task (not its admission); a retried job's
            # gap since its last run ends with the retry's first task. It no longer waits.
            ids = list(counts.delta)
            await w.execute(
                f"UPDATE jobs SET started = coalesce(started, ?), {END_IDLE}, waiting = '' "
                f"WHERE id IN ({qmarks(ids)}) "
                "AND (started IS NULL OR paused_at IS NOT NULL OR waiting != '')",
                (now, now, *ids),
            )
        return claims

    async def _claim_ready(
        self,
        w: aiosqlite.Connection,
        now: float,
        c: Claimant,
        jobs_of: str,
        type_args: list[Any],
    ) -> tuple[list[Any], dict[int, Any]]:
        """Claim ordinary ready tasks (not suspects), shared out between the jobs."""
        # The running jobs with room and a task ready (the partial indexes jobs_active and
        # tasks_pending answer this without visiting every pending task of the store).
        jobs = await w.execute_fetchall(
            "SELECT id, parallel - running, timeout, params, type, type_hash FROM jobs "
            f"WHERE status = 'running' AND {ACTIVE_ONLY} AND running < parallel{jobs_of} "
            f"AND EXISTS ({ORDINARY_READY}) "
            # Fewest running first: a slot freed one at a time goes to the job with the
            # smallest share, so the oldest job does not take every slot that frees.
            "ORDER BY running, id",
            (*type_args, now),
        )
        room = {r[0]: r[1] for r in jobs}
        extra = {r[0]: (r[2], json.loads(r[3]), r[4], r[5]) for r in jobs}
        rows: list[Any] = []
        left = c.free
        for _ in range(4):  # a job that had fewer ready tasks than its share gives it up
            shares = share_out(room, left)
            if not shares:
                break
            got = await self._claim_shares(w, shares, c.owner, c.agent, now, c.lease)
            rows += got
            left -= len(got)
            taken = Counter(r[1] for r in got)
            for job_id, n in shares.items():
                room[job_id] = room[job_id] - n if taken[job_id] == n else 0
            if left <= 0 or len(got) == sum(shares.values()):
                break
        return rows, extra

    async def _claim_shares(
        self,
        w: aiosqlite.Connection,
        shares: dict[int, int],
        owner: str,
        agent: str,
        now: float,
        lease: float,
    ) -> list[Any]:
        """Claim the first `n` ready tasks of each job in `shares` (job id -> n): one
        UPDATE … RETURNING per 200 jobs, each job's tasks found through tasks_pending."""
        out: list[Any] = []
        items = list(shares.items())
        for i in range(0, len(items), 200):  # SQLite allows 500 terms in a compound SELECT
            part = items[i : i + 200]
            pick = " UNION ALL ".join(
                "SELECT id FROM (SELECT id FROM tasks WHERE job_id = ? AND status = 'pending' "
                "AND not_before <= ? AND lost = 0 ORDER BY id LIMIT ?)"
                for _ in part
            )
            out += await w.execute_fetchall(
                f"UPDATE tasks SET {CLAIM_SET} WHERE id IN ({pick}) RETURNING {CLAIM_RETURNING}",
                (owner, agent, now + lease, now, *(x for j, n in part for x in (j, now, n))),
            )
        return out

    async def _complete(
        self, w: aiosqlite.Connection, rev: int, now: float, outcomes: list[Outcome]
    ) -> list[bool]:
        ids = [o.task_id for o in outcomes]
        rows = await w.execute_fetchall(
            "SELECT t.id, t.job_id, t.attempt, t.owner, t.status, t.base_attempt, j.retries, "
            "j.backoff, j.status, t.name FROM tasks t JOIN jobs j ON j.id = t.job_id "
            f"WHERE t.id IN ({qmarks(ids)})",
            ids,
        )
        current: dict[int, tuple[Any, ...]] = {r[0]: tuple(r) for r in rows}
        counts = Counts()
        accepted: list[bool] = []
        updates: list[tuple[Any, ...]] = []
        system_lines: list[tuple[Any, ...]] = []
        for o in outcomes:
            r = current.get(o.task_id)
            ok = r is not None and r[2] == o.attempt and r[3] == o.owner and r[4] == "running"
            accepted.append(ok)
            if not ok or r is None:
                continue
            _id, job_id, attempt, _owner, _st, base, retries, backoff, job_status, name = r
            new = o.status
            not_before = 0.0
            if new is TaskStatus.FAILED and (
                (again := after_failure(name, attempt, base, retries, backoff, job_status, o.error))
                is not None
            ):
                new = TaskStatus.PENDING
                not_before = now + again.delay
                system_lines.append((job_id, o.task_id, now, "system", again.line, attempt))
            updates.append(
                (
                    str(new),
                    None if new is TaskStatus.PENDING else now,
                    o.exit_code,
                    o.error,
                    not_before,
                    o.task_id,
                )
            )
            counts.move(job_id, "running", str(new))
            current[o.task_id] = (*r[:4], str(new), *r[5:])
        await w.executemany(
            "UPDATE tasks SET status = ?, finished = ?, exit_code = ?, error = ?, not_before = ?, "
            "owner = NULL, lease_until = NULL WHERE id = ?",
            updates,
        )
        if system_lines:
            await w.executemany(
                "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                system_lines,
            )
        await self._apply_counts(w, rev, now, counts)
        return accepted

    async def _apply_counts(
        self, w: aiosqlite.Connection, rev: int, now: float, counts: Counts
    ) -> None:
        if not counts.delta:
            return
        sets = ", ".join(f"{c} = {c} + ?" for c in COUNT_COLUMNS)
        await w.executemany(
            f"UPDATE jobs SET {sets}, updated = ?, rev = ? WHERE id = ?", counts.rows(rev, now)
        )
        await self._update_progress(w, rev, set(counts.delta))
        await self._settle(w, rev, now, list(counts.delta))

    async def _update_progress(
        self, w: aiosqlite.Connection, rev: int, job_ids: Iterable[int]
    ) -> None:
        ids = list(job_ids)
        if not ids:
            return
        await w.execute(
            f"""
            UPDATE jobs SET progress = CASE
                WHEN pending + running + succeeded + failed + cancelled + skipped = 0 THEN 0
                ELSE 100.0 * (succeeded + failed + cancelled + skipped + coalesce((
                    SELECT total(progress) FROM tasks INDEXED BY tasks_running
                    WHERE tasks.status = 'running' AND tasks.job_id = jobs.id), 0))
                    / (pending + running + succeeded + failed + cancelled + skipped) END,
                rev = ?
            WHERE id IN ({qmarks(ids)})
            """,
            (rev, *ids),
        )

    async def _settle(
        self, w: aiosqlite.Connection, rev: int, now: float, job_ids: Sequence[int]
    ) -> None:
        """Finish the jobs among `job_ids` that have nothing pending or running any more."""
        if not job_ids:
            return
        rows = await w.execute_fetchall(
            "SELECT id, status, failed, cancelled, warnings, pending + running + "
            "succeeded + failed + cancelled + skipped FROM jobs "
            f"WHERE id IN ({qmarks(job_ids)}) AND pending = 0 AND running = 0 "
            f"AND status IN ({SETTLING_SQL})",
            list(job_ids),
        )
        for job_id, status, failed, cancelled, warnings, total in rows:
            first = None
            if failed:
                found = list(
                    await w.execute_fetchall(
                        "SELECT name, error FROM tasks WHERE job_id = ? AND status = 'failed' "
                        "ORDER BY seq LIMIT 1",
                        (job_id,),
                    )
                )
                first = (found[0][0], found[0][1]) if found else None
            end = settle(status, total, failed, cancelled, warnings, first)
            await w.execute(
                "UPDATE jobs SET status = ?, finished = ?, updated = ?, info = ?, admitted = 0, "
                f"progress = ?, {END_IDLE}, waiting = '', rev = ? WHERE id = ?",
                (str(end.status), now, now, end.info[:INFO_MAX], end.progress, now, rev, job_id),
            )
            await w.execute("DELETE FROM locks WHERE job_id = ?", (job_id,))

    async def _set_status(
        self, w: aiosqlite.Connection, rev: int, now: float, job_id: int, new: JobStatus
    ) -> None:
        await w.execute(
            "UPDATE jobs SET status = ?, updated = ?, rev = ? WHERE id = ?",
            (str(new), now, rev, job_id),
        )

    async def cancel_job(self, job_id: int, user: str, force: bool = False) -> Job:
        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            rows = list(
                await w.execute_fetchall(
                    "SELECT status, cancellable, type FROM jobs WHERE id = ?", (job_id,)
                )
            )
            if not rows:
                raise NotFound(f"no job {job_id}")
            status, cancellable, type_ = JobStatus(rows[0][0]), rows[0][1], rows[0][2]
            plan = decide_cancel(job_id, type_, status, bool(cancellable), force, user)
            await w.execute(
                "UPDATE jobs SET status = ?, force = max(force, ?), updated = ?, rev = ?, "
                "info = ? WHERE id = ?",
                (str(plan.status), int(plan.force), now, rev, plan.info, job_id),
            )
            cur = await w.execute(
                "UPDATE tasks SET status = 'cancelled', finished = ? "
                "WHERE job_id = ? AND status = 'pending'",
                (now, job_id),
            )
            counts = Counts()
            counts.move(job_id, "pending", "cancelled", cur.rowcount)
            await self._audit(w, now, user, plan.action, f"job:{job_id}")
            await self._apply_counts(w, rev, now, counts)

        await self.write(txn)
        return await self.get_job(job_id)

    async def pause_job(self, job_id: int, user: str) -> Job:
        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            new = decide_pause(job_id, await self._job_status(w, job_id))
            await self._set_status(w, rev, now, job_id, new)
            # Its clock stops while it is paused.
            await w.execute(
                "UPDATE jobs SET paused_at = coalesce(paused_at, ?) "
                "WHERE id = ? AND started IS NOT NULL",
                (now, job_id),
            )
            await self._audit(w, now, user, "pause", f"job:{job_id}")

        await self.write(txn)
        return await self.get_job(job_id)

    async def resume_job(self, job_id: int, user: str) -> Job:
        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            rows = list(
                await w.execute_fetchall(
                    "SELECT status, admitted FROM jobs WHERE id = ?", (job_id,)
                )
            )
            if not rows:
                raise NotFound(f"no job {job_id}")
            new = decide_resume(job_id, JobStatus(rows[0][0]), bool(rows[0][1]))
            await self._set_status(w, rev, now, job_id, new)
            await w.execute(f"UPDATE jobs SET {END_IDLE} WHERE id = ?", (now, job_id))
            await self._audit(w, now, user, "resume", f"job:{job_id}")
            await self._settle(w, rev, now, [job_id])

        await self.write(txn)
        return await self.get_job(job_id)

    async def retry_job(self, job_id: int, user: str) -> int:
        """Re-queue the failed and cancelled tasks of a finished job; returns how many."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> int:
            status = await self._job_status(w, job_id)
            retriable = "WHERE job_id = ? AND status IN ('failed', 'cancelled')"
            found = await w.execute_fetchall(f"SELECT count(*) FROM tasks {retriable}", (job_id,))
            plan = decide_retry(job_id, status, next(iter(found))[0], user)
            await w.execute(
                "UPDATE tasks SET status = 'pending', base_attempt = attempt, not_before = 0, "
                f"error = '', exit_code = NULL, finished = NULL {retriable}",
                (job_id,),
            )
            rows = await w.execute_fetchall(
                "SELECT status, count(*) FROM tasks WHERE job_id = ? GROUP BY status", (job_id,)
            )
            by_status = dict.fromkeys(COUNT_COLUMNS, 0) | {r[0]: r[1] for r in rows}
            await w.execute(
                # Its clock stands still from its end until the retry's first task starts.
                "UPDATE jobs SET status = ?, paused_at = CASE WHEN started IS NULL "
                "THEN NULL ELSE finished END, finished = NULL, force = 0, "
                f"{', '.join(c + ' = ?' for c in COUNT_COLUMNS)}, info = ?, updated = ?, "
                "rev = ? WHERE id = ?",
                (
                    str(plan.status),
                    *(by_status[c] for c in COUNT_COLUMNS),
                    plan.info,
                    now,
                    rev,
                    job_id,
                ),
            )
            await w.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, "
                "'system', ?)",
                (job_id, now, plan.log),
            )
            # The run ends again later: its report goes out again then.
            await w.execute(
                "UPDATE reports SET state = 'pending', done = '[]', attempts = 0, next_try = 0, "
                "owner = NULL, claimed_until = NULL, sent = NULL, last_error = '' "
                "WHERE job_id = ?",
                (job_id,),
            )
            await self._update_progress(w, rev, [job_id])
            await self._audit(w, now, user, "retry", f"job:{job_id}", plan.detail)
            return plan.tasks

        return await self.write(txn)

    async def _delete_finished(self, where: str, args: Sequence[Any], batch: int) -> int:
        """Delete up to `batch` finished jobs matching `where`, with their tasks and logs, in
        one short transaction (so clearing a large history never blocks the live path)."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> int:
            finished = [str(s) for s in FINISHED_JOB]
            ids = [
                r[0]
                for r in await w.execute_fetchall(
                    f"SELECT id FROM jobs WHERE status IN ({qmarks(finished)}) AND {where} "
                    f"LIMIT {int(batch)}",
                    [*finished, *args],
                )
            ]
            if not ids:
                return 0
            marks = qmarks(ids)
            for table, col in (
                ("logs", "job_id"),
                ("tasks", "job_id"),
                ("job_locks", "job_id"),
                ("reports", "job_id"),
                ("jobs", "id"),
            ):
                await w.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", ids)
            await w.executemany(
                "INSERT OR REPLACE INTO removed (job_id, rev) VALUES (?, ?)",
                [(i, rev) for i in ids],
            )
            return len(ids)

        return await self.write(txn)

    async def _delete_all_finished(self, where: str, args: Sequence[Any], batch: int = 200) -> int:
        total = 0
        while n := await self._delete_finished(where, args, batch):
            total += n
            await asyncio.sleep(0)  # let claims and completions in between batches
        return total

    async def clear(self, user: str | None, actor: str) -> int:
        """Remove finished jobs (of `user`, or everyone's when None) with their tasks and logs."""
        if user is None:
            n = await self._delete_all_finished("1", ())
        else:
            n = await self._delete_all_finished("user = ?", (user,))
        await self.audit(
            actor, "clear", "jobs:all" if user is None else f"jobs:{user}", plural(n, "job")
        )
        return n

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        """Remove the finished jobs among `job_ids` (of `user` only, unless None)."""
        n = 0
        ids = list(job_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            where = f"id IN ({qmarks(part)})" + ("" if user is None else " AND user = ?")
            n += await self._delete_all_finished(where, [*part, *([] if user is None else [user])])
        target = "jobs:all" if user is None else f"jobs:{user}"
        await self.audit(actor, "clear", target, f"{plural(n, 'job')} (chosen)")
        return n

    async def prune(self, older_than: float) -> int:
        """The retention setting: remove jobs that finished before `older_than`."""
        return await self._delete_all_finished("finished < ?", (older_than,))

    # ----------------------------------------------------------------- agents and leases

    async def recover_lost(self, quarantine_after: int = QUARANTINE_AFTER) -> int:
        """The tasks of agents whose leases ran out (they died or hung): every running task
        of such an agent, at once, as one death. Each runs again (alone: see `lifecycle.judge`)
        while retries remain, else fails with "agent lost"; a task charged with
        `quarantine_after` deaths is failed as quarantined and not claimed again. Returns
        how many tasks were recovered."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> int:
            rows = list(
                await w.execute_fetchall(
                    "SELECT t.owner, t.id, t.job_id, t.seq, t.name, t.attempt, t.base_attempt, "
                    "j.retries, j.status, t.lost, t.charged, t.agent FROM tasks t "
                    "JOIN jobs j ON j.id = t.job_id WHERE t.status = 'running' AND t.owner IN "
                    "(SELECT owner FROM tasks WHERE status = 'running' AND lease_until < ?) "
                    "ORDER BY t.job_id, t.seq",
                    (now,),
                )
            )
            deaths: dict[str, list[LostTask]] = defaultdict(list)
            for owner, *rest in rows:
                deaths[owner].append(LostTask(*rest))
            counts = Counts()
            for owner, death in deaths.items():
                for t, v in zip(death, judge(death, quarantine_after), strict=True):
                    await w.execute(
                        "UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL, "
                        "error = ?, finished = ?, lost = ?, charged = ?, not_before = ?, "
                        "charged_by = CASE WHEN ? THEN ? ELSE charged_by END WHERE id = ?",
                        (
                            str(v.status),
                            v.error,
                            None if v.status is TaskStatus.PENDING else now,
                            v.lost,
                            v.charged,
                            now,  # a suspect is ready from now (see lifecycle.SUSPECT_DRAIN)
                            v.charged > t.charged,
                            owner,
                            t.task_id,
                        ),
                    )
                    await w.execute(
                        "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                        "VALUES (?, ?, ?, 'system', ?, ?)",
                        (t.job_id, t.task_id, now, v.text, t.attempt),
                    )
                    counts.move(t.job_id, "running", v.status)
            await self._apply_counts(w, rev, now, counts)
            return len(rows)

        return await self.write(txn)

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        """Agents of this host whose process is gone (kill -9, crash): end their leases now so
        `recover_lost` takes their tasks at once instead of when the lease runs out, and show
        them offline. Returns their names, their owner ids and the process groups recorded
        for their running command attempts (the caller kills what they left running). A pid reused by another process only
        delays this to the lease bound."""
        rows = await self._reader.execute_fetchall(
            "SELECT name, owner, pid FROM agents WHERE host = ? AND state != 'offline'", (host,)
        )
        dead = [(n, o) for n, o, pid in rows if pid != os.getpid() and not alive(pid)]
        if not dead:
            return [], [], []
        pgids: list[int] = []

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            for name, owner in dead:
                rows = await w.execute_fetchall(
                    "UPDATE tasks SET lease_until = 0 WHERE owner = ? AND status = 'running' "
                    "RETURNING pgid",
                    (owner,),
                )
                pgids.extend(r[0] for r in rows if r[0])
                await w.execute(
                    "UPDATE agents SET state = 'offline', rev = ? WHERE name = ? AND owner = ?",
                    (rev, name, owner),
                )

        await self.write(txn)
        return [n for n, _ in dead], [o for _, o in dead], pgids

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        """Give back claims without counting an attempt (graceful shutdown)."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            rows = await w.execute_fetchall(
                "UPDATE tasks SET status = 'pending', owner = NULL, lease_until = NULL, "
                f"attempt = attempt - 1 WHERE owner = ? AND status = 'running' "
                f"AND id IN ({qmarks(task_ids)}) RETURNING job_id",
                (owner, *task_ids),
            )
            counts = Counts()
            for (job_id,) in rows:
                counts.move(job_id, "running", "pending")
            await self._apply_counts(w, rev, now, counts)

        if task_ids:
            await self.write(txn)

    # ----------------------------------------------------------------- execution reports

    async def has_due_reports(self) -> bool:
        """Any report to send: a finished job's, or a failed fire's."""
        now = time.time()
        return await self._exists(
            "SELECT 1 FROM reports r JOIN jobs j ON j.id = r.job_id "
            f"WHERE j.status IN ({qmarks(FINISHED_JOB)}) AND ((r.state = 'pending' AND "
            "r.next_try <= ?) OR (r.state = 'sending' AND r.claimed_until < ?)) UNION ALL "
            "SELECT 1 FROM fire_reports WHERE (state = 'pending' AND next_try <= ?) "
            "OR (state = 'sending' AND claimed_until < ?)",
            (*(str(s) for s in FINISHED_JOB), now, now, now, now),
        )

    async def claim_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
        """Take the reports of finished jobs that are due (one engine sends each): returns
        (job id, recipients, recipients already served, attempts so far)."""

        async def txn(
            w: aiosqlite.Connection, rev: int, now: float
        ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
            rows = await w.execute_fetchall(
                "UPDATE reports SET state = 'sending', owner = ?, claimed_until = ? "
                "WHERE job_id IN (SELECT r.job_id FROM reports r JOIN jobs j ON j.id = r.job_id "
                f"WHERE j.status IN ({qmarks(FINISHED_JOB)}) AND ((r.state = 'pending' AND "
                "r.next_try <= ?) OR (r.state = 'sending' AND r.claimed_until < ?)) "
                "ORDER BY r.job_id LIMIT ?) RETURNING job_id, recipients, done, attempts",
                (owner, now + hold, *(str(s) for s in FINISHED_JOB), now, now, limit),
            )
            return [(r[0], json.loads(r[1]), json.loads(r[2]), r[3]) for r in rows]

        return await self.write(txn)

    async def report_done(
        self,
        job_id: int,
        owner: str,
        done: list[str],
        error: str,
        retry_at: float | None,
        log: str | None = None,
    ) -> bool:
        """Record a send: sent (no error), pending again at `retry_at`, or failed for good
        (error and no retry). Fenced on the owner; False when another engine took it over."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> bool:
            state = report_state(error, retry_at)
            next_try = retry_at if state == "pending" and retry_at is not None else 0.0
            cur = await w.execute(
                "UPDATE reports SET state = ?, done = ?, attempts = attempts + ?, next_try = ?, "
                "owner = NULL, claimed_until = NULL, sent = ?, last_error = ? "
                "WHERE job_id = ? AND owner = ? AND state = 'sending'",
                (
                    state,
                    json.dumps(done),
                    1 if error else 0,
                    next_try,
                    now if not error else None,
                    error,
                    job_id,
                    owner,
                ),
            )
            if cur.rowcount and log:
                await w.execute(
                    "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, "
                    "'system', ?)",
                    (job_id, now, log),
                )
                await w.execute(
                    "UPDATE jobs SET updated = ?, rev = ? WHERE id = ?", (now, rev, job_id)
                )
            return bool(cur.rowcount)

        return await self.write(txn)

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        rows = list(
            await self._reader.execute_fetchall(
                "SELECT state, recipients, done, attempts, next_try, sent, last_error "
                "FROM reports WHERE job_id = ?",
                (job_id,),
            )
        )
        if not rows:
            return None
        r = rows[0]
        return {
            "state": r[0],
            "recipients": json.loads(r[1]),
            "done": json.loads(r[2]),
            "attempts": r[3],
            "next_try": r[4],
            "sent": r[5],
            "last_error": r[6],
        }

    # ----------------------------------------------------------------- audit

    async def _audit(
        self,
        w: aiosqlite.Connection,
        now: float,
        user: str,
        action: str,
        target: str,
        detail: str = "",
    ) -> None:
        await w.execute(
            "INSERT INTO audit (ts, user, action, target, detail, actor) VALUES (?, ?, ?, ?, ?, ?)",
            (now, user, action, target, detail, self.actor),
        )

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            await self._audit(w, now, user, action, target, detail)

        await self.write(txn)

    async def audit_events(self, target: str | None = None, limit: int = 100) -> list[AuditEvent]:
        sql = "SELECT id, ts, user, action, target, detail, actor FROM audit"
        args: list[Any] = []
        if target:
            sql += " WHERE target = ?"
            args.append(target)
        rows = await self._reader.execute_fetchall(
            sql + " ORDER BY id DESC LIMIT ?", (*args, limit)
        )
        return [AuditEvent(*r) for r in rows]

    # ----------------------------------------------------------------- reading

    async def get_job(self, job_id: int) -> Job:
        rows = list(
            await self._reader.execute_fetchall(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
            )
        )
        if not rows:
            raise NotFound(f"no job {job_id}")
        return job_from_row(rows[0])

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        f = f or JobFilter()
        where, args, order = job_query(f, time.time() if f.now is None else f.now)
        return await self._select_jobs(where, args, order, f.limit)

    async def _select_jobs(
        self, where: str, args: Sequence[Any], order: str, limit: int | None = None
    ) -> list[Job]:
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = list(await self._reader.execute_fetchall(sql, list(args)))
        if len(rows) > 2000:
            # 100,000 rows take a second or more to convert: not on the event loop.
            return await asyncio.to_thread(lambda: [job_from_row(r) for r in rows])
        return [job_from_row(r) for r in rows]

    async def _exists(self, sql: str, args: Sequence[Any] = ()) -> bool:
        return bool(list(await self._reader.execute_fetchall(sql + " LIMIT 1", list(args))))

    async def has_jobs_to_admit(self) -> bool:
        return await self._exists(
            f"SELECT 1 FROM jobs WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY}"
        )

    async def has_lost_tasks(self) -> bool:
        return await self._exists(
            "SELECT 1 FROM tasks WHERE status = 'running' AND lease_until < ?", (time.time(),)
        )

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` (with these `types` and `idle`) find something? One cheap read."""
        if types is not None and not types:
            return False  # no job types: nothing to claim (see `_claim_in`)
        # From the few active jobs to their first ready task: joining from the tasks side
        # walked every pending task whenever the jobs were full (O(pending) per look).
        if types is not None and not types:
            return False  # an engine that runs no type (SQLite has no plan for `IN ()`)
        jobs_of, type_args = _types_sql(types)
        now = time.time()
        rows = await self._reader.execute_fetchall(
            f"SELECT (SELECT not_before FROM ({SUSPECT_READY % jobs_of})), EXISTS (SELECT 1 "
            f"FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} AND running < parallel"
            f"{jobs_of} AND EXISTS ({ORDINARY_READY}))",
            (now, *type_args, *type_args, now),
        )
        suspect_ready, ordinary = next(iter(rows))
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        """Status and force flag of some jobs: agents poll this for cancel and pause."""
        if not job_ids:
            return {}
        rows = await self._reader.execute_fetchall(
            f"SELECT id, status, force FROM jobs WHERE id IN ({qmarks(job_ids)})", list(job_ids)
        )
        return {r[0]: (JobStatus(r[1]), bool(r[2])) for r in rows}

    async def tasks(self, job_id: int) -> list[Task]:
        rows = await self._reader.execute_fetchall(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ? ORDER BY seq", (job_id,)
        )
        return [task_from_row(r) for r in rows]

    async def logs(
        self,
        job_id: int,
        after: int = 0,
        task_seq: int | None = None,
        limit: int | None = None,
        tail: int | None = None,
    ) -> list[LogLine]:
        """Log lines of a job after sequence `after`; `tail` keeps only the last N. Each
        says which attempt wrote it, and whether that is an earlier one than the task's
        latest (a retried attempt, or one whose claim was taken over)."""
        sql = (
            "SELECT l.seq, l.job_id, l.task_id, l.ts, l.stream, l.text, l.attempt, "
            "coalesce(l.attempt < (SELECT attempt FROM tasks WHERE id = l.task_id), 0) "
            "FROM logs l"
        )
        args: list[Any] = []
        if task_seq is not None:
            sql += " JOIN tasks t ON t.id = l.task_id AND t.seq = ?"
            args.append(task_seq)
        sql += " WHERE l.job_id = ? AND l.seq > ?"
        args += [job_id, after]
        if tail is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY l.seq DESC LIMIT {int(tail)}) ORDER BY seq"
        else:
            sql += " ORDER BY l.seq"
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
        rows = await self._reader.execute_fetchall(sql, args)
        return [LogLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]

    async def rev(self) -> int:
        rows = await self._reader.execute_fetchall("SELECT rev FROM counter")
        return int(next(iter(rows))[0])

    async def data_version(self) -> int:
        """Moves when any other connection, in any process, commits (SQLite's own count)."""
        rows = await self._reader.execute_fetchall("PRAGMA data_version")
        return int(next(iter(rows))[0])

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: cheap polling of `data_version`, then the rows
        stamped with a newer revision. `since`: a revision read before the caller loaded
        what it shows; what changed after it comes first (otherwise the feed starts now)."""
        rev = since if since is not None else await self.rev()
        version = None if since is not None else await self.data_version()
        while True:
            await asyncio.sleep(interval)
            v = await self.data_version()
            if v == version:
                continue
            version = v
            changes = await self.changes_since(rev)
            rev = changes.rev
            yield changes

    async def changes_since(self, rev: int) -> Changes:
        # Up to the revision read first: a write committed meanwhile comes in the next
        # answer, not in both (each change is seen once).
        new_rev = await self.rev()
        if new_rev == rev:
            return Changes(rev)
        jobs = await self._select_jobs("rev > ? AND rev <= ?", (rev, new_rev), "id")
        removed = [
            r[0]
            for r in await self._reader.execute_fetchall(
                "SELECT job_id FROM removed WHERE rev > ? AND rev <= ?", (rev, new_rev)
            )
        ]
        agents = await self._agents_changed(rev)
        schedules = bool(
            list(
                await self._reader.execute_fetchall(
                    "SELECT 1 FROM schedules WHERE rev > ? LIMIT 1", (rev,)
                )
            )
        )
        return Changes(new_rev, jobs, removed, agents, schedules)


class _ThreadCursor:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        self.rowcount = cur.rowcount
        self.lastrowid = cur.lastrowid

    async def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    async def fetchone(self) -> Any:
        return self._cur.fetchone()


class _ThreadConn:
    """The writing methods of aiosqlite.Connection over the sqlite3 connection itself, for
    a transaction run whole (`SqliteStore.write`): every await completes at once."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    async def execute(self, sql: str, parameters: Any = None) -> _ThreadCursor:
        return _ThreadCursor(self._con.execute(sql, parameters or ()))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _ThreadCursor:
        return _ThreadCursor(self._con.executemany(sql, parameters))

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        return self._con.execute(sql, parameters or ()).fetchall()


class _CreatedMeanwhile(Exception):
    """The store's file appeared between the look at its path and its creation."""


class _Locked(Exception):
    """Another connection holds the write lock: BEGIN IMMEDIATE did nothing; try later."""


def _is_busy(e: sqlite3.OperationalError) -> bool:
    return e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # SQLITE_BUSY or an extended one


async def _connect_reader(where: Path | str) -> aiosqlite.Connection:
    """The reader connection (`where`: a path, or a URI); SQLite opens lazily, so it is
    made to open the file here, where a failure is a failure to open."""
    con = await aiosqlite.connect(where, isolation_level=None, uri=isinstance(where, str))
    try:
        await con.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await con.execute_fetchall("SELECT count(*) FROM sqlite_master")
    except BaseException:
        await con.close()
        raise
    return con


def _whole_transaction(
    con: sqlite3.Connection, fn: Callable[[aiosqlite.Connection, int, float], Awaitable[Any]]
) -> Any:
    """BEGIN IMMEDIATE, new revision, `fn`, COMMIT (or ROLLBACK): see `SqliteStore.write`."""
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if _is_busy(e):
            raise _Locked() from e
        raise
    try:
        rev = con.execute("UPDATE counter SET rev = rev + 1 RETURNING rev").fetchall()[0][0]
        coro = fn(cast(aiosqlite.Connection, _ThreadConn(con)), rev, time.time())
        assert isinstance(coro, Coroutine)
        try:
            coro.send(None)
        except StopIteration as done:
            result = done.value
        else:
            coro.close()
            raise RuntimeError("a transaction run whole awaited something other than the store")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    return result


def share_out(room: dict[int, int], n: int) -> dict[int, int]:
    """Deal `n` claims to jobs in turn (job id -> room left, in the order to serve them),
    each within its room."""
    shares = dict.fromkeys(room, 0)
    turn = [j for j, r in room.items() if r > 0]
    while n > 0 and turn:
        again = []
        for j in turn:
            if n <= 0:
                break
            shares[j] += 1
            n -= 1
            if shares[j] < room[j]:
                again.append(j)
        turn = again
    return {j: k for j, k in shares.items() if k}


def _types_sql(types: Collection[str] | None) -> tuple[str, list[Any]]:
    """The condition keeping the jobs of these type hashes (None: any), and its arguments.
    Not for an empty collection: its callers claim nothing then, without a query."""
    if types is None:
        return "", []
    return f" AND type_hash IN ({qmarks(types)})", list(types)


def qmarks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values)


def split_sql(script: str) -> list[str]:
    """Split a migration into statements, as SQLite itself sees their ends (comments and
    string literals may hold semicolons)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
    ):
        out.append(buf.strip())
    return out
