"""Before a store file is opened: is it ours, is it a jobdash store, is it whole.

One SQLite store serves one OS user: the kernel lets whoever may write the file write
anything in it, so jobdash cannot keep users apart inside it. A store owned by another uid
is refused (root excepted: it may open any user's store, and SQLite gives the -wal and -shm
files it creates to the store's owner). Several users share jobs through a PostgreSQL
store, where the database enforces who sees what.

The checks read only, through a read-only connection that creates nothing (`immutable`
when no -wal exists): a file that is not a whole jobdash store is never modified. A store
is created only where none exists: a missing file (in an existing folder, or in the default
data folder, which is created 0700), or an empty file. The one change made to an existing
store is its mode (`make_private`: job output is its owner's alone), never through a link
that someone else could have put beside it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

from jobdash.core.identity import user_name
from jobdash.core.processes import pid_alive
from jobdash.core.store.faults import StoreError, one_line
from jobdash.core.store.sqlite.faults import (
    cannot_write,
    damaged,
    store_error,
    why_not_writable,
)
from jobdash.core.store.sqlite.schema import APP_ID, SCHEMA_VERSION

SQLITE_MAGIC = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm", "-journal")  # the files SQLite keeps beside a store

# Whole-file checks started ahead (`check_ahead`): path -> (the file's identity, the check).
_ahead: dict[str, tuple[tuple[int, ...], Future[int | None]]] = {}

# A check ahead still reading a file smaller than this when the store is opened is made
# again there, at once (about 2 ms per MB): a small store is judged before the dashboard
# draws, however busy the machine (the check ahead runs at the lowest priority, and on a
# loaded machine it may not have begun). A larger one is read and drawn meanwhile.
CHECK_AT_OPEN_BELOW = 16 * 2**20


def check_store_file(
    path: Path,
    create_folder: bool = False,
    whole: bool = True,
    upgrading: Callable[[int], None] | None = None,
) -> int | None:
    """The schema version of the jobdash store at `path`, or None when a store is to be
    created there; StoreError (one line) when it cannot or must not be used.

    `create_folder`: the path is the default one, whose folder may be created. `whole`:
    check every page of the file (`read_version`), as before anything writes to it.
    `upgrading`: see `read_version`."""
    try:
        st = path.stat()
    except FileNotFoundError:
        check_folder(path, create_folder)
        return None
    except OSError as e:
        raise store_error(path, e) from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path}: is a directory, not a jobdash store")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: not a regular file (a device, pipe or socket); left untouched")
    check_owner(path, st.st_uid)
    check_sidecars(path, st.st_uid)
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise store_error(path, e) from None
    if not head:
        return None  # an empty file: SQLite takes it for an empty database
    if head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not a jobdash store (not an SQLite database); left untouched")
    try:
        return read_version(path, whole, upgrading)
    except sqlite3.Error as e:
        raise store_error(path, e) from None


def check_folder(path: Path, create_folder: bool) -> None:
    """A store may be created at `path`: its folder exists (or is the default one)."""
    folder = path.parent
    if folder.is_dir() or create_folder:
        return
    if folder.exists():
        raise StoreError(f"{path}: {folder} is not a folder")
    raise StoreError(
        f"{path}: no folder {folder} (create it first: jobdash creates only its default "
        "data folder)"
    )


def check_owner(path: Path, uid: int) -> None:
    me = os.geteuid()
    if uid == me or me == 0:
        return
    raise StoreError(
        f"{path}: belongs to {user_name(uid)}, not to you ({user_name(me)}): a SQLite store "
        "serves one OS user; for several users, share a PostgreSQL store (jobdash db grant)"
    )


def sidecar(path: Path, suffix: str) -> Path:
    """Where SQLite keeps the -wal (-shm, -journal) file of the store at `path`: beside the
    file that `path` resolves to, as SQLite resolves a linked store's name."""
    return Path(os.path.realpath(path) + suffix)


def check_sidecars(path: Path, uid: int) -> None:
    """The -wal, -shm and -journal files of a store are plain files of the store's owner
    (`uid`) with one link: a symbolic link, another kind of file, a hard link to another
    file or someone else's file there is refused, never followed or written. Whoever may
    write the store's folder can put one there: a chmod, or SQLite run by root, would act on
    the file it leads to."""
    for suffix in SIDECARS:
        side = sidecar(path, suffix)
        try:
            st = side.lstat()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise store_error(side, e) from None
        if stat.S_ISLNK(st.st_mode):
            raise StoreError(
                f"{side}: a symbolic link where SQLite keeps the store's {suffix[1:]} file; "
                "jobdash does not follow it: remove it"
            )
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(
                f"{side}: not a regular file, where SQLite keeps the store's {suffix[1:]} "
                "file: remove it"
            )
        if st.st_uid != uid or st.st_nlink != 1:
            whose = "a hard link to another file" if st.st_nlink != 1 else "another user's file"
            raise StoreError(
                f"{side}: {whose} ({user_name(st.st_uid)}'s), where SQLite keeps the store's "
                f"{suffix[1:]} file; jobdash does not write it: remove it"
            )


def make_private(path: Path, uid: int, follow: bool, exact: int | None = None) -> int | None:
    """Take the group and other bits off the file at `path` (0644 -> 0600; `exact`: give
    it that mode) if it is a regular file of `uid` (the store's owner; for a -wal or -shm
    file, with one link). Returns its mode before, or None when nothing was changed.
    OSError when the mode cannot be changed (a read-only file system).

    The file is opened with O_PATH (nothing is read, and closing such a descriptor releases
    no lock that SQLite holds on the file in this process), with O_NOFOLLOW unless `follow`,
    and the checks and the chmod apply to what was opened (through /proc/self/fd): a link
    put in its place, or swapped in meanwhile, is never followed to another file."""
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        want = mode & ~0o077 if exact is None else exact
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != uid
            or (not follow and st.st_nlink != 1)
            or mode == want
        ):
            return None
        os.chmod(f"/proc/self/fd/{fd}", want)
        return mode
    finally:
        os.close(fd)


def private_store(path: Path) -> str:
    """Make an existing store with group or other bits (0644, 0666: a umask, a copy) 0600:
    job output is its owner's alone. Returns what to tell the user ("" when nothing)."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return ""  # none there yet: it is created 0600
    try:
        was = make_private(path, uid, follow=True)
    except OSError as e:
        mode = stat.S_IMODE(path.stat().st_mode)
        why = (e.strerror or str(e)).lower()
        return (
            f"{path} is mode {mode:04o} (others may read job output) and could not be made "
            f"0600: {why}"
        )
    if was is None:
        return ""
    now = was & ~0o077  # a store its owner made read-only stays so: 0444 -> 0400
    return f"made {path} mode {now:04o} (it was {was:04o}: others could read job output)"


def read_only_uri(path: Path, immutable: bool = False) -> str:
    """The URI that opens the store at `path` read-only (`immutable`: without locks or the
    -wal and -shm files, for a store nothing can write)."""
    return f"{path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"


def readable_uri(path: Path) -> str:
    """How to open the store at `path` to read it when it cannot be written: `mode=ro`,
    with its -wal and -shm files, so a store that another process writes is read as SQLite
    reads any WAL store. Where SQLite can neither open nor create the -shm file (a read-only
    file system, a folder not writable by you) and no -wal holds anything, nothing can be
    writing the store: it is read `immutable` (the file alone, without locks). A -wal that
    holds changes but cannot be read is refused (StoreError): the file alone would show the
    store as it was before them."""
    try:
        con = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            con.close()
        return read_only_uri(path)
    except sqlite3.Error as e:
        if not cannot_write(e):
            raise
    wal = sidecar(path, "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        reason = why_not_writable(path) or "SQLite cannot create it here"
        raise StoreError(
            f"{path}: cannot read the store: its {wal.name} file holds changes that SQLite "
            f"reads only with a -shm file, and {reason}; copy the store with its -wal file "
            "to a writable folder to read it"
        )
    return read_only_uri(path, immutable=True)


def _identity(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def in_background(work: Callable[[], None], name: str) -> None:
    """Run `work` in a daemon thread at the lowest CPU priority (nice 19, on Linux, where
    the nice value is a thread's own). A whole-file check of a store of millions of jobs
    reads gigabytes for minutes, much of it in the kernel; the dashboard that starts it
    draws and answers keys meanwhile, and on a busy two-core machine the check at the
    same priority took 0.3-0.8 s of a 10,000,000-job dashboard's first frame. Nothing
    waits for the check but the first write, which waits for it anyway."""

    def run() -> None:
        if sys.platform == "linux":  # elsewhere the id of a thread is not a process's
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except OSError:
                pass  # checked at the ordinary priority, as before
        work()

    threading.Thread(target=run, name=name, daemon=True).start()


def check_ahead(path: Path) -> None:
    """Start the whole-file check of the store at `path` (`read_version`) in a thread, for
    the `read_version` that opening it calls later to take over. The dashboard starts it
    before it loads its modules: the check reads every page (about 2 ms per MB, 0.1-0.2 s
    on a store of 100,000 finished jobs with its text index) while SQLite holds no GIL, so
    on a second core it costs the first frame nothing. It reads only, as the check does; a
    file missing, or changed or replaced by the time it is opened (its inode, size or
    mtime), or a check that failed, is checked again there, the ordinary way (so that its
    errors are said the ordinary way too)."""
    try:
        key = _identity(path)
    except OSError:
        return  # nothing to check yet: opening it says why, or creates it
    from concurrent.futures import Future  # the dashboard's: not loaded by a read

    done: Future[int | None] = Future()

    def check() -> None:
        try:
            done.set_result(_read_version(path, True))
        except BaseException as e:  # kept for the opener, which checks again
            done.set_exception(e)

    _ahead[str(path)] = (key, done)
    in_background(check, "jobdash-store-check")


def check_under_way(path: Path) -> Future[None] | None:
    """The verdict of the whole-file check `check_ahead` started on `path` while it is still
    reading (None when none was started or it has ended: `read_version` then takes or makes
    the verdict at once). For a dashboard over a store of millions of jobs, whose check
    takes seconds: it reads and draws meanwhile, and writes nothing until this verdict is
    in (`Db.write`). The verdict is that of `read_version`: the check's, taken where it
    passed on the very file it began on, else one made again in the same thread (a check
    that failed, or a file changed meanwhile by another process, is checked the ordinary
    way, so that its errors are said the ordinary way too)."""
    ahead = _ahead.get(str(path))
    if ahead is None or ahead[1].done():
        return None
    try:
        if path.stat().st_size < CHECK_AT_OPEN_BELOW:
            return None  # `read_version` checks it now: cheaper than drawing it unjudged
    except OSError:
        return None  # opening it says why
    del _ahead[str(path)]
    key, done = ahead
    from concurrent.futures import Future

    verdict: Future[None] = Future()

    def check() -> None:
        try:
            try:
                passed = done.result() is not None and _identity(path) == key
            except Exception:
                passed = False
            if not passed:
                _read_version(path, True)
            verdict.set_result(None)
        except sqlite3.Error as e:
            verdict.set_exception(store_error(path, e))
        except BaseException as e:  # the store is damaged (StoreError), or unreadable
            verdict.set_exception(e)

    in_background(check, "jobdash-store-verdict")
    return verdict


def read_version(
    path: Path, whole: bool = True, upgrading: Callable[[int], None] | None = None
) -> int | None:
    """The store's schema version after `PRAGMA quick_check` when `whole` (None: an SQLite
    database without tables, to initialise): the check `check_ahead` started, where it has
    ended and passed on this very file, else one made now (see `_read_version`).

    `upgrading`: called with the version of a store that `migrate` will upgrade (older
    than this jobdash's, its tables that version's), before its file is read page by page:
    the check and the upgrade take seconds, or minutes, on a store of millions of jobs."""
    ahead = _ahead.pop(str(path), None)
    if whole and ahead is not None and ahead[1].done():  # one still reading is not waited for
        key, done = ahead
        try:
            version = done.result()
            if _identity(path) == key:
                if upgrading is None or version == SCHEMA_VERSION:
                    return version
                whole = False  # checked whole already: its tables are looked at, no more
        except Exception:
            pass
    return _read_version(path, whole, upgrading)


# An engine's heartbeat is at most HEARTBEAT old (3 s by default); one older than this is
# not taken for a live engine (a slower heartbeat only means the file is checked).
ENGINE_FRESH = 10.0
LIVE_ENGINES = (
    "SELECT host, pid FROM agents WHERE state != 'offline' AND heartbeat > ? "
    "AND (SELECT value FROM meta WHERE key = 'schema_version') = ?"
)


def engine_writes(con: sqlite3.Connection) -> bool:
    """Whether an engine (or agent) writes the store now: a heartbeat of the last
    ENGINE_FRESH seconds, not offline, and on this host a live process (an engine killed a
    second ago is not one).

    Such an engine checked the whole file when it opened it, and has written it every few
    seconds since, each write checked page by page by SQLite as it goes: a command's write
    beside it is held to what the engine's own writes are, so the command does not read
    every page again first (1.5 s at 1M jobs, ~27 s at 10M, for `jobdash cancel`). Any
    doubt (an older schema, a table that cannot be read) is a no: the file is checked."""
    try:
        rows = con.execute(
            LIVE_ENGINES, (time.time() - ENGINE_FRESH, str(SCHEMA_VERSION))
        ).fetchall()
    except sqlite3.Error:
        return False
    import socket  # here: a read's opening needs no host name

    host = socket.gethostname()
    return any(h != host or pid_alive(int(pid)) for h, pid in rows)


def _tell_upgrade(con: sqlite3.Connection, upgrading: Callable[[int], None]) -> None:
    """Call `upgrading` with the store's version where `migrate` will upgrade it: older than
    this jobdash's, and its tables that version's. Read before the store is checked, and
    so from a file not yet known whole: anything amiss here is not an upgrade (`migrate`
    would refuse it), and the check after says what it is."""
    from jobdash.core.store.sqlite.migrate import schema_mismatch

    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        version = int(meta.get("schema_version", "0"))
        if meta.get("app") != APP_ID or not 1 <= version < SCHEMA_VERSION:
            return  # most often: up to date (or no store yet, no table meta)
        tables = {
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    except (sqlite3.Error, TypeError, ValueError):
        return
    if not schema_mismatch(tables, version):
        upgrading(version)


def _read_version(
    path: Path, whole: bool, upgrading: Callable[[int], None] | None = None
) -> int | None:
    """The store's schema version after `PRAGMA quick_check` when `whole` (None: an SQLite
    database without tables, to initialise).

    Without `whole` (a command that only reads) the file is not read page by page: that
    costs about 2 ms per MB, seconds on a store of millions of jobs, for a command that
    reads a few pages. SQLite still checks each page a read meets, so such a command
    refuses a damaged page it reads (SQLITE_CORRUPT: the store is damaged, one line), and
    it writes nothing; every command that writes, and the engine, check the whole file,
    but beside an engine that writes it now (`engine_writes`)."""
    # A WAL-mode file opened even read-only gets -wal and -shm files created beside it;
    # `immutable` reads the file alone. Only when a -wal exists (someone uses it: it may
    # hold committed pages) is it read the ordinary way, which then creates nothing new.
    wal = sidecar(path, "-wal").exists()
    con = sqlite3.connect(
        readable_uri(path) if wal else read_only_uri(path, immutable=True), uri=True
    )
    try:
        if upgrading is not None:
            _tell_upgrade(con, upgrading)
        # Every page is read: about 2 ms per MB of store (a store of 100,000 jobs, 134 MB,
        # takes 0.3 s with the file in the page cache), unless a live engine writes it.
        if whole and not engine_writes(con):
            problems = [r[0] for r in con.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise damaged(path, "; ".join(problems))
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StoreError(
                f"{path}: not a jobdash store (an SQLite database of something else); left untouched"
            )
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    if meta.get("app") != APP_ID:
        raise StoreError(
            f"{path}: not a jobdash store (meta.app is {meta.get('app')!r}); left untouched"
        )
    text = meta.get("schema_version", "0")
    try:
        version = int(text)
    except (TypeError, ValueError):
        raise damaged(
            path, f"meta.schema_version is {one_line(repr(text), 40)}, not a number"
        ) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer jobdash (store schema {version}, this version knows "
            f"{SCHEMA_VERSION}); upgrade jobdash — the store was left untouched"
        )
    if version < 1:
        raise damaged(path, f"meta.schema_version is {version}")
    return version
