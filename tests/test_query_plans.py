"""No statement on the live path scans the history or the backlog.

The engine runs jobs (submitted one by one and in bulk, with a lock, with a failure that
is retried) beside a history of finished jobs; the dashboard's reads are made; every
statement both connections really ran is traced and explained. A history only grows and a
backlog can spike: a step that walks the jobs, tasks or logs tables (or an index of them
all) would make a per-event cost grow with them. SQLite plans without statistics here
(jobdash never runs ANALYZE), so a small store plans as a large one does.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.core.store.base import open_store
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sql import claims, reads, situation, waits
from jobdash.core.store.sql.dialect import POSTGRES, SQLITE
from tests.conftest import wait_finished
from tests.pg import fresh_pg_store

# Partial indexes of the active rows only (few, whatever the history): walking one is fine.
BOUNDED = (
    "jobs_active",
    "jobs_claimable",
    "tasks_running",
    "tasks_running_seq",
    "tasks_lease",
    "tasks_suspect",
)
BIG = {"jobs", "tasks", "logs", "j", "t", "l"}  # the big tables and the aliases they go by
DML = re.compile(r"^\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b", re.IGNORECASE)

CONFIG = """
[types.ok]
command = ["true"]

[types.locked]
command = ["true"]
locks = ["disk"]

[types.flaky]
command = ["false"]
retries = 1
backoff = 0
"""


def scans_of_everything(plan: list[str]) -> list[str]:
    """The steps of a plan that walk a big table, or a full index of it."""
    bad = []
    for step in plan:
        m = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", step)
        if m and m.group(1) in BIG and m.group(2) not in BOUNDED:
            bad.append(step)
    return bad


def seed_history(path: Path, n: int) -> None:
    """Finished jobs with a task and a log line each, written with SQL directly."""
    con = sqlite3.connect(path)
    t = time.time() - 3600
    con.executemany(
        "INSERT INTO jobs (type, params, user, trigger, status, created, updated, finished, "
        "succeeded, rev) VALUES ('ok', '{}', 'root', 'manual', 'succeeded', ?, ?, ?, 1, 0)",
        [(t + i, t + i, t + i) for i in range(n)],
    )
    con.execute(
        "INSERT INTO tasks (job_id, seq, key, name, kind, spec, status) "
        "SELECT id, 1, 'main', 'ok', 'command', 'null', 'succeeded' FROM jobs"
    )
    con.execute(
        "INSERT INTO logs (job_id, task_id, ts, stream, text) "
        "SELECT job_id, id, 0, 'stdout', 'x' FROM tasks"
    )
    con.commit()
    con.close()


async def test_no_statement_of_the_engine_or_the_dashboard_scans_the_history(
    tmp_path: Path,
    db_path: Path,
    write_config: Callable[[str], Path],
    services: Callable[..., Awaitable[Service]],
) -> None:
    config = write_config(CONFIG)
    await services(config=config, engine=False)  # creates the store
    seed_history(db_path, 300)
    svc = await services(config=config)
    store = svc.store
    ran: list[str] = []
    store.db.writer.set_trace_callback(ran.append)  # type: ignore[attr-defined]
    await store.db.reader.con.set_trace_callback(ran.append)  # type: ignore[attr-defined]
    try:
        jobs = [await svc.submit("ok"), await svc.submit("locked"), await svc.submit("flaky")]
        ids = await svc.submit_many("ok", [{}, {}, {}])
        ids += await svc.submit_many("locked", [{}, {}])
        for job_id in [j.id for j in jobs] + ids:
            await wait_finished(svc, job_id)
        # What the dashboard and the CLI read while jobs run.
        rev = await store.rev()
        await svc.submit("ok")
        await store.changes_since(rev)
        await store.running_tasks()
        await store.agents()
        await svc.jobs(active=True)
        await store.list_jobs(JobFilter(active=True))
        await store.has_jobs_to_admit()
        await store.has_lost_tasks()
        await store.recover_lost()
        await store.note_waits(time.time() - 10)
        # The dashboard's pictures and a schedule's screen, as a user who sees only their own.
        for user in (None, "root"):
            await store.type_runs("ok", 30, user)
            await store.jobs_ended(time.time(), 24, user)
        await store.tasks_done(time.time(), 60)
        await svc.schedule_jobs("nightly", limit=50)
    finally:
        store.db.writer.set_trace_callback(None)  # type: ignore[attr-defined]
        await store.db.reader.con.set_trace_callback(None)  # type: ignore[attr-defined]
    statements = sorted({sql for sql in ran if DML.match(sql)})
    assert any("FROM jobs INDEXED BY jobs_claimable" in s for s in statements), "no claim seen"
    assert any("INSERT INTO jobs" in s for s in statements), "no submission seen"
    for read in ("finished - started - idle_time", "AS BIGINT) / 3600", "AS BIGINT) / 60"):
        assert any(read in s for s in statements), f"no picture's read seen: {read}"
    con = sqlite3.connect(db_path)
    try:
        found = {}
        for sql in statements:
            plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]
            if bad := scans_of_everything(plan):
                found[sql] = bad
    finally:
        con.close()
    assert not found, found


async def test_queries_for_active_jobs_never_scan_the_history(tmp_path: Path) -> None:
    """With a long history, looking for active jobs must not scan it (the engine does so ten
    times a second). The SQL the store and service really run is traced and explained."""
    svc = await Service.open(db=str(tmp_path / "plan.db"), user="bob")
    try:
        ran: list[str] = []
        await svc.store.db.reader.con.set_trace_callback(ran.append)
        await svc.store.has_jobs_to_admit()
        await svc.store.has_claimable()
        await svc.jobs(active=True)
        await svc.store.db.reader.con.set_trace_callback(None)
        selects = [sql for sql in ran if "FROM jobs" in sql]
        assert len(selects) == 3, ran
        con = sqlite3.connect(tmp_path / "plan.db")
        for sql in selects:
            plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]
            assert "SCAN jobs" not in plan, (sql, plan)  # a full scan of the jobs table
            assert any("jobs_active" in step for step in plan), (sql, plan)
        con.close()
    finally:
        await svc.close()


async def test_the_completed_windows_reads_use_their_indexes(tmp_path: Path) -> None:
    """The Completed tab's window (a page around the cursor, its count, each filter) reads
    through an index, whatever the history: a free word through the text index, user: and
    status: through theirs, the newest or oldest page in id order without a sort (a count of
    what no index holds, type:, reads the table in order up to its cap); the text index's
    batches find what changed by revision."""
    path = tmp_path / "plan.db"
    config = tmp_path / "jobdash.toml"
    config.write_text('[jobdash]\nadmins = ["bob"]\n')  # an admin sees everyone's jobs
    svc = await Service.open(db=str(path), config=str(config), user="bob")
    try:
        seed_history(path, 300)
        ran: list[str] = []
        window = await svc.store.db.window_reader()  # type: ignore[attr-defined]
        await window.con.set_trace_callback(ran.append)  # the window's reads: their own
        await svc.store.db.reader.con.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        svc.store.db.writer.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        assert await svc.index_text()
        pages: dict[str, list[str]] = {}
        for text in ("", "ok-word", "user:root", "status:failed", "type:o", "ok"):
            query = Query.parse(text)
            for read in (
                {"limit": 100},
                {"limit": 100, "after_id": 200},
                {"limit": 100, "descending": False},
                {"limit": 100, "offset": 100},
            ):
                ran.clear()
                await svc.finished_page(query, indexed=True, **read)  # type: ignore[arg-type]
                pages[f"{text} {read}"] = [s for s in ran if "FROM jobs" in s]
            ran.clear()
            await svc.count_finished(query, cap=10_000, indexed=True)
            pages[f"{text} count"] = [s for s in ran if "FROM jobs" in s]
    finally:
        await window.con.set_trace_callback(None)
        await svc.store.db.reader.con.set_trace_callback(None)  # type: ignore[attr-defined]
        svc.store.db.writer.set_trace_callback(None)  # type: ignore[attr-defined]
        await svc.close()
    con = sqlite3.connect(path)
    try:
        for what, statements in pages.items():
            assert len(statements) == 1, (what, statements)
            plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + statements[0])]
            text = " | ".join(plan)
            assert "TEMP B-TREE" not in text, (what, plan)  # no sort of the matches
            if what.startswith(("ok-word", "ok ")):
                # A word too short for the index's lookup is read in its text, in id order.
                assert "jobs_text VIRTUAL TABLE" in text and "SCAN jobs" not in plan, (what, plan)
            elif what.startswith("user:"):
                assert "INDEX jobs_user_folded" in text, (what, plan)
            elif what.startswith("status:"):
                assert "INDEX jobs_status" in text, (what, plan)
            elif what.startswith("type:") and "count" in what:
                # No index holds it: the table's rows in id order, up to the cap (a walk of
                # the status index would look each row up).
                assert "SCAN jobs" in plan and "INDEX" not in text, (what, plan)
            elif "count" in what:
                assert "INDEX jobs_status" in text, (what, plan)  # not every row of the table
            else:
                assert plan[0].startswith(("SCAN jobs", "SEARCH jobs USING INTEGER PRIMARY")), plan
    finally:
        con.close()


async def test_a_page_of_a_log_reads_its_span_of_the_log(tmp_path: Path) -> None:
    """`logs JOB` into a pipe (`log_block`): a page's span found by the log's index alone
    (a seek each, no line read), then its lines read in one statement along the table's key
    when the job's lines fill its span, through the index when they lie among another
    job's; never a scan of the log, nor a sort."""
    path = tmp_path / "plan.db"
    svc = await Service.open(db=str(path))
    try:
        seed_history(path, 300)  # jobs 1-300, each with a task and a line
        con = sqlite3.connect(path)
        con.executemany(  # job 1: 9 more lines alone, then 9 among job 2's (one in three)
            "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, ?, 0, 'stdout', 'x')",
            [(1, 1)] * 9 + [(job, job) for _ in range(9) for job in (2, 1, 2)],
        )
        con.commit()
        con.close()
        ran: list[str] = []
        await svc.store.db.reader.con.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        reads: dict[str, list[str]] = {}
        for what, after in (("alone", 1), ("among", 300 + 9)):
            ran.clear()
            page = await svc.store.log_block(1, after, limit=3)
            assert page.lines == 3
            reads[what] = [s for s in ran if "FROM logs" in s]
    finally:
        await svc.store.db.reader.con.set_trace_callback(None)  # type: ignore[attr-defined]
        await svc.close()
    con = sqlite3.connect(path)
    try:
        for what, statements in reads.items():
            assert len(statements) == 2, statements  # the span, then the lines joined
            span = statements[0]
            for sql in statements:
                plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]
                text = " | ".join(plan)
                assert not scans_of_everything(plan) and "TEMP B-TREE" not in text, plan
                if sql == span:
                    assert text.count("COVERING INDEX logs_job") == 3, plan
                elif what == "alone":
                    assert "SEARCH logs USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan
                else:
                    assert "SEARCH logs USING INDEX logs_job (job_id=? AND seq>? AND seq<?)" in plan
    finally:
        con.close()


async def test_a_users_own_jobs_are_read_through_the_user_index(tmp_path: Path) -> None:
    """Who is not an admin sees their own jobs: their window (a page, counts, a filter) is
    read through the finished jobs' index of folded user names (one index of the users, not
    two: each is written by every job that ends), in id order, never sorted."""
    path = tmp_path / "plan.db"
    svc = await Service.open(db=str(path), user="bob")
    try:
        seed_history(path, 300)
        ran: list[str] = []
        window = await svc.store.db.window_reader()  # type: ignore[attr-defined]
        await window.con.set_trace_callback(ran.append)
        await svc.store.db.reader.con.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        await svc.finished_page(Query(), limit=100, offset=100)
        await svc.finished_page(Query.parse("status:failed"), limit=100)
        await svc.count_finished(Query.parse("ok"), cap=10_000)
        await svc.count_finished(Query(), cap=10_000)
        await window.con.set_trace_callback(None)
        await svc.store.db.reader.con.set_trace_callback(None)  # type: ignore[attr-defined]
    finally:
        await svc.close()
    con = sqlite3.connect(path)
    try:
        statements = [s for s in ran if "FROM jobs" in s]
        assert len(statements) == 4, statements
        assert "jobs_user " not in " ".join(
            r[0] for r in con.execute("SELECT name || ' ' FROM sqlite_master WHERE type = 'index'")
        )
        for sql in statements:
            plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]
            assert any("INDEX jobs_user_folded " in step for step in plan), (sql, plan)
            assert not any("TEMP B-TREE" in step for step in plan), (sql, plan)
    finally:
        con.close()


async def test_the_reads_of_why_a_job_waits_use_their_indexes(tmp_path: Path) -> None:
    """`note_waits` runs about once a second in every engine and `jobdash why` on demand:
    none of their statements walks the history (a job's own rows, the active jobs, the
    nearly empty index of suspect tasks). Each statement is explained as it is prepared."""
    path = tmp_path / "plan.db"
    svc = await Service.open(db=str(path), user="bob")
    await svc.close()
    seed_history(path, 300)
    con = sqlite3.connect(path)
    try:
        found = {}
        for area in (waits, situation):
            statements = area.Q[SQLITE]
            for name, sql in vars(statements).items():
                if not DML.match(sql):
                    continue
                if sql.rstrip().endswith(" AND"):  # completed by its caller
                    sql += " owner IN (?)"
                plan = [
                    r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, [0] * sql.count("?"))
                ]
                if bad := scans_of_everything(plan):
                    found[f"{area.__name__}.{name}"] = (sql, bad)
        assert "note" in vars(waits.Q[SQLITE]) and "holders" in vars(situation.Q[SQLITE])
    finally:
        con.close()
    assert not found, found


async def test_a_role_users_reads_by_job_look_each_job_up_by_its_key(tmp_path: Path) -> None:
    """A user whose role sees some of others' jobs: the failure groups, the audit trail and
    the pictures' history look a row's job up by its key (no walk of the jobs), as a user
    without a role reads them."""
    path = tmp_path / "plan.db"
    config = tmp_path / "jobdash.toml"
    config.write_text(
        '[types.ok]\ncommand = ["true"]\n[roles.fin]\nmembers = ["carol"]\ncan = ["view"]\n'
        'types = ["import-*"]\ntargets = ["/srv/fin/*"]\n'
    )
    svc = await Service.open(db=str(path), config=str(config), user="carol")
    try:
        seed_history(path, 300)
        ran: list[str] = []
        await svc.store.db.reader.con.set_trace_callback(ran.append)  # type: ignore[attr-defined]
        await svc.failures()
        await svc.audit_trail()
        await svc.type_runs("ok")
        await svc.jobs_ended(time.time())
        await svc.store.db.reader.con.set_trace_callback(None)  # type: ignore[attr-defined]
    finally:
        await svc.close()
    reads = [s for s in ran if "GLOB" in s]
    assert len(reads) >= 4, ran  # the failures' (2), the audit trail's, the history's (2)
    con = sqlite3.connect(path)
    try:
        for sql in reads:
            plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql)]
            assert not scans_of_everything(plan), (sql, plan)
            if "FROM jobs s" in sql:
                assert "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)" in plan, (sql, plan)
    finally:
        con.close()


async def test_postgresql_finds_expired_leases_through_the_running_tasks_index(
    request: pytest.FixtureRequest,
) -> None:
    """PostgreSQL has no index of leases (migration 18): the engine's look for lost tasks
    (`has_lost_tasks`, then `recover_lost`'s read, every `RECOVER_EVERY`) walks the index of the
    running tasks, never the tasks table, however long the history, with the planner's
    statistics and without them (a store autovacuum has not analyzed yet)."""
    import psycopg

    url = fresh_pg_store(request)
    store = await open_store(url)
    now = time.time()
    try:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(
                'INSERT INTO jobs (id, type, params, "user", trigger, status, created, '
                "updated) VALUES (1, 'ok', '{}', 'root', 'manual', 'running', %s, %s)",
                (now, now),
            )
            columns = "job_id, seq, key, name, kind, spec, status, owner, lease_until, finished"
            with con.cursor().copy(f"COPY tasks ({columns}) FROM STDIN") as copy:
                for i in range(20_000):  # a long history; one task in 200 runs
                    run = i % 200 == 0
                    copy.write_row(
                        (1, i, str(i), str(i), "python", "null")
                        + (
                            ("running", "a", now + 60, None)
                            if run
                            else ("succeeded", None, None, now)
                        )
                    )
            lease_scans = (claims.Q[POSTGRES].lost, reads.Q[POSTGRES].lost + " LIMIT 1")
            for analyzed in (False, True):
                if analyzed:
                    con.execute("ANALYZE tasks")
                for sql in lease_scans:
                    plan = "\n".join(r[0] for r in con.execute(f"EXPLAIN {sql}", (now,)))
                    assert "tasks_running" in plan, plan
                    assert "Seq Scan on tasks" not in plan, plan
            names = [
                r[0]
                for r in con.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            ]
            assert "tasks_lease" not in names and "tasks_running" in names
        assert not await store.has_lost_tasks()  # the statements run as explained
        assert await store.recover_lost() == 0
    finally:
        await store.close()
