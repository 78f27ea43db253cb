"""PostgreSQL's index of the finished jobs' words (core/store/postgres/words.py): the
Completed tab's statements for a free word use it when few jobs hold the word, read in id
order and stop after a page when most do, leave it for a word it cannot answer, and it is
current at each write (no batches, unlike SQLite's)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from jobdash.core.query import Query
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sql.dialect import POSTGRES
from jobdash.core.store.sql.filters import count_sql, job_select
from jobdash.core.store.sql.reads import JOB_COLUMNS
from tests.pg import fresh_pg_store

N = 20_000
COLUMNS = 'id, type, params, "user", trigger, status, created, updated, started, finished, info'


def seed(url: str) -> None:
    """N finished jobs by COPY; one in 997 holds the word "needle" in its info (a prime:
    not in step with the planner's sample of the column, which evenly spaced ids would be)."""
    import psycopg

    now = time.time()
    with psycopg.connect(url) as con:
        with con.cursor().copy(f"COPY jobs ({COLUMNS}) FROM STDIN") as copy:
            for i in range(1, N + 1):
                info = f"bench-{i:06d} " + ("needle" if i % 997 == 0 else "done")
                params = json.dumps({"source": f"/data/in/{i % 97}"})
                start = now - (N - i) * 30
                row = ("export", params, "alice", "manual", "succeeded", start, start + 60)
                copy.write_row((i, *row, start + 1, start + 60, info))
        con.execute("SELECT setval(pg_get_serial_sequence('jobs', 'id'), %s)", (N,))
        con.execute("ANALYZE jobs")


@pytest.fixture
async def store(request: pytest.FixtureRequest) -> Any:
    url = fresh_pg_store(request)
    opened = await open_store(url)
    seed(url)
    yield url, opened
    await opened.close()


def plan(url: str, sql: str, args: list[Any]) -> str:
    import psycopg

    with psycopg.connect(url) as con:
        rows = con.execute(f"EXPLAIN {sql}", args).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def page_plan(url: str, text: str) -> str:
    """The plan of the Completed tab's first page (100 newest) for the filter `text`."""
    f = JobFilter(Query.parse(text), active=False, indexed=True, limit=100)
    s = job_select(POSTGRES, f, time.time())
    sql = f"SELECT {JOB_COLUMNS} FROM {s.source} WHERE {s.where} ORDER BY {s.order} LIMIT 100"
    return plan(url, sql, s.args)


async def test_a_rare_word_is_found_through_the_index(store: tuple[str, Store]) -> None:
    url, opened = store
    assert await opened.index_text(batches=None)
    assert "jobs_words" in page_plan(url, "needle")
    sql, args = count_sql(
        POSTGRES, JobFilter(Query.parse("needle"), active=False, indexed=True), time.time(), 1000
    )
    assert "jobs_words" in plan(url, sql, args)
    page = await opened.list_jobs(
        JobFilter(Query.parse("NEEDLE"), active=False, indexed=True, limit=100)
    )
    assert [j.id for j in page] == [i for i in range(N, 0, -1) if i % 997 == 0]


async def test_a_common_word_is_read_in_id_order(store: tuple[str, Store]) -> None:
    url, _ = store
    common = page_plan(url, "bench")
    assert "jobs_words" not in common and "Backward using jobs_pkey" in common, common


async def test_a_word_the_index_cannot_answer_is_looked_for_in_each_row(
    store: tuple[str, Store],
) -> None:
    """A word with a quote stands escaped in the parameters' JSON text: not looked up."""
    _, opened = store
    f = JobFilter(Query.parse('"ne\\"edle"'), active=False, indexed=True)
    assert "words LIKE" not in job_select(POSTGRES, f, time.time()).where
    assert await opened.list_jobs(f) == []


async def test_the_index_is_current_at_each_write(store: tuple[str, Store]) -> None:
    import psycopg

    url, opened = store
    with psycopg.connect(url) as con:
        con.execute("UPDATE jobs SET info = 'zebra' WHERE id = 7")
    f = JobFilter(Query.parse("zebra"), active=False, indexed=True)
    assert [j.id for j in await opened.list_jobs(f)] == [7]
