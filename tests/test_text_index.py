"""The finished jobs' text index (SQLite's jobs_text, core/store/sqlite/text_index.py;
PostgreSQL's index of `jobs.words`, core/store/postgres/words.py): a window's free words
looked up through it select exactly the jobs `Query.matches` passes, sorted and paged as in
memory, on both backends; SQLite's batches follow what changed (a job finished, its text
rewritten, a job removed)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from jobdash.core.model import Job
from jobdash.core.query import Query
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sqlite import SqliteStore
from jobdash.tui.widgets.job_rows import sort_rows
from tests.pg import fresh_pg_store

NOW = 1_795_185_000.0
TEXTS = [
    "Import Files",
    "ÉCOLE été",
    'say "hi"',
    "back\\slash",
    "ab",
    "x",
    "naïve CAFÉ",
    "",
    "50% off_sale",
]


def rows(n: int) -> list[tuple[object, ...]]:
    """`n` jobs, finished but for every eleventh, with the awkward texts in every field."""
    return [
        (
            i,
            ["import", "Export", "backup"][i % 3],
            json.dumps({"path": TEXTS[i % len(TEXTS)], "q": f"v{i}"}),
            ["alice", "Bob", "root"][i % 3],
            "running" if i % 11 == 0 else ["succeeded", "failed", "warning"][i % 3],
            NOW - 1000 + i,
            NOW - 900 + i,
            NOW - 990 + i if i % 5 else None,
            NOW - 950 + i * (i % 4),
            TEXTS[(i * 7) % len(TEXTS)] + f" run {i}",
            TEXTS[(i * 3) % len(TEXTS)],
            i,
        )
        for i in range(1, n + 1)
    ]


INSERT = (
    'INSERT INTO jobs (id, type, params, "user", trigger, status, created, updated, '
    "started, finished, info, target, rev) VALUES (?, ?, ?, ?, 'manual', ?, ?, ?, ?, "
    "?, ?, ?, ?)"
)


def seed(db: Path, n: int = 120) -> None:
    con = sqlite3.connect(db)
    with con:
        con.executemany(INSERT, rows(n))
        con.execute("UPDATE counter SET rev = ?", (n + 1,))
    con.close()


def seed_pg(url: str, n: int = 120) -> None:
    import psycopg

    with psycopg.connect(url) as con:
        con.cursor().executemany(INSERT.replace("?", "%s"), rows(n))
        con.execute("UPDATE counter SET rev = %s", (n + 1,))


QUERIES = [
    "",
    "import",
    "IMPORT fil",
    "école",
    "ÉCOLE",
    "café",
    '"say \\"hi"',
    "back\\\\slash",
    "ab",
    "x",
    "AB",
    "%",
    "_",
    "\\\\",
    "é",
    "x user:bob",
    "-x",
    "run 1",
    "v11",
    "-import",
    "user:bob",
    "status:failed",
    "user:root run",
    "-user:alice status:warning",
    "type:exp 1",
    "50%",
    "f_s",
    "OFF_SALE 50%",
    "path",
    "v1 v12",
    "117",
]


async def window(store: Store, text: str, order: str = "id", desc: bool = True) -> list[int]:
    """Every finished job `text` selects, a page of 7 at a time, through the text index."""
    query = Query.parse(text)
    ids: list[int] = []
    while True:
        page = await store.list_jobs(
            JobFilter(
                query,
                active=False,
                indexed=True,
                order=order,
                oldest_first=not desc,
                limit=7,
                offset=len(ids),
                now=NOW,
            )
        )
        ids += [job.id for job in page]
        if len(page) < 7:
            return ids


def expected(jobs: list[Job], text: str, order: str = "id", desc: bool = True) -> list[int]:
    query = Query.parse(text)
    rows = [job for job in jobs if job.status.finished and query.matches(job, NOW)]
    sort_rows(rows, order, desc, lambda: NOW)
    return [job.id for job in rows]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_free_words_through_the_index_match_the_matcher(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "sqlite":
        location = str(tmp_path / "t.db")
        store = await open_store(location)
        seed(Path(location))
    else:
        location = fresh_pg_store(request)
        store = await open_store(location)
        seed_pg(location)
    try:
        assert await store.index_text(batches=None)
        jobs = await store.list_jobs(JobFilter())
        for text in QUERIES:
            want = expected(jobs, text)
            assert await window(store, text) == want, text
            count = await store.count_jobs(
                JobFilter(Query.parse(text), active=False, indexed=True, now=NOW)
            )
            assert count == len(want), text
            capped = await store.count_jobs(
                JobFilter(Query.parse(text), active=False, indexed=True, now=NOW), cap=5
            )
            assert capped == min(len(want), 6), text
        for order in ("type", "user", "status", "started", "time", "info", "failed"):
            for desc in (True, False):
                for text in ("", "run", "user:bob"):
                    got = await window(store, text, order, desc)
                    assert got == expected(jobs, text, order, desc), (order, desc, text)
    finally:
        await store.close()


async def test_the_index_follows_what_changed_in_batches(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = await SqliteStore.open(db)
    try:
        seed(db, 40)
        assert await store.index_text(batches=None)
        assert await window(store, "zebra") == []
        con = sqlite3.connect(db)
        with con:  # a job's info rewritten, a running one finished, one removed
            con.execute("UPDATE jobs SET info = 'zebra one', rev = 100 WHERE id = 4")
            con.execute(
                "UPDATE jobs SET status = 'succeeded', info = 'zebra two', rev = 101 WHERE id = 22"
            )
            con.execute("DELETE FROM jobs WHERE id = 5")
            con.execute("INSERT INTO removed (job_id, rev) VALUES (5, 102)")
            con.execute("UPDATE counter SET rev = 103")
        con.close()
        assert await window(store, "zebra") == []  # the index lags until its next batch
        assert await store.index_text(batches=1)
        assert await window(store, "zebra") == [22, 4]
        assert await window(store, "zebra one") == [4]
        rows = sqlite3.connect(db).execute("SELECT count(*) FROM jobs_text").fetchall()
        finished = await store.count_jobs(JobFilter(active=False))
        assert rows[0][0] == finished
    finally:
        await store.close()
