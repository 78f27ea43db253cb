"""Comma lists in the filter language: `field:a,b` is `field:a field:b` for every field, in
the parser, the in-memory match, the SQL it compiles to, and through the real `jobdash jobs`.
(Before, `type:a,b` looked for a type starting with "a,b" and matched nothing, while
`status:a,b` was an error.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdash.core.model import BadInput
from jobdash.core.query import Term, parse_query
from tests.conftest import run_cli
from tests.test_query import NOW, db, make_jobs, stored_ids

__all__ = ["db"]  # the agreement fixture of tests/test_query.py: the same 200 jobs in a store

# Each list query and the same query with the field repeated.
LISTS = [
    ("status:failed,cancelled", "status:failed status:cancelled"),
    ("-status:failed,cancelled", "-status:failed -status:cancelled"),
    ("status:active,warning", "status:active status:warning"),
    ("type:import,export", "type:import type:export"),
    ("type:IMPORT-DB,backup -type:import-files", "type:import-db type:backup -type:import-files"),
    ("-type:import,rebuild", "-type:import -type:rebuild"),
    ("user:alice,bob", "user:alice user:bob"),
    (
        "user:élise,root -status:failed,warning",
        "user:élise user:root -status:failed -status:warning",
    ),
    ("-user:alice,bob,cli", "-user:alice -user:bob -user:cli"),
    ("since:30m,1d", "since:30m since:1d"),
    ("-since:1h,2d", "-since:1h -since:2d"),
    ("id:7,42,199", "id:7 id:42 id:199"),
    ("-id:#1,#2,3", "-id:1 -id:2 -id:3"),
    ("target:data,srv", "target:data target:srv"),
    ("-target:/data,ça", "-target:/data -target:ça"),
    ("trigger:manual,schedule", "trigger:manual trigger:schedule"),
    (
        "disk type:import,export status:failed,cancelled",
        "disk type:import type:export status:failed status:cancelled",
    ),
]


@pytest.mark.parametrize(("listed", "repeated"), LISTS)
def test_a_comma_list_is_the_field_repeated(listed: str, repeated: str) -> None:
    assert parse_query(listed) == parse_query(repeated)
    assert parse_query(str(parse_query(listed))) == parse_query(listed)


@pytest.mark.parametrize(("listed", "repeated"), LISTS)
async def test_lists_agree_in_memory_in_sql_and_in_bulk(
    db: Path, listed: str, repeated: str
) -> None:
    """The agreement test of tests/test_query.py, for the lists: `matches`, the store and
    `select` give the same jobs."""
    jobs = make_jobs()
    q = parse_query(listed)
    in_memory = {j.id for j in jobs if q.matches(j, NOW)}
    in_sql = await stored_ids(db, q)
    assert in_memory == in_sql
    assert [j.id for j in q.select(jobs, NOW)] == [j.id for j in jobs if j.id in in_memory]


def test_lists_select_some_but_not_all() -> None:
    jobs = make_jobs()
    partial = sum(
        0 < sum(parse_query(listed).matches(j, NOW) for j in jobs) < len(jobs)
        for listed, _ in LISTS
    )
    assert partial >= len(LISTS) - 2


def test_a_list_is_the_union_of_its_values() -> None:
    jobs = make_jobs()

    def ids(text: str) -> set[int]:
        return {j.id for j in jobs if parse_query(text).matches(j, NOW)}

    assert ids("type:import,export") == ids("type:import") | ids("type:export")
    assert ids("-status:failed,cancelled") == ids("-status:failed") & ids("-status:cancelled")
    assert ids("id:7,42") == {7, 42}


def test_a_quoted_value_is_taken_whole() -> None:
    assert parse_query('target:"a,b"').terms == (Term("target", "a,b"),)
    assert parse_query("-user:'x,y'").terms == (Term("user", "x,y", negated=True),)
    q = parse_query('target:"a,b" type:c,d')
    assert parse_query(str(q)) == q  # the whole value is quoted again


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("status:failed,nope", "unknown status 'nope'"),
        ("trigger:manual,cron", "unknown trigger 'cron'"),
        ("id:1,x", "id must be a job number"),
        ("since:1h,soon", "since"),
        ("type:a,", "empty value"),
        ("user:,bob", "empty value"),
        ("-status:failed,,cancelled", "empty value"),
    ],
)
def test_a_bad_value_in_a_list_is_named(text: str, words: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_query(text)
    assert words in str(info.value) and "\n" not in str(info.value)


# ----------------------------------------------------------------- the real command line

CONFIG = """\
[types.import-files]
command = ["true"]
[types.export]
command = ["true"]
[types.backup]
command = ["true"]
"""


@pytest.fixture
def queued(write_config: Callable[[str], Path]) -> dict[str, int]:
    """Three queued jobs (no engine runs them) in the test's real store, by type."""
    write_config(CONFIG)
    ids = {}
    for name in ("import-files", "export", "backup"):
        done = run_cli("run", name)
        assert done.returncode == 0, done.stderr
        ids[name] = int(done.stdout.split()[1])
    return ids


def listed(*argv: str) -> set[int]:
    done = run_cli("jobs", "--json", *argv)
    assert done.returncode == 0, done.stderr
    return {job["id"] for job in json.loads(done.stdout)}


def test_jobs_takes_comma_lists(queued: dict[str, int]) -> None:
    both = {queued["import-files"], queued["export"]}
    assert listed("type:import,export") == both
    assert listed("--type", "import,export") == both
    assert listed("-type:import,export") == {queued["backup"]}
    assert listed(f"id:{queued['backup']},{queued['export']}") == {
        queued["backup"],
        queued["export"],
    }
    assert listed("status:queued,failed", "type:backup,export") == {
        queued["backup"],
        queued["export"],
    }
    # Filter words after an option still belong to the filter.
    assert listed("status:queued", "--limit", "5", "type:import,export") == both
    done = run_cli("jobs", "status:queued,nope")
    assert done.returncode == 2 and "unknown status 'nope'" in done.stderr


def test_jobs_help_explains_the_lists() -> None:
    done = run_cli("jobs", "--help")
    assert done.returncode == 0
    assert "status:failed,cancelled" in done.stdout
    assert "status:failed status:cancelled" in done.stdout
