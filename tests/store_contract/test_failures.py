"""Failures grouped by cause, as each store records and reads them: every failed attempt
(retried or final, lost with its agent) is counted in its cause's group, with its job's type
and user; the filter, the user and the time bound select what is counted; a group's tasks
say which a retry would run again; retrying a group's tasks runs exactly those; clearing a
job takes its failures with it."""

from __future__ import annotations

import asyncio
import time

from jobdash.core.fingerprint import fingerprint
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.query import parse_query
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant, Outcome
from jobdash.core.store.side_records import FailureFilter
from tests.store_contract.jobs import commands

BAD_DATE_1 = "exit 3: row 162: invalid date '31/02/2026' in /srv/in/b-003.csv"
BAD_DATE_2 = "exit 3: row 9: invalid date '30/02/2026' in /srv/in/b-017.csv"
DISK_FULL = "exit 1: cp: error writing '/mnt/x/a.csv': No space left on device"


async def fail_all(store: Store, errors: dict[str, str], owner: str = "a") -> None:
    """Claim every ready task and end each: failed with the error its name maps to (a name
    not in `errors` succeeds)."""
    await store.admit()
    claims = await store.claim(Claimant(owner, owner, 100, 600))
    for c in claims:
        error = errors.get(c.name)
        status = TaskStatus.FAILED if error is not None else TaskStatus.SUCCEEDED
        assert await store.complete(Outcome(c.task_id, c.attempt, owner, status, 3, error or ""))
    await store.flush()


async def test_failed_attempts_are_grouped_by_cause(store: Store) -> None:
    a = await store.create_job(commands("import", tasks=2, user="alice"))
    b = await store.create_job(commands("import", tasks=2, user="bob"))
    c = await store.create_job(commands("export", tasks=1, user="alice", retries=1))
    await fail_all(store, {"import1": BAD_DATE_1, "import2": DISK_FULL, "export1": BAD_DATE_2})
    between = time.time()
    await asyncio.sleep(0.01)
    await fail_all(store, {"export1": BAD_DATE_1})  # the retry fails alike

    groups = await store.failure_groups(FailureFilter())
    by_id = {g.id: g for g in groups}
    assert set(by_id) == {fingerprint(BAD_DATE_1), fingerprint(DISK_FULL)}
    dates = by_id[fingerprint(BAD_DATE_1)]
    assert dates.message == "exit 3: row <n>: invalid date '<q>' in <path>"
    # import1 of both jobs, export1 twice: 4 attempts of 3 tasks in 3 jobs.
    assert (dates.attempts, dates.tasks, dates.jobs) == (4, 3, 3)
    assert dates.types == {"export": 2, "import": 2}
    disk = by_id[fingerprint(DISK_FULL)]
    assert (disk.attempts, disk.tasks, disk.jobs, disk.types) == (2, 2, 2, {"import": 2})
    assert sum(dates.trend) == 4 and len(dates.trend) == 12
    assert dates.first <= dates.last and dates.trend_start <= dates.first

    # Bob sees his own only; a query on the jobs, and free words in the message.
    mine = await store.failure_groups(FailureFilter(user="bob"))
    assert {(g.id, g.attempts) for g in mine} == {
        (fingerprint(BAD_DATE_1), 1),
        (fingerprint(DISK_FULL), 1),
    }
    only = await store.failure_groups(FailureFilter(parse_query("type:exp")))
    assert [(g.id, g.attempts, g.jobs) for g in only] == [(fingerprint(BAD_DATE_1), 2, 1)]
    words = await store.failure_groups(FailureFilter(parse_query("space")))
    assert [g.id for g in words] == [fingerprint(DISK_FULL)]
    assert await store.failure_groups(FailureFilter(parse_query(f"id:{c.id} -since:1h"))) == []
    assert await store.failure_groups(FailureFilter(since=dates.last + 1)) == []
    # Since between the two runs: the export's second attempt alone, counted as it is.
    [late] = await store.failure_groups(FailureFilter(since=between))
    assert (late.id, late.attempts, late.tasks, late.jobs) == (dates.id, 1, 1, 1)
    # Bob's jobs: each first attempt of a task, of a job, in its cause is his own.
    bobs = {g.id: (g.attempts, g.tasks, g.jobs) for g in mine}
    assert bobs == {fingerprint(BAD_DATE_1): (1, 1, 1), fingerprint(DISK_FULL): (1, 1, 1)}

    tasks = await store.failure_tasks(fingerprint(BAD_DATE_1), FailureFilter())
    assert sorted((t.job_id, t.name, t.attempts) for t in tasks) == [
        (a.id, "import1", 1),
        (b.id, "import1", 1),
        (c.id, "export1", 2),
    ]
    export = next(t for t in tasks if t.job_id == c.id)
    assert export.error == BAD_DATE_1 and export.last_attempt == 2
    assert all(t.retriable for t in tasks)  # each failed last of this cause, its job ended
    assert {t.job_status for t in tasks} == {JobStatus.FAILED}


async def test_retrying_a_groups_tasks_runs_exactly_those(store: Store) -> None:
    job = await store.create_job(commands("import", tasks=3))
    await fail_all(store, {"import1": BAD_DATE_1, "import2": DISK_FULL, "import3": BAD_DATE_2})
    group = fingerprint(BAD_DATE_1)
    tasks = await store.failure_tasks(group, FailureFilter())
    assert sorted(t.name for t in tasks) == ["import1", "import3"]
    n = await store.retry_job(job.id, "root", [t.task_id for t in tasks])
    assert n == 2
    by_name = {t.name: t.status for t in await store.tasks(job.id)}
    assert by_name == {
        "import1": TaskStatus.PENDING,
        "import2": TaskStatus.FAILED,
        "import3": TaskStatus.PENDING,
    }
    # Running again, import1 fails otherwise: its latest failure is no longer this group's.
    await fail_all(store, {"import1": DISK_FULL})
    after = {t.name: t for t in await store.failure_tasks(group, FailureFilter())}
    assert not after["import1"].retriable and after["import1"].status is TaskStatus.FAILED
    assert not after["import3"].retriable and after["import3"].status is TaskStatus.SUCCEEDED
    disk = await store.failure_tasks(fingerprint(DISK_FULL), FailureFilter())
    assert sorted((t.name, t.retriable) for t in disk) == [("import1", True), ("import2", True)]


async def test_an_attempt_lost_with_its_agent_is_a_failure(store: Store) -> None:
    job = await store.create_job(commands("import", tasks=1))
    await store.admit()
    [claim] = await store.claim(Claimant("gone", "gone", 1, 0.01))
    await asyncio.sleep(0.05)
    assert await store.recover_lost() == 1
    [group] = await store.failure_groups(FailureFilter())
    assert (group.message, group.attempts) == ("agent lost", 1)
    [task] = await store.failure_tasks(group.id, FailureFilter())
    assert (task.job_id, task.task_id, task.last_attempt) == (job.id, claim.task_id, 1)


async def test_an_attempts_log_and_clearing_its_job(store: Store) -> None:
    job = await store.create_job(commands("import", tasks=1, retries=1))
    await store.admit()
    for attempt in (1, 2):
        [c] = await store.claim(Claimant("a", "a", 1, 600))
        for i in range(30):
            await store.append_log(job.id, c.task_id, "stdout", f"a{attempt} line {i}", attempt)
        await store.flush()
        await store.complete(Outcome(c.task_id, c.attempt, "a", TaskStatus.FAILED, 3, DISK_FULL))
        await store.flush()
        await store.admit()
    [task] = await store.failure_tasks(fingerprint(DISK_FULL), FailureFilter())
    assert task.attempts == 2
    # The first attempt's end: its last lines, then the retry's note (written as its).
    lines = await store.attempt_log(job.id, task.task_id, 1, 5)
    assert [ln.text for ln in lines[:4]] == [f"a1 line {i}" for i in range(26, 30)]
    assert lines[-1].stream == "system" and all(ln.attempt == 1 for ln in lines)
    assert await store.clear(None, "root") == 1
    assert await store.failure_groups(FailureFilter()) == []
