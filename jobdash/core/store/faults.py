"""What is wrong with a store, said in one line; and an engine's store failures, logged once.

A store may be unusable (not readable, not writable, damaged, another user's) or fail for a
while (a full disk). A command says so in one line and exits 2 (`StoreError` is a
`BadInput`). An engine keeps running and retries: each distinct failure is logged once, with
what it holds meanwhile, and once more when writes work again (`FaultLog`), instead of a
traceback every second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiosqlite

from jobdash.core.model import BadInput
from jobdash.present.words import plural

log = logging.getLogger("jobdash.store")

# What a writing command adds when the store cannot be written: reading it still works.
READING_STILL = " (reading still works: jobs, show, logs, export, jobdash --read-only)"
DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# Failures of the store itself (its file, its disk), as opposed to a bad statement: a
# command reports them in one line, an engine retries them.
FAULTS = DAMAGED | {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_AUTH,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_NOLFS,
    sqlite3.SQLITE_PROTOCOL,
}


class StoreError(BadInput):
    """The store cannot be used as asked (exit status 2). `fault` is the cause alone
    ("database or disk is full"), for an engine's log."""

    def __init__(self, message: str, fault: str = "") -> None:
        super().__init__(message)
        self.fault = fault or message


def error_code(e: BaseException) -> int:
    """SQLite's primary result code of an error (0 when it has none)."""
    return (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF


def is_fault(e: BaseException) -> bool:
    return isinstance(e, sqlite3.Error) and error_code(e) in FAULTS


def damaged(path: Path, detail: str) -> StoreError:
    """The store's file is damaged: refuse it, and say how to get the data back."""
    where = shlex.quote(str(path))
    return StoreError(
        f"{path}: the store is damaged ({one_line(detail)}); jobdash will not use or write "
        f"to it. Recover what it holds with `sqlite3 {where} .recover | sqlite3 NEW.db` (where "
        "sqlite3 has no .recover: `.dump`, its last line ROLLBACK made COMMIT) and run with "
        "--db NEW.db, or restore a backup",
        fault=f"the store is damaged ({one_line(detail)})",
    )


def cannot_write(e: BaseException) -> bool:
    """SQLite's error says the store, or its folder, cannot be written (by this user, or at
    all): a reading command may still read it."""
    return isinstance(e, sqlite3.Error) and error_code(e) in (
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
    )


def why_not_writable(path: Path) -> str | None:
    """Why the store at `path` cannot be written, as the file system says: a read-only
    file system, or the permissions of the file or of its folder (None: neither)."""
    real = Path(os.path.realpath(path))
    folder = real.parent
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    try:
        mode = stat.S_IMODE(real.stat().st_mode)
    except OSError:
        mode = None
    if mode is not None and not os.access(real, os.W_OK, effective_ids=True):
        return f"the store file is not writable by you (mode {mode:04o})"
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=True):
        return (
            f"its folder {folder} is not writable by you (SQLite adds -wal and -shm files "
            "beside the store)"
        )
    return None


def store_error(path: Path, e: BaseException) -> StoreError:
    """One line for a failure of the store file `path` (an sqlite3.Error or OSError)."""
    if error_code(e) in DAMAGED:
        return damaged(path, str(e))
    why = (e.strerror or str(e)).lower() if isinstance(e, OSError) else str(e)
    if cannot_write(e) and (reason := why_not_writable(path)):
        return StoreError(f"{path}: cannot write the store: {reason}{READING_STILL}", why)
    if isinstance(e, OSError):
        return StoreError(f"{path}: cannot open the store: {why}", why)
    if error_code(e) == sqlite3.SQLITE_FULL:
        return StoreError(f"{path}: cannot write the store: {why}", why)
    if cannot_write(e):
        return StoreError(
            f"{path}: cannot write the store ({why}): the store and its folder must be "
            "writable by you (SQLite adds -wal and -shm files beside it)",
            why,
        )
    return StoreError(f"{path}: store failure: {why}", why)


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FaultLog:
    """An engine's store failures: each distinct one logged once while it lasts, with the
    log lines held meanwhile; then one line when writes work again."""

    def __init__(self) -> None:
        self.since: float | None = None  # when the current run of failures began
        self.said: set[str] = set()

    def failed(self, fault: str, held: int) -> None:
        if self.since is None:
            self.since = time.monotonic()
        if fault in self.said:
            return
        self.said.add(fault)
        held_text = f"; {plural(held, 'log line')} held" if held else ""
        log.warning("%s; retrying every 1 s%s", fault, held_text)

    def note(self, text: str, key: str | None = None) -> None:
        """Something said once per run of failures (the buffer reaching its bound); `key`
        names it when its text changes (a count in it)."""
        if (key or text) not in self.said:
            self.said.add(key or text)
            log.warning("%s", text)

    def worked(self) -> None:
        if self.since is None:
            return
        log.warning("writes work again after %.0f s", time.monotonic() - self.since)
        self.since = None
        self.said.clear()


class Reads:
    """The reader connection of a store: a failure of the store itself comes out as a
    StoreError (and damage is remembered: the store then writes nothing more)."""

    def __init__(
        self, con: aiosqlite.Connection, fault: Callable[[sqlite3.Error], StoreError | None]
    ) -> None:
        self._con = con
        self._fault = fault

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Iterable[sqlite3.Row]:
        try:
            return await self._con.execute_fetchall(sql, parameters)
        except sqlite3.Error as e:
            err = self._fault(e)
            if err is None:
                raise
            raise err from e
