"""A store that cannot be used is refused in one line (exit 2), never hangs, and is never
written to: another user's store, unreadable or unwritable files and folders, files that
are not stores, damaged stores. A store is created only where none exists, and jobdash
says so. The CLI runs as a real process (as a real second OS user where it matters)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from jobdash.core.model import Trigger
from jobdash.core.store.engine_records import NewJob, NewTask
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sqlite import SqliteStore
from tests.conftest import ending_with, run_cli
from tests.os_users import OsUser, other_user
from tests.test_untrusted_text import run_tty

__all__ = ["other_user"]  # fixture

CONFIG = '[types.hello]\ncommand = ["true"]\n'
TIMEOUT = 30  # a hang fails the test instead of blocking the suite


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command was refused in one line, exit status 2, without a traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecars(path: Path) -> list[str]:
    return [s for s in ("-wal", "-shm", "-journal") if Path(f"{path}{s}").exists()]


def store_with_data(path: Path, jobs: int = 60) -> None:
    """A store holding jobs, tasks and log lines, written by jobdash itself."""
    asyncio.run(fill_store(path, jobs))


def new_job(i: int, tasks: int = 3) -> NewJob:
    """Job `i` of type hello, of `tasks` tasks."""
    return NewJob(
        type="hello",
        params={"n": str(i)},
        user="root",
        trigger=Trigger.MANUAL,
        target="",
        parallel=1,
        cancellable=True,
        on_lock="wait",
        timeout=None,
        retries=0,
        backoff=1.0,
        lock_keys=[],
        tasks=[NewTask(f"t{k}", f"task {k}", "command", ["true"]) for k in range(tasks)],
    )


async def fill_store(path: Path, jobs: int) -> None:
    store = await SqliteStore.open(path)
    try:
        for i in range(jobs):
            job = await store.create_job(new_job(i), audit_user="root")
            for k in range(20):
                store.append_log_nowait(job.id, None, "stdout", f"job {i} line {k} " + "x" * 80)
        await store.flush()
    finally:
        await store.close()


def start_serve(*args: str) -> subprocess.Popen[str]:
    """`jobdash ARGS serve` as root, once it has started its engine (stderr still open)."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "jobdash", *args, "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ending_with(os.getpid()),  # ends with pytest, even one killed outright
    )
    assert serve.stderr is not None
    first = serve.stderr.readline()
    assert "jobdash serve: agent" in first, first
    return serve


def noise(page_size: int) -> bytes:
    """A page of random bytes that no b-tree read can take for a page: its first byte, the
    page's kind, is none of SQLite's four. (Wholly random, one page in 64 starts with a
    valid kind, and a read may then find the noise an empty page, as a flaky test did.)"""
    return b"\x00" + os.urandom(page_size - 1)


def corrupt_middle_page(path: Path) -> None:
    """Random bytes over a whole page in the middle of the file, as a failing disk or a
    stray write leaves it; SQLite itself must then find the file damaged."""
    con = sqlite3.connect(path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert pages > 20 and not sidecars(path)
    with path.open("r+b") as f:
        f.seek(page_size * (pages // 2))
        f.write(noise(page_size))
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)  # creates nothing
    try:
        assert con.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    except sqlite3.DatabaseError:
        pass  # so damaged that the check itself stops: damaged all the same
    finally:
        con.close()


# --------------------------------------------------------------------------- damaged (10)


def corrupt_leaf_of(path: Path, table: str) -> None:
    """Random bytes over one leaf page of `table`: a read of that table meets it."""
    con = sqlite3.connect(path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    (page,) = con.execute(
        "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno LIMIT 1",
        (table,),
    ).fetchone()
    con.close()
    with path.open("r+b") as f:
        f.seek(page_size * (page - 1))
        f.write(noise(page_size))


# Commands that write check every page of the store before anything else (the engine too);
# a command that only reads does not read the whole file first (seconds on a store of
# millions of jobs): SQLite checks each page it reads, and a damaged one is refused.
@pytest.mark.parametrize(
    ("command", "damage"),
    [
        (["run", "hello"], "middle"),
        (["clear"], "middle"),
        (["serve", "--grace", "1"], "middle"),
        (["jobs", "--all"], "jobs"),
        (["export", "--format", "csv"], "jobs"),
    ],
)
def test_a_damaged_store_is_refused_and_never_written(
    tmp_path: Path, command: list[str], damage: str
) -> None:
    db = tmp_path / "store.db"
    store_with_data(db)
    if damage == "middle":
        corrupt_middle_page(db)
    else:  # a page the command reads
        corrupt_leaf_of(db, damage)
    (tmp_path / "jobdash.toml").write_text(CONFIG)
    before = digest(db)
    done = run_cli("--db", str(db), *command, timeout=TIMEOUT)
    line = refused(done, "the store is damaged", ".recover", "restore a backup")
    assert line.startswith(f"jobdash: {db}: ")
    assert digest(db) == before
    assert sidecars(db) == []


def test_the_dashboard_checks_its_store_while_it_loads_and_refuses_a_damaged_one(
    tmp_path: Path,
) -> None:
    """The dashboard starts its store's whole-file check in a thread before it loads its
    modules (`check_store_ahead`); a damaged store is still refused in one line, exit 2,
    before anything is written or drawn."""
    db = tmp_path / "store.db"
    store_with_data(db)
    corrupt_middle_page(db)
    (tmp_path / "jobdash.toml").write_text(CONFIG)
    before = digest(db)
    status, written = run_tty("--db", str(db), "--config", str(tmp_path / "jobdash.toml"))
    assert status == 2, written
    lines = written.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"jobdash: {db}: the store is damaged"), lines
    assert digest(db) == before
    assert sidecars(db) == []


async def test_a_store_changed_after_its_check_ahead_is_checked_again(tmp_path: Path) -> None:
    """A check started ahead passed on the whole file; the file is then damaged (as a
    failing disk would, between the dashboard's start and its opening of the store): the
    opening does not take the old verdict, it checks again and refuses the store."""
    from jobdash.core.store.sqlite import files

    db = tmp_path / "store.db"
    await fill_store(db, 60)
    files.check_ahead(db)
    _key, done = files._ahead[str(db)]
    assert done.result(TIMEOUT) is not None  # passed: a version
    corrupt_middle_page(db)
    before = digest(db)
    with pytest.raises(StoreError, match="the store is damaged"):
        await SqliteStore.open(db)
    assert digest(db) == before
    # Unchanged, the verdict is taken (the check is not made twice), and the store opens.
    db2 = tmp_path / "whole.db"
    await fill_store(db2, 5)
    files.check_ahead(db2)
    files._ahead[str(db2)][1].result(TIMEOUT)
    store = await SqliteStore.open(db2)
    try:
        assert str(db2) not in files._ahead
        assert len(await store.list_jobs(JobFilter())) == 5
    finally:
        await store.close()


async def test_a_small_store_whose_check_ahead_has_not_ended_is_judged_at_opening(
    tmp_path: Path,
) -> None:
    """On a loaded machine the check ahead (at the lowest priority) may not even have begun
    when the dashboard opens its store: a small store is then checked at once, there, so
    that a damaged one is refused before anything is drawn (the official CI once drew the
    dashboard over a damaged store of 60 jobs, then refused it)."""
    from jobdash.core.store.sqlite import files

    db = tmp_path / "store.db"
    await fill_store(db, 60)
    corrupt_middle_page(db)
    held: Future[int | None] = Future()  # a check ahead that never ends
    files._ahead[str(db)] = (files._identity(db), held)
    assert files.check_under_way(db) is None  # not left to run while the store is drawn
    before = digest(db)
    with pytest.raises(StoreError, match="the store is damaged"):
        await asyncio.wait_for(SqliteStore.open(db), TIMEOUT)  # not waiting for it either
    assert digest(db) == before and str(db) not in files._ahead


def test_an_engine_that_finds_its_store_damaged_stops_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    store_with_data(db)
    (tmp_path / "jobdash.toml").write_text(CONFIG)
    serve = start_serve("--db", str(db))
    try:
        assert serve.stderr is not None
        # Every page but the first two turns to noise under the running engine; another
        # process then tries to write (and finds it damaged too).
        con = sqlite3.connect(db)
        page_size, pages = (
            con.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count")
        )
        con.close()
        with db.open("r+b") as f:
            f.seek(2 * page_size)
            f.write(os.urandom(page_size * (pages - 2)))
        with pytest.raises(sqlite3.DatabaseError, match="malformed"):
            con = sqlite3.connect(db)
            try:
                con.execute("UPDATE counter SET rev = rev + 1")
            finally:
                con.close()
        assert serve.wait(TIMEOUT) == 2
        lines = serve.stderr.read().strip().splitlines()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert not any("Traceback" in line for line in lines)
    assert "the store is damaged" in lines[0] and "nothing more is written to it" in lines[0]
    assert lines[-1].startswith(f"jobdash: {db}: the store is damaged")
    assert ".recover" in lines[-1]


def test_a_schema_version_that_is_not_a_number_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    assert run_cli("--db", str(db), "jobs").returncode == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = digest(db)
    refused(run_cli("--db", str(db), "jobs", timeout=TIMEOUT), "schema_version is 'abc'")
    assert digest(db) == before


def test_a_store_is_created_only_where_none_is_and_jobdash_says_so(tmp_path: Path) -> None:
    # An explicit path in a missing folder: refused, nothing created.
    missing = tmp_path / "no" / "such" / "store.db"
    for how in (["--db", str(missing)], []):
        env = {} if how else {"JOBDASH_DB": str(missing)}
        refused(run_cli(*how, "jobs", env=env), f"no folder {missing.parent}")
    assert not (tmp_path / "no").exists()
    # A missing file in an existing folder: created 0600, said once.
    db = tmp_path / "new.db"
    first = run_cli("--db", str(db), "jobs")
    assert first.returncode == 0 and f"jobdash: created store at {db}\n" in first.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    again = run_cli("--db", str(db), "jobs")
    assert again.returncode == 0 and "created" not in again.stderr
    # An empty file (SQLite reads it as an empty database): made a store, and said so.
    empty = tmp_path / "empty.db"
    empty.touch(mode=0o600)
    done = run_cli("--db", str(empty), "jobs")
    assert done.returncode == 0 and "created store at" in done.stderr
    assert "in the empty file there" in done.stderr
    assert "created" not in run_cli("--db", str(empty), "jobs").stderr


def test_the_default_data_folder_is_created_0700(tmp_path: Path) -> None:
    data = tmp_path / "xdg-fresh"  # not there yet, nor its parents' jobdash folder
    env = {"JOBDASH_DB": "", "XDG_DATA_HOME": str(data)}
    first = run_cli("jobs", env=env)
    db = data / "jobdash" / "jobdash.db"
    assert first.returncode == 0, first.stderr
    assert f"created store at {db} (and its folder, mode 0700)" in first.stderr
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert "created" not in run_cli("jobs", env=env).stderr


# --------------------------------------------------------------------------- not stores (8)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/proc/version", ["not a jobdash store"]),
        ("/dev/null", ["not a regular file"]),
        ("/", ["is a directory"]),
    ],
)
def test_a_file_that_is_not_a_store_is_one_line_without_a_hang(path: str, words: list[str]) -> None:
    kind = stat.S_IFMT(os.stat(path).st_mode)
    refused(run_cli("--db", path, "serve", timeout=TIMEOUT), path, *words)
    assert stat.S_IFMT(os.stat(path).st_mode) == kind  # /dev/null is still a device


async def test_a_store_that_fails_to_open_leaves_no_thread_behind(tmp_path: Path) -> None:
    """The store's threads (the writer's, the reader's) are not daemons: one left open
    keeps the process alive for ever. Here the store passes the checks, then its
    migration fails."""
    db = tmp_path / "store.db"
    await (await SqliteStore.open(db)).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")  # tables are newer
    con.commit()
    con.close()
    before = set(threading.enumerate())
    with pytest.raises(StoreError, match="do not match its recorded schema version 1") as e:
        await SqliteStore.open(db)
    assert "\n" not in str(e.value)
    for _ in range(100):
        if set(threading.enumerate()) <= before:
            break
        await asyncio.sleep(0.01)
    assert set(threading.enumerate()) <= before


# --------------------------------------------------------------------------- one user (3)


def make_store_as(user: OsUser) -> Path:
    (user.home / "jobdash.toml").write_text(CONFIG)
    db = user.home / "store.db"
    done = user.run("--db", str(db), "run", "hello")
    assert done.returncode == 0, done.stderr
    return db


def test_another_users_store_is_refused_and_points_to_postgresql(other_user: OsUser) -> None:
    shared = Path(tempfile.mkdtemp(prefix="jobdash-shared-"))  # a folder all may enter
    try:
        shared.chmod(0o755)
        db = shared / "root.db"
        assert run_cli("--db", str(db), "jobs").returncode == 0  # root's store
        for mode in (0o644, 0o600, 0o660):
            db.chmod(mode)
            before = digest(db)
            for command in (["jobs"], ["serve"]):
                line = refused(
                    other_user.run("--db", str(db), *command, timeout=TIMEOUT),
                    f"{db}: belongs to root, not to you ({other_user.name})",
                    "a SQLite store serves one OS user",
                    "PostgreSQL",
                )
                assert "Permission" not in line
            assert digest(db) == before and sidecars(db) == []
    finally:
        for p in shared.iterdir():
            p.unlink()
        shared.rmdir()


def test_an_unreadable_store_or_folder_is_one_line(other_user: OsUser) -> None:
    db = make_store_as(other_user)
    db.chmod(0)
    refused(other_user.run("--db", str(db), "jobs", timeout=TIMEOUT), str(db), "permission denied")
    db.chmod(0o600)
    inner = other_user.home / "closed"
    inner.mkdir(mode=0o700)
    os.chown(inner, other_user.uid, other_user.gid)
    moved = inner / "store.db"
    db.rename(moved)
    inner.chmod(0)
    refused(
        other_user.run("--db", str(moved), "jobs", timeout=TIMEOUT), str(moved), "permission denied"
    )


def test_a_store_that_cannot_be_written_is_one_line_without_a_hang(other_user: OsUser) -> None:
    db = make_store_as(other_user)
    config = str(other_user.home / "jobdash.toml")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return other_user.run("--db", str(db), "--config", config, *args, timeout=TIMEOUT)

    # A read-only store: read, but not written (opening a store that is up to date writes
    # nothing).
    db.chmod(0o400)
    before = digest(db)
    listed = run("jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [j["type"] for j in json.loads(listed.stdout)] == ["hello"]
    for command in (["run", "hello"], ["serve", "--grace", "1"]):
        refused(
            run(*command),
            f"{db}: cannot write the store: the store file is not writable by you (mode 0400)",
        )
    assert digest(db) == before
    db.chmod(0o600)
    # Writable again: the owner's next command works, and leaves no -wal or -shm.
    assert run("run", "hello").returncode == 0
    assert sidecars(db) == []
    # A folder where SQLite cannot add its -wal and -shm files: read (see
    # test_store_attacks), never written.
    before = digest(db)
    other_user.home.chmod(0o500)
    try:
        assert run("jobs").returncode == 0
        for command in (["run", "hello"], ["serve", "--grace", "1"]):
            refused(
                run(*command),
                f"{db}: cannot write the store: its folder {other_user.home} is not writable",
            )
    finally:
        other_user.home.chmod(0o700)
    assert digest(db) == before


def test_root_opening_a_users_store_leaves_it_the_users(other_user: OsUser) -> None:
    """Root may open any user's store, but what it creates beside it (-wal, -shm) stays
    the owner's, and the store's owner and mode do not change: the owner works on."""
    db = make_store_as(other_user)
    config = str(other_user.home / "jobdash.toml")
    serve = start_serve("--db", str(db), "--config", config)
    try:
        assert run_cli("--db", str(db), "--config", config, "run", "hello").returncode == 0
        assert sorted(sidecars(db)) == ["-shm", "-wal"]  # root's engine has them open
        for suffix in ("", "-wal", "-shm"):
            st = os.stat(f"{db}{suffix}")
            assert (st.st_uid, st.st_gid) == (other_user.uid, other_user.gid), suffix
        deadline = time.monotonic() + 20
        while True:  # the owner works beside root's engine, which runs its job
            listed = other_user.run("--db", str(db), "--config", config, "jobs", "--json")
            assert listed.returncode == 0, listed.stderr
            jobs = json.loads(listed.stdout)
            if all(j["status"] == "succeeded" for j in jobs):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.2)
        assert other_user.run("--db", str(db), "--config", config, "run", "hello").returncode == 0
    finally:
        serve.terminate()
        serve.wait(TIMEOUT)
    st = db.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (other_user.uid, 0o600)
    assert other_user.run("--db", str(db), "--config", config, "jobs").returncode == 0
