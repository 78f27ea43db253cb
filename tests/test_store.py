"""The SQLite store: creation, migrations, refusing files that are not ours."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobdash.core.model import BadInput
from jobdash.core.store.engine_records import Claimant
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sql.counts import COUNT_COLUMNS
from jobdash.core.store.sqlite import SqliteStore
from jobdash.core.store.sqlite.counts import Counts
from jobdash.core.store.sqlite.db import CHECKPOINT_EVERY
from jobdash.core.store.sqlite.schema import SCHEMA_VERSION


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


async def test_new_store_is_created_0600_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "store.db"
    store = await SqliteStore.open(path, create_folder=True)  # as for the default path
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(con.execute("SELECT key, value FROM meta"))
        assert meta == {"app": "jobdash", "schema_version": str(SCHEMA_VERSION)}
        con.close()
        await store.audit("alice", "run", "job:1")
    finally:
        await store.close()
    # Opening it again migrates nothing and keeps the data.
    store = await SqliteStore.open(path)
    assert [(e.user, e.target) for e in await store.audit_events()] == [("alice", "job:1")]
    assert await store.rev() == 1
    await store.close()


@pytest.mark.parametrize("kind", ["text", "other-sqlite", "newer"])
async def test_foreign_or_newer_files_are_refused_untouched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "some.db"
    if kind == "text":
        path.write_text("hello, I am a spreadsheet\n")
        expect = "not a jobdash store (not an SQLite database)"
    else:
        con = sqlite3.connect(path)
        if kind == "other-sqlite":
            con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            con.execute("INSERT INTO invoices VALUES (1, 9.5)")
            expect = "an SQLite database of something else"
        else:
            con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            con.execute("INSERT INTO meta VALUES ('app', 'jobdash'), ('schema_version', '999')")
            expect = "made by a newer jobdash (store schema 999"
        con.commit()
        con.close()
    before = digest(path)
    with pytest.raises(BadInput, match=re.escape(expect)) as e:
        await SqliteStore.open(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some.db"]  # no -wal, no -shm


async def test_an_older_store_is_migrated_forward(tmp_path: Path) -> None:
    from jobdash.core.store.sqlite.migrate import split_sql
    from jobdash.core.store.sqlite.schema import MIGRATIONS

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    for stmt in split_sql(MIGRATIONS[0]):
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('app', 'jobdash'), ('schema_version', '1')")
    con.execute(
        "INSERT INTO jobs (type, params, user, trigger, status, created, updated) "
        "VALUES ('t', '{}', 'alice', 'manual', 'succeeded', 1, 1)"
    )
    con.commit()
    con.close()
    store = await SqliteStore.open(path)
    try:
        job = await store.get_job(1)
        assert job.user == "alice"
        con = sqlite3.connect(path)
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[
            0
        ] == str(SCHEMA_VERSION)
        con.close()
    finally:
        await store.close()


def test_core_does_not_import_textual() -> None:
    """The house plan: the engine never pulls in the dashboard toolkit."""
    code = (
        "import sys, jobdash.core.service, jobdash.core.agent, jobdash.cli; "
        "from jobdash.core.service import *; "  # its names are imported when asked for
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert os.path.exists(Path(__file__).parent.parent / "jobdash" / "core")


async def test_prune_removes_only_jobs_finished_before_the_cutoff(tmp_path: Path) -> None:
    """Retention: old finished jobs go with their tasks and logs, in small batches; active
    and recent jobs stay, and watchers are told which ids went."""
    path = tmp_path / "s.db"
    store = await SqliteStore.open(path)
    try:
        rev0 = await store.rev()
        con = sqlite3.connect(path)
        rows = []
        for i in range(1, 501):
            status, finished = ("succeeded", 1000.0 + i) if i <= 450 else ("running", None)
            if i > 400 and i <= 450:
                finished = 5000.0  # recent
            rows.append((i, status, finished))
        con.executemany(
            "INSERT INTO jobs (id, type, params, user, trigger, status, created, updated, "
            "finished) VALUES (?, 't', '{}', 'u', 'manual', ?, 1, 1, ?)",
            rows,
        )
        con.executemany(
            "INSERT INTO logs (job_id, ts, stream, text) VALUES (?, 1, 'stdout', 'x')",
            [(i,) for i in range(1, 501)],
        )
        con.commit()
        con.close()
        assert await store.prune(older_than=4000.0) == 400
        left = await store.list_jobs(JobFilter(oldest_first=True))
        assert [j.id for j in left] == list(range(401, 501))
        con = sqlite3.connect(path)
        assert con.execute("SELECT count(*) FROM logs").fetchone()[0] == 100
        con.close()
        changes = await store.changes_since(rev0)
        assert sorted(changes.removed) == list(range(1, 401))
    finally:
        await store.close()


async def test_a_store_locked_by_another_process_is_waited_for_without_stalling_the_loop(
    tmp_path: Path,
) -> None:
    """The writer never waits inside SQLite (its hot transactions run on the event loop's
    thread): a lock held elsewhere is waited for by sleeping in the loop, which goes on."""
    path = tmp_path / "store.db"
    store = await SqliteStore.open(path)
    holder = (
        "import sqlite3, sys, time\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "con.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(0.6)\n"
        "con.execute('COMMIT')\n"
    )
    other = subprocess.Popen(  # noqa: ASYNC220 -- its first line is awaited in a thread
        [sys.executable, "-c", holder, str(path)], stdout=subprocess.PIPE, text=True
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    try:
        assert other.stdout is not None
        assert await asyncio.to_thread(other.stdout.readline) == "locked\n"
        ticker = asyncio.get_running_loop().create_task(tick())
        t0 = time.monotonic()
        claims, _ = await asyncio.gather(
            store.claim(Claimant("owner", "agent", 4, 15.0)),  # run whole, on the loop's thread
            store.audit("alice", "run", "job:1"),  # awaited statement by statement
        )
        waited = time.monotonic() - t0
        ticker.cancel()
        assert claims == []
        assert waited >= 0.3, "the writes went through while the other process held the lock"
        assert ticks >= 10, f"the event loop stood still while waiting ({ticks} ticks)"
        assert [e.target for e in await store.audit_events()] == ["job:1"]
    finally:
        await store.close()
        other.wait(10)


async def test_the_wal_is_checkpointed_as_the_writer_goes(tmp_path: Path) -> None:
    """SQLite's own checkpoints are off for the writer (they would sync on the loop's
    thread); the store runs them itself, so the WAL does not grow for ever."""
    path = tmp_path / "store.db"
    store = await SqliteStore.open(path)
    try:
        for i in range(1_000):
            await store.audit("alice", "run", f"job:{i}", "x" * 2_000)
        await asyncio.sleep(0.2)  # a checkpoint under way ends
        wal = Path(f"{path}-wal").stat().st_size
    finally:
        await store.close()
    # 1,000 commits of a 2 kB row and its index write about 10 MB of WAL frames.
    assert wal < 5_000_000, f"WAL of {wal:,} bytes after 1,000 commits"


async def test_transactions_on_the_loops_thread_go_on_across_checkpoints(tmp_path: Path) -> None:
    """A checkpoint (in the writer's thread) must leave no statement open on the writer, or
    the next COMMIT run on the loop's thread fails."""
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        for i in range(3 * CHECKPOINT_EVERY):
            assert await store.claim(Claimant("owner", "agent", 4, 15.0)) == []  # run whole, inline
            if i % 50 == 0:
                await store.audit("alice", "run", f"job:{i}")  # in the writer's thread
        assert len(await store.audit_events(limit=1_000)) == 3 * CHECKPOINT_EVERY // 50
    finally:
        await store.close()


def test_task_status_moves_follow_the_lifecycle() -> None:
    """The store's counted status changes are checked against TASK_TRANSITIONS."""
    counts = Counts()
    counts.move(1, "pending", "running")
    counts.move(1, "running", "pending")  # a retry of a failed attempt, or a lost claim
    counts.move(1, "running", "succeeded")
    with pytest.raises(RuntimeError, match="job 1: a task cannot go from succeeded to running"):
        counts.move(1, "succeeded", "running")
    with pytest.raises(RuntimeError, match="from pending to succeeded"):
        counts.move(1, "pending", "succeeded")
    delta = dict(zip(COUNT_COLUMNS, counts.delta[1], strict=True))
    assert delta["succeeded"] == 1 and delta["pending"] == 0


async def test_policies_set_at_run_time_before_version_4_stay_admin_ones(tmp_path: Path) -> None:
    from jobdash.core.store.sqlite.migrate import split_sql
    from jobdash.core.store.sqlite.schema import MIGRATIONS

    path = tmp_path / "v3.db"
    con = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for stmt in split_sql(migration):
            con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('app', 'jobdash'), ('schema_version', '3')")
    con.execute("INSERT INTO schedules (id, type, planning) VALUES ('a', 'a', 'automatic')")
    con.execute(
        "INSERT INTO schedules (id, type, planning, overlap) VALUES ('b', 'b', 'automatic', 'queue')"
    )
    con.commit()
    con.close()
    store = await SqliteStore.open(path)
    await store.close()
    con = sqlite3.connect(path)
    assert dict(con.execute("SELECT id, policy_source FROM schedules")) == {
        "a": "config",
        "b": "admin",
    }
    con.close()


async def test_a_bulk_of_jobs_goes_in_a_few_statements_each_row_as_given(tmp_path: Path) -> None:
    """A run of a statement a row, SQLite's work of each run was done once a job (before
    migration 26, three temporary b-trees: 646 k → 564 k instructions a bulk job): the
    rows go in many to a statement (128, 64, 32 …), each with its own id and values."""
    from tests.store_contract.jobs import commands

    store = await SqliteStore.open(tmp_path / "s.db")
    ran: list[str] = []
    try:
        store.db.writer.set_trace_callback(ran.append)  # type: ignore[union-attr]
        ids = await store.create_jobs([commands(f"bulk{i}", tasks=i % 3 + 1) for i in range(300)])
        store.db.writer.set_trace_callback(None)  # type: ignore[union-attr]
        jobs = await store.list_jobs(JobFilter(oldest_first=True))
    finally:
        await store.close()
    assert ids == list(range(ids[0], ids[0] + 300))
    assert [(j.id, j.type, j.total) for j in jobs] == [
        (job_id, f"bulk{i}", i % 3 + 1) for i, job_id in enumerate(ids)
    ]
    inserts = [s for s in ran if s.startswith("INSERT INTO jobs")]
    assert [s.count("), (") + 1 for s in inserts] == [128, 128, 32, 8, 4]


async def test_writing_a_jobs_status_builds_no_temporary_b_tree(tmp_path: Path) -> None:
    """The partial indexes of active and finished jobs say their statuses as comparisons
    (migration 26): a list of more than two values is evaluated by SQLite against a
    temporary b-tree built at each evaluation, and writing a row evaluates the predicates
    of the indexes it may enter or leave (six b-trees a job settled, three a job inserted,
    ~90,000 instructions of a bulk one-task job's ~560,000)."""
    from jobdash.core.store.sqlite.submits import SUBMITS

    store = await SqliteStore.open(tmp_path / "s.db")
    await store.close()
    con = sqlite3.connect(tmp_path / "s.db")
    try:
        for sql, args in [
            ("UPDATE jobs SET status = ?, finished = ? WHERE id = ?", 3),
            (SUBMITS.job_with_id, 23),
        ]:
            ops = [row[1] for row in con.execute("EXPLAIN " + sql, [None] * args)]
            assert "OpenEphemeral" not in ops, sql
    finally:
        con.close()
