"""A store made by an older jobdash is upgraded in place when it is first opened: its whole
file is checked, then migrated, seconds or minutes on a store of millions of jobs. The user
is told so once, on stderr, before that work starts (a silent minute looks like a hang), and
after it how long it took; a store up to date says nothing new. Real stores of the schema
before this one's, made as that jobdash made them, and real `jobdash` processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from jobdash.core.store.postgres.schema import SCHEMA_VERSION as PG_SCHEMA
from jobdash.core.store.sqlite import SqliteStore, files
from jobdash.core.store.sqlite.migrate import split_sql
from jobdash.core.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import run_cli
from tests.os_users import OsUser
from tests.os_users import other_user as other_user  # a fixture
from tests.test_bad_input import refused
from tests.test_check_under_way import check_ends, check_started
from tests.tui.pty_harness import quit_on_pty
from tests.web.conftest import start_web

OLD = SCHEMA_VERSION - 1
NOTICE = "jobdash: upgrading the store "


def old_store(path: Path, jobs: int = 3) -> None:
    """A store as the jobdash of schema OLD left it: its migrations, its meta, and `jobs`
    finished jobs of one task each (mode 0600, as jobdash makes a store)."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("BEGIN")
        for script in MIGRATIONS[:OLD]:
            for stmt in split_sql(script):
                con.execute(stmt)
        con.execute("INSERT INTO meta VALUES ('app', 'jobdash'), ('schema_version', ?)", (OLD,))
        for i in range(1, jobs + 1):
            con.execute(
                "INSERT INTO jobs (id, type, params, user, trigger, status, created, updated, "
                "started, finished, succeeded, progress, rev) VALUES (?, 'noop', '{}', "
                "'bench', 'manual', 'succeeded', ?, ?, ?, ?, 1, 1, ?)",
                (i, 1e9 + i, 1e9 + i, 1e9 + i, 1e9 + i + 0.5, i),
            )
            con.execute(
                "INSERT INTO tasks (id, job_id, seq, key, name, kind, spec, status, attempt, "
                "started, finished) VALUES (?, ?, 1, 'main', 'main', 'job', 'null', "
                "'succeeded', 1, ?, ?)",
                (i, i, 1e9 + i, 1e9 + i + 0.5),
            )
        con.execute("COMMIT")


def says_upgrade(stderr: str) -> bool:
    return "jobdash: upgrading the store" in stderr or "jobdash: upgraded the store" in stderr


def schema_of(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return int(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def test_a_store_to_upgrade_is_said_once_on_stderr_before_anything_else(tmp_path: Path) -> None:
    """`jobdash jobs`, whose reads of a store up to date run without the event loop, finds
    the store to upgrade and opens it again on the loop: the line comes once all the same,
    first, and the note after says how long it took; the listing is the store's."""
    db = tmp_path / "old.db"
    old_store(db)
    done = run_cli("--db", str(db), "jobs", "--json")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"{NOTICE}{re.escape(str(db))} \([0-9.]+ KiB, made by an older jobdash: schema {OLD}, "
        rf"this one's is {SCHEMA_VERSION}\): this may take a minute or more on a store of "
        "millions of jobs\n"
        rf"jobdash: upgraded the store from schema {OLD} to {SCHEMA_VERSION} in [0-9]+\.[0-9] s\n",
        done.stderr,
    ), done.stderr
    assert [j["id"] for j in json.loads(done.stdout)] == [3, 2, 1]  # stdout: the JSON alone
    assert schema_of(db) == SCHEMA_VERSION
    # Up to date now: nothing more is said.
    again = run_cli("--db", str(db), "jobs")
    assert again.returncode == 0 and again.stderr == "", again.stderr


def test_a_store_up_to_date_or_new_says_nothing_of_upgrades(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    made = run_cli("--db", str(db), "jobs")
    assert made.returncode == 0
    assert made.stderr == f"jobdash: created store at {db}\nno jobs match\n"
    for command in (["jobs"], ["db", "init"], ["db", "size"]):
        done = run_cli("--db", str(db), *command)
        assert done.returncode == 0 and not says_upgrade(done.stderr), done.stderr


def test_every_command_that_opens_a_store_says_it(tmp_path: Path) -> None:
    """A command that writes (its whole-file check first), and `db init`, whose answer on
    stdout is the note."""
    for command in (["cancel", "1"], ["db", "init"]):
        db = tmp_path / f"{command[0]}.db"
        old_store(db)
        done = run_cli("--db", str(db), *command)
        assert done.stderr.startswith(f"{NOTICE}{db} ("), done.stderr
        assert done.stderr.count("upgrading") == 1, done.stderr
        assert schema_of(db) == SCHEMA_VERSION
    assert done.returncode == 0
    assert done.stdout.startswith(f"upgraded the store from schema {OLD} to {SCHEMA_VERSION} in ")


def test_a_store_to_upgrade_that_cannot_be_written_keeps_its_one_line(
    other_user: OsUser,
) -> None:
    """Nothing is upgraded, so nothing is said of it: the refusal stays one line."""
    db = other_user.home / "old.db"
    old_store(db)
    for path in (db, other_user.home / "old.db-wal", other_user.home / "old.db-shm"):
        if path.exists():
            os.chown(path, other_user.uid, other_user.gid)
    db.chmod(0o400)
    refused(
        other_user.run("--db", str(db), "jobs"),
        f"{db}: made by an older jobdash (store schema {OLD}, this version uses "
        f"{SCHEMA_VERSION}): upgrading it writes it, and the store file is not writable by you",
    )
    assert schema_of(db) == OLD


def test_the_dashboard_says_it_before_it_takes_the_terminal(tmp_path: Path) -> None:
    """Textual takes the terminal (the alternate screen) once the store is open: the line is
    written before, where the user sees it while the store is upgraded."""
    db = tmp_path / "old.db"
    old_store(db)
    status, written = quit_on_pty(["--db", str(db)], tmp_path, after="In Progress")
    assert status == 0, written[-2000:]
    said = written.find(NOTICE.encode())
    assert said >= 0 and written.count(b"upgrading the store") == 1, written[:2000]
    assert written.find(b"\x1b[") > said, written[:2000]  # nothing drawn before it
    assert schema_of(db) == SCHEMA_VERSION


def test_the_dashboards_lines_before_it_starts_are_inert(tmp_path: Path) -> None:
    """A store's path is not jobdash's own text: where it holds an escape sequence, the
    dashboard's lines before it takes the terminal (the upgrade, the mode made 0600) show it
    as a visible stand-in, never act on it."""
    folder = tmp_path / "\x1b[31mred"
    folder.mkdir()
    db = folder / "old.db"
    old_store(db)
    db.chmod(0o644)  # opened up: made 0600 and said, with the upgrade
    status, written = quit_on_pty(["--db", str(db)], tmp_path, after="In Progress")
    assert status == 0, written[-2000:]
    before = written[: written.find(b"\x1b[?")]  # what came before Textual's first mode
    assert NOTICE.encode() in before and b"made " in before, written[:2000]
    assert b"\x1b" not in before and "␛[31mred".encode() in before, before


def test_jobdash_webs_lines_before_it_serves_are_inert(tmp_path: Path) -> None:
    """The same for `jobdash web`, which opens the store once before it serves."""
    folder = tmp_path / "\x1b[31mred"
    folder.mkdir()
    db = folder / "old.db"
    old_store(db)
    served = start_web(tmp_path / "web.log", "--db", str(db))
    try:
        written = served.log.read_bytes()
    finally:
        served.stop()
    assert NOTICE.encode() in written and b"upgraded the store" in written, written
    assert b"\x1b" not in written and "␛[31mred".encode() in written, written


async def test_the_line_is_told_before_the_store_is_checked_and_upgraded(tmp_path: Path) -> None:
    """Through the store's own opening (what every front end calls): told once, while the
    file is still of the old schema; the note after says how long it took."""
    db = tmp_path / "old.db"
    old_store(db)
    told: list[tuple[str, int]] = []
    store = await SqliteStore.open(db, upgrading=lambda line: told.append((line, schema_of(db))))
    await store.close()
    assert [(line.split(" (")[0], schema) for line, schema in told] == [
        (f"upgrading the store {db}", OLD)
    ]
    assert store.created.startswith(f"upgraded the store from schema {OLD} to {SCHEMA_VERSION}")
    again = await SqliteStore.open(db, upgrading=lambda line: told.append((line, 0)))
    await again.close()
    assert len(told) == 1 and again.created == ""


async def test_the_dashboards_check_ahead_does_not_hold_the_line_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard starts the whole-file check ahead: where it still reads when the store
    is opened (seconds, on a store of millions of jobs), the line is told before the
    upgrade waits for it; where it has ended, the line is told all the same."""
    monkeypatch.setattr(files, "CHECK_AT_OPEN_BELOW", 0)  # judged as a large store is
    db = tmp_path / "old.db"
    old_store(db)
    told: list[str] = []
    ahead = check_started(db)
    opening = asyncio.create_task(SqliteStore.open(db, upgrading=told.append))
    for _ in range(200):
        if told:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert len(told) == 1 and not opening.done()  # said; the upgrade waits for the check
    check_ends(ahead, db)
    store = await asyncio.wait_for(opening, 30)
    await store.close()
    assert len(told) == 1 and schema_of(db) == SCHEMA_VERSION

    done = tmp_path / "checked.db"
    old_store(done)
    ahead = check_started(done)
    ahead.set_result(OLD)  # a check that ended on this very file
    store = await SqliteStore.open(done, upgrading=told.append)
    await store.close()
    assert len(told) == 2 and told[1].startswith(f"upgrading the store {done} (")


def test_a_postgresql_store_to_upgrade_is_said_too(request: pytest.FixtureRequest) -> None:
    """PostgreSQL's migrations rewrite or index the whole jobs table (17: the words of every
    job): minutes on millions of jobs, said as SQLite's are."""
    from tests.pg import fresh_pg_store
    from tests.test_pg_task_jobs import store_of_schema_19

    url = fresh_pg_store(request)
    store_of_schema_19(url)
    done = run_cli("--db", url, "jobs", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{NOTICE}"), lines
    assert f"(made by an older jobdash: schema 19, this one's is {PG_SCHEMA}): " in lines[0]
    assert re.fullmatch(
        rf"jobdash: upgraded the store from schema 19 to {PG_SCHEMA} in [0-9]+\.[0-9] s", lines[1]
    ), lines
    assert [j["id"] for j in json.loads(done.stdout)] == [2, 1]
    again = run_cli("--db", url, "jobs")
    assert again.returncode == 0 and not says_upgrade(again.stderr), again.stderr
