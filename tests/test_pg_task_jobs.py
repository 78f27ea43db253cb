"""PostgreSQL's tasks and their jobs (migration 20, `postgres/task_jobs.py`): adding tasks
runs no check per row (the foreign key it replaced cost ~6 µs of the server's CPU a task),
and what the key held still holds: a job's tasks go with it, a job being given tasks is not
deleted under them, a job that is gone gets none, and a task is not moved to no job. An
existing store (schema 19) upgrades to it."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from jobdash.core.store.base import open_store
from jobdash.core.store.engine_records import NewTask
from jobdash.core.store.faults import StoreError
from jobdash.core.store.postgres.schema import APP_ID, MIGRATIONS, SCHEMA_VERSION
from tests.pg import fresh_pg_store

JOB = (
    'INSERT INTO jobs (id, type, params, "user", trigger, status, created, updated) '
    "VALUES (%s, 'ok', '{}', 'root', 'manual', 'running', 0, 0)"
)
TASKS = (
    "INSERT INTO tasks (job_id, seq, key, name, kind, spec, status) SELECT %s, g, g::text, "
    "'n', 'python', 'null', 'pending' FROM generate_series(%s::INTEGER, %s::INTEGER) g"
)


def store_of_schema_19(url: str) -> None:
    """A store as jobdash made it before migration 20, with two jobs of three tasks."""
    with psycopg.connect(url) as con:
        for script in MIGRATIONS[:19]:
            con.execute(script.encode())
        con.execute(
            "INSERT INTO meta (key, value) VALUES ('app', %s), ('schema_version', '19')",
            (APP_ID,),
        )
        for job in (1, 2):
            con.execute(JOB, (job,))
            con.execute(TASKS, (job, 1, 3))


def trigger_calls(con: psycopg.Connection[Any], sql: str, args: tuple[Any, ...]) -> dict[str, int]:
    """The triggers a statement fired (foreign keys' checks included), with their calls."""
    plan = con.execute(
        f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}", args
    ).fetchall()
    calls = (re.match(r"Trigger (.+): calls=(\d+)", row[0]) for row in plan)
    return {m.group(1): int(m.group(2)) for m in calls if m}


async def test_a_store_of_schema_19_upgrades_and_adds_tasks_with_no_check_a_row(
    request: pytest.FixtureRequest,
) -> None:
    url = fresh_pg_store(request)
    store_of_schema_19(url)
    store = await open_store(url)  # upgrades it
    try:
        with psycopg.connect(url, autocommit=True) as con:
            version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            assert version.fetchone() == (str(SCHEMA_VERSION),)
            # 1,000 tasks added: no trigger fires for each (the key's check did)
            assert trigger_calls(con, TASKS, (1, 4, 1003)) == {}
            # a task is not moved to no job, with the key's error
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                con.execute("UPDATE tasks SET job_id = 99 WHERE job_id = 2 AND seq = 1")
        # the store adds to a job that is, not to one that is gone
        assert await store.add_tasks(2, [NewTask("x", "x", "function", "m:f")]) == 1
        with pytest.raises((psycopg.errors.ForeignKeyViolation, StoreError)):
            await store.add_tasks(99, [NewTask("x", "x", "function", "m:f")])
        with psycopg.connect(url, autocommit=True) as con:
            # a job's tasks go with it, the other's stay
            con.execute("DELETE FROM jobs WHERE id = 1")
            rows = con.execute("SELECT job_id, count(*) FROM tasks GROUP BY job_id").fetchall()
            assert rows == [(2, 4)]
    finally:
        await store.close()


async def test_a_job_being_given_tasks_is_not_deleted_under_them(
    request: pytest.FixtureRequest,
) -> None:
    url = fresh_pg_store(request)
    store = await open_store(url)
    try:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(JOB, (1,))
            con.execute("SET lock_timeout = '300ms'")
            with psycopg.connect(url) as adding:  # the store's add, not committed yet
                assert store.insert_added(adding, 1, [NewTask("a", "a", "function", "m:f")]) == 1
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    con.execute("DELETE FROM jobs WHERE id = 1")
            # committed: now the job goes, and its task with it
            assert con.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
            con.execute("DELETE FROM jobs WHERE id = 1")
            assert con.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
    finally:
        await store.close()
