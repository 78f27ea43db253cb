"""The filter query language: parsing, negation, OR/AND, and `matches` == the store's answer
(the SQLite backend's compiler of job filters, through `Store.list_jobs`)."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from pathlib import Path

import pytest

from jobdash.core.model import BadInput, Job, JobStatus, Trigger
from jobdash.core.query import Query, Term, narrows, parse_query
from jobdash.core.store.base import open_store
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.filters import query_sql

NOW = 1_700_000_000.0


def job(
    id: int = 1,
    type: str = "import-files",
    status: JobStatus = JobStatus.RUNNING,
    user: str = "alice",
    created: float = NOW - 60,
    target: str = "/data/in",
    info: str = "",
    params: dict[str, str] | None = None,
    trigger: Trigger = Trigger.MANUAL,
) -> Job:
    return Job(
        id=id,
        type=type,
        params=params if params is not None else {"source": target},
        user=user,
        trigger=trigger,
        status=status,
        created=created,
        updated=created,
        target=target,
        info=info,
    )


# ---------------------------------------------------------------- parsing


def test_parse_fields_and_words() -> None:
    q = parse_query('disk status:Failed -user:bob "two words" type:import since:1h')
    assert q.terms == (
        Term("", "disk"),
        Term("status", "failed"),
        Term("user", "bob", negated=True),
        Term("", "two words"),
        Term("type", "import"),
        Term("since", "1h"),
    )
    assert not q.is_empty
    assert Query.parse("") == Query() and Query().is_empty
    assert parse_query("   ").is_empty


def test_quoted_tokens_are_free_text() -> None:
    q = parse_query('"http://host" -"status:failed" "-literal" user:"a b"')
    assert q.terms == (
        Term("", "http://host"),
        Term("", "status:failed", negated=True),
        Term("", "-literal"),
        Term("user", "a b"),
    )


@pytest.mark.parametrize(
    "text",
    [
        'disk status:failed -user:bob "two words" type:import since:1h',
        '"http://host" -"status:failed" "-literal" user:"a b" -\'x y\'',
        "id:#42 trigger:Schedule -since:2d target:/srv/a status:active",
        '"it\'s"',
        "",
    ],
)
def test_str_round_trips(text: str) -> None:
    q = parse_query(text)
    assert parse_query(str(q)) == q


def test_str_is_normalized() -> None:
    assert str(parse_query("Status:FAILED  id:#007   Disk")) == "status:failed id:7 disk"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "foo:bar",
            "unknown filter field 'foo' (fields: status, type, user, since, id, target, trigger)",
        ),
        ("status:nope", "failed"),  # lists the valid statuses
        ("status:nope", "inprogress"),
        ('disk "full', "closing quotation"),
        ("id:abc", "id"),
        ("since:soon", "since"),
        ("trigger:cron", "manual"),
        ("user:", "needs a value"),
        # A typo is told what it was likely meant as.
        ("status:faild", "unknown status 'faild', did you mean 'failed'?"),
        ("typ:import", "unknown filter field 'typ', did you mean 'type'?"),
        ("trigger:schedul", "did you mean 'schedule'?"),
    ],
)
def test_bad_queries(text: str, words: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_query(text)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unclosed_quote_in_a_long_filter_quotes_its_start_only() -> None:
    """The filter bar shows the error under the input: it quoted the whole text, and a
    pasted page of it pushed the table off the screen."""
    with pytest.raises(BadInput) as info:
        parse_query('status:failed "' + "x" * 3000)
    said = str(info.value)
    assert said.startswith("bad filter 'status:failed \"xxx") and said.endswith(
        "…': no closing quotation"
    )
    assert len(said) < 100


# -------------------------------------------------------------- semantics


def test_same_field_is_or_different_fields_are_and() -> None:
    jobs = [
        job(1, status=JobStatus.FAILED, user="alice"),
        job(2, status=JobStatus.CANCELLED, user="alice"),
        job(3, status=JobStatus.FAILED, user="bob"),
        job(4, status=JobStatus.SUCCEEDED, user="alice"),
    ]
    q = parse_query("status:failed status:cancelled user:alice")
    assert [j.id for j in jobs if q.matches(j, NOW)] == [1, 2]


def test_negation() -> None:
    jobs = [
        job(1, status=JobStatus.FAILED, info="disk full"),
        job(2, status=JobStatus.CANCELLED),
        job(3, status=JobStatus.RUNNING, info="Disk check"),
    ]
    assert [j.id for j in jobs if parse_query("-status:failed").matches(j, NOW)] == [2, 3]
    both = parse_query("-status:failed -status:cancelled")
    assert [j.id for j in jobs if both.matches(j, NOW)] == [3]
    assert [j.id for j in jobs if parse_query("-disk").matches(j, NOW)] == [2]


def test_free_words_all_must_match_case_insensitively() -> None:
    j = job(1042, type="import-files", info="Disk FULL on /srv", params={"source": "/Data/X"})
    assert parse_query("disk full").matches(j, NOW)
    assert parse_query("IMPORT 1042 data/x").matches(j, NOW)
    assert not parse_query("disk nothing").matches(j, NOW)
    assert not parse_query("source").matches(j, NOW)  # parameter names are not searched


def test_status_groups_type_prefix_since_and_id() -> None:
    running = job(1, status=JobStatus.RUNNING, created=NOW - 30 * 60)
    done = job(2, type="export", status=JobStatus.SUCCEEDED, created=NOW - 3 * 3600)
    assert parse_query("status:inprogress").matches(running, NOW)
    assert parse_query("status:active").matches(running, NOW)
    assert not parse_query("status:finished").matches(running, NOW)
    assert parse_query("status:finished").matches(done, NOW)
    assert parse_query("type:import").matches(running, NOW)
    assert not parse_query("type:import").matches(done, NOW)
    assert parse_query("since:1h").matches(running, NOW)
    assert not parse_query("since:1h").matches(done, NOW)
    assert parse_query("-since:1h").matches(done, NOW)
    assert parse_query("id:2").matches(done, NOW) and not parse_query("id:2").matches(running, NOW)


def test_empty_query_matches_everything_and_sql_is_one() -> None:
    assert Query().matches(job(), NOW)
    assert query_sql(SQLITE, Query(), NOW) == ("1", [])


def test_to_sql_can_qualify_columns() -> None:
    sql, args = query_sql(SQLITE, parse_query("status:failed disk"), NOW, table="jobs")
    assert "jobs.status IN (?)" in sql and "json_each(jobs.params)" in sql
    assert args[0] == "failed"


# ---------------------------------------------- matches() and the store agree

TYPES = ["import-files", "import-db", "export", "Backup", "rebuild-index", "réindex"]
USERS = ["alice", "bob", "Root", "scheduler", "cli", "élise"]
TARGETS = ["/data/in", "/data/OUT", "/srv/archive", "", "space:Marketing", "/tmp/ça va"]
INFOS = ["", "Disk full", "3 files imported", "agent lost", "ÉCHEC total", "timeout after 10m"]
QUERIES = [
    "",
    "disk",
    "DISK",
    "-disk",
    "full disk",
    "status:failed",
    "status:failed status:cancelled",
    "-status:failed -status:cancelled",
    "status:active",
    "status:finished -status:warning",
    "type:import",
    "type:IMPORT -type:import-db",
    "user:alice",
    "user:root user:bob",
    "-user:alice",
    "since:1h",
    "since:30m since:2d",
    "-since:1d",
    "target:data",
    "-target:/data",
    "trigger:schedule",
    "-trigger:manual",
    "id:7",
    "id:7 id:42 id:199",
    "1",
    "-2",
    "é",
    "É",
    "ça",
    '"data/in"',
    "marketing status:running",
    "lost user:bob -since:1h",
    "files type:import status:succeeded",
    "\\u00e9",  # the JSON escape must not match: only parameter values are searched
    "source",  # a parameter *name*: not searched
    "'x:y' -'\"'",
]


def make_jobs(count: int = 200) -> list[Job]:
    rng = random.Random(20240501)
    jobs = []
    for i in range(1, count + 1):
        target = rng.choice(TARGETS)
        params = {"source": target} if rng.random() < 0.7 else {}
        if rng.random() < 0.4:
            params["note"] = rng.choice(["Ünïcode", 'quote " and \\', "lost+found", "Disk"])
        jobs.append(
            job(
                id=i,
                type=rng.choice(TYPES),
                status=rng.choice(list(JobStatus)),
                user=rng.choice(USERS),
                created=NOW - rng.uniform(0, 4 * 86400),
                target=target,
                info=rng.choice(INFOS),
                params=params,
                trigger=rng.choice(list(Trigger)),
            )
        )
    return jobs


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding `make_jobs()`, written straight into its file (these tests
    test that backend's compiler; a job's statuses and times cannot be chosen otherwise)."""
    path = tmp_path_factory.mktemp("query") / "store.db"

    async def create() -> None:
        await (await open_store(str(path))).close()

    asyncio.run(create())
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO jobs (id, type, user, status, trigger, created, updated, target, info,"
        " params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                j.id,
                j.type,
                j.user,
                str(j.status),
                str(j.trigger),
                j.created,
                j.created,
                j.target,
                j.info,
                json.dumps(j.params),
            )
            for j in make_jobs()
        ],
    )
    conn.commit()
    conn.close()
    return path


async def stored_ids(db: Path, q: Query) -> set[int]:
    """The ids of the jobs the store at `db` lists for `q` (at NOW)."""
    store = await open_store(str(db))
    try:
        return {j.id for j in await store.list_jobs(JobFilter(q, now=NOW))}
    finally:
        await store.close()


@pytest.mark.parametrize("text", QUERIES)
async def test_matches_and_to_sql_agree(db: Path, text: str) -> None:
    jobs = make_jobs()
    q = parse_query(text)
    in_memory = {j.id for j in jobs if q.matches(j, NOW)}
    in_sql = await stored_ids(db, q)
    assert in_memory == in_sql
    assert parse_query(str(q)) == q
    # The bulk path the dashboard uses agrees too, and keeps the rows' order.
    assert [j.id for j in q.select(jobs, NOW)] == [j.id for j in jobs if j.id in in_memory]


def test_agreement_is_not_vacuous() -> None:
    """Most queries select some but not all jobs, so agreement means something."""
    jobs = make_jobs()
    partial = 0
    for text in QUERIES:
        q = parse_query(text)
        n = sum(q.matches(j, NOW) for j in jobs)
        partial += 0 < n < len(jobs)
    assert partial >= 25


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "imp", True),
        ("imp", "import", True),
        ("port", "import", True),  # the old word inside the new one, not only a prefix
        ("import", "import files", True),
        ("import files", "files import", True),
        ("a b", "ab", True),  # both old words live on inside "ab"
        ("import status:failed", "import-f status:failed", True),
        ("import -x", "imports -x", True),
        ("import", "imp", False),
        ("import files", "import", False),
        ("", "status:failed", False),
        ("status:failed", "status:failed status:cancelled", False),
        ("import", "import -user:bob", False),
        ("-x", "-xy", False),  # a longer negated word hides fewer rows
        ("a -x", "a", False),
        ("type:import", "type:import-files", False),  # only free words narrow
        ("since:1h", "since:1h import", False),  # the clock moves between keystrokes
        ("import since:1h", "imports since:1h", False),
    ],
)
def test_narrows(old: str, new: str, expected: bool) -> None:
    assert narrows(parse_query(old), parse_query(new)) is expected
