"""What a role's `view` reaches besides the job lists, through the service: the failure
groups (and a group's tasks), the history the dashboard's pictures count (a type's last
runs, the jobs ended per hour), and the audit trail. Failed jobs of four kinds run for real
on an engine; every user of test_permissions.py's roles reads them on a real SQLite store
(root acting as each, as on SQLite), and each answer is checked against a table written
out here.

The same table runs through PostgreSQL's row-level security in
`test_pg_permission_reads.py`."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from pathlib import Path

from jobdash.core.agent_info import AgentInfo
from jobdash.core.service import Service
from tests.conftest import wait_finished
from tests.test_permissions import World, config_text, world  # noqa: F401 (the fixture)

FAIL = '["sh", "-c", "echo broken >&2; exit 3"]'
# The failed jobs read: (owner, type, target). alice's three kinds of test_permissions.py,
# and carol's own job within her finance role's limits.
JOBS = {
    "fin": ("alice", "import-a", "/srv/finance/q1"),
    "hr": ("alice", "import-a", "/srv/hr/q1"),
    "exp": ("alice", "export-b", "/srv/finance/q1"),
    "cfin": ("carol", "import-a", "/srv/finance/q2"),
}
# The jobs each user sees in every read (failures, history, audit events on them): root is
# the admin; alice owns three; bob's viewers role sees every job; carol's finance role sees
# import-*/fin-* on /srv/finance/* (and her own); dave may only drain; eve has no role; fay
# may cancel (and so see) export-*.
SEES: dict[str, set[str]] = {
    "root": {"fin", "hr", "exp", "cfin"},
    "alice": {"fin", "hr", "exp"},
    "bob": {"fin", "hr", "exp", "cfin"},
    "carol": {"fin", "cfin"},
    "dave": set(),
    "eve": set(),
    "fay": {"exp"},
}
SCHEDULE_OUTSIDE = "fin-hr"  # a type of the finance role's `types`, not of its `targets`
# Of the audit trail's events on no job (root drained an agent), who sees them: root's own.
AGENT_EVENT_SEEN_BY = {"root"}


def failing_config(group: str) -> str:
    """test_permissions.py's config (its roles), its job types failing, and a schedule of
    a type the finance role covers on a target it does not (`SCHEDULE_OUTSIDE`)."""
    text = config_text(group).replace('command = ["true"]', f"command = {FAIL}")
    return text + (
        f"\n[types.{SCHEDULE_OUTSIDE}]\ncommand = {FAIL}\n"
        'params.dir = { default = "/srv/hr/weekly" }\nschedule = "cron: 0 5 * * 1"\n'
    )


def kinds_of(ids: set[int], by_id: Mapping[int, str]) -> set[str]:
    return {by_id[i] for i in ids}


async def reads_of(svc: Service, by_id: Mapping[int, str], now: float) -> dict[str, object]:
    """What `svc`'s user reads: the kinds in each read, and the audit events on no job."""
    failed: set[int] = set()
    for group in await svc.failures():
        failed |= {t.job_id for t in await svc.failure_tasks(group.id)}
    runs = {r.job_id for t in ("import-a", "export-b") for r in await svc.type_runs(t)}
    ended = sum(n for _, status, n in await svc.jobs_ended(now) if status == "failed")
    events = await svc.audit_trail()
    on_jobs = {int(e.target[4:]) for e in events if e.target.startswith("job:")}
    return {
        "failures": kinds_of(failed, by_id),
        "runs": kinds_of(runs, by_id),
        "ended": ended,
        "audit": kinds_of(on_jobs, by_id),
        "others": sorted(e.target for e in events if not e.target.startswith("job:")),
    }


def expected(user: str) -> dict[str, object]:
    seen = SEES[user]
    return {
        "failures": seen,
        "runs": seen,
        "ended": len(seen),
        "audit": seen,
        "others": ["agent:a1"] if user in AGENT_EVENT_SEEN_BY else [],
    }


def test_every_read_by_job_follows_the_roles(
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = tmp_path / "failing.toml"
    found = re.search(r'members = \["@(\w+)"\]', world.config.read_text())
    assert found is not None
    config.write_text(failing_config(found[1]))

    async def main() -> None:
        db = str(world.db)
        root = await Service.open(db=db, config=str(config), user="root")
        try:
            await root.start_engine(slots=2, scheduler=False)
            by_id: dict[int, str] = {}
            for kind, (owner, type_name, target) in JOBS.items():
                svc = await Service.open(db=db, config=str(config), user=owner)
                try:
                    job = await svc.submit(type_name, {"dir": target})
                    assert (await wait_finished(svc, job.id)).status.value == "failed"
                finally:
                    await svc.close()
                by_id[job.id] = kind
            now = time.time()
            info = AgentInfo("a1", "h", 1, "x", 1, 0, "idle", now - 9999, now - 9999)
            await root.store.register_agent(info, "o")
            await root.drain_agent("a1")
            for user in SEES:
                name = world.viewer if user == "bob" else user
                svc = await Service.open(db=db, config=str(config), user=name)
                try:
                    assert await reads_of(svc, by_id, now) == expected(user), user
                finally:
                    await svc.close()
        finally:
            await root.close()

    asyncio.run(main())
