"""What a role's `view` reaches besides the job lists, on a PostgreSQL store: the table of
test_permission_reads.py (failure groups, the pictures' history, the audit trail), each
user a real OS user connecting as its own role, read through the service and as raw SQL
on its own connection: row-level security must show the same as jobdash's rules.

Needs the server (`JOBDASH_TEST_PG`) and root (to make users), as test_pg_permissions.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.core.service import Service
from tests.conftest import start_serve
from tests.test_permission_reads import (
    JOBS,
    SCHEDULE_OUTSIDE,
    SEES,
    expected,
    failing_config,
)
from tests.test_pg_permissions import ATTEMPT, PREPARE, Crew, made_crew

DRAIN = """
import asyncio, json, sys
from jobdash.core.service import Service

async def main() -> None:
    svc = await Service.open(db=sys.argv[1], config=sys.argv[2])
    await svc.drain_agent(json.loads(sys.argv[3]))
    await svc.close()
    print("{}")

asyncio.run(main())
"""
# Run as each user: the reads through the service, and the same tables as raw SQL.
READ = """
import asyncio, json, sys, time
import psycopg
from jobdash.core.service import Service

async def main() -> None:
    url, config, now = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    svc = await Service.open(db=url, config=config)
    failed = set()
    for group in await svc.failures():
        failed |= {t.job_id for t in await svc.failure_tasks(group.id)}
    runs = {r.job_id for t in ("import-a", "export-b") for r in await svc.type_runs(t)}
    ended = sum(n for _, status, n in await svc.jobs_ended(now) if status == "failed")
    targets = [e.target for e in await svc.audit_trail()]
    await svc.close()
    with psycopg.connect(url, autocommit=True) as con:
        sql = {
            "failures": [r[0] for r in con.execute("SELECT DISTINCT job_id FROM failures")],
            "runs": [r[0] for r in con.execute(
                "SELECT id FROM jobs WHERE finished IS NOT NULL AND status = 'failed'")],
            "audit": [r[0] for r in con.execute("SELECT target FROM audit")],
        }
    service = {"failures": sorted(failed), "runs": sorted(runs), "ended": ended,
               "audit": targets}
    print(json.dumps({"service": service, "sql": sql}))

asyncio.run(main())
"""


@pytest.fixture
def failing_crew(request: pytest.FixtureRequest) -> Iterator[Crew]:
    yield from made_crew(request, failing_config)


def seen(read: dict[str, list[object]], by_id: dict[int, str]) -> dict[str, object]:
    """A read's answer as test_permission_reads.py's table says it."""
    targets = [str(t) for t in read["audit"]]
    on_jobs = {by_id[int(t[4:])] for t in targets if t.startswith("job:")}
    return {
        "failures": {by_id[int(str(i))] for i in read["failures"]},
        "runs": {by_id[int(str(i))] for i in read["runs"]},
        "ended": read.get("ended", len(read["runs"])),
        "audit": on_jobs,
        "others": sorted(t for t in targets if not t.startswith("job:")),
    }


def test_every_read_by_job_follows_the_roles_in_the_database(
    failing_crew: Crew, tmp_path: Path
) -> None:
    crew = failing_crew
    engine = start_serve(
        tmp_path / "serve.log", "--db", crew.admin_url, "--config", str(crew.config)
    )
    try:
        by_id: dict[int, str] = {}
        for owner in ("alice", "carol"):
            mine = {k: (t, d, "queued") for k, (o, t, d) in JOBS.items() if o == owner}
            by_id |= {int(str(i)): k for k, i in crew.script(owner, PREPARE, mine).items()}
        asyncio.run(wait_failed(crew.admin_url, list(by_id)))
    finally:
        engine.terminate()
        engine.wait(30)
    crew.script("root", DRAIN, "a1")
    for user in SEES:
        done = crew.script(user, READ, time.time())
        want = expected(user)
        for way in ("service", "sql"):
            got = seen(done[way], by_id)  # type: ignore[arg-type]
            assert got == want, (user, way, got)


async def wait_failed(url: str, ids: list[int], timeout: float = 60) -> None:
    svc = await Service.open(db=url)
    try:
        deadline = time.monotonic() + timeout
        for job_id in ids:
            while not (job := await svc.store.get_job(job_id)).status.finished:
                assert time.monotonic() < deadline, job
                await asyncio.sleep(0.1)
            assert job.status.value == "failed", job
    finally:
        await svc.close()


def test_a_roles_targets_limit_a_schedule_in_the_database(failing_crew: Crew) -> None:
    """The store holds a schedule's target (written by the config sync): carol's finance
    role (fin-* on /srv/finance/*) may change fin-sched (/srv/finance/nightly) but not
    fin-hr (/srv/hr/weekly), through the service and as raw SQL; the admin may both."""
    want = {
        "carol": {"fin-sched": True, SCHEDULE_OUTSIDE: False},
        "root": {"fin-sched": True, SCHEDULE_OUTSIDE: True},
    }
    for user, schedules in want.items():
        cases = {
            f"{way}/{sched}": (way, "schedule", sched)
            for way in ("service", "sql")
            for sched in schedules
        }
        done = failing_crew.script(user, ATTEMPT, cases)
        assert done == {k: schedules[k.split("/")[1]] for k in cases}, (user, done)
