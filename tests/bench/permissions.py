"""What permission groups cost (a script, not collected by pytest):
`python tests/bench/permissions.py --db postgresql://…`.

1. PostgreSQL's engine path: single-task jobs run end to end by an engine connected as the
   server's superuser (not under row-level security, as `db grant --engine` makes it with
   BYPASSRLS), with the status trigger of migration 13 enabled, then disabled (what the
   previous main had: no trigger), alternating, on a fresh schema each run.
2. A user's listing under row-level security: a login role reading its 20,000 jobs (of a
   store of 40,000) on a store made by the previous main (`--main-python`: its checkout's
   interpreter, which makes that store), on this one with no grant (the new policies'
   sub-select only), and with a role that lets it see the other user's half too.

Prints the medians and the runs. Noisy on a shared machine: alternate, take medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jobdash.core.model import JobType  # noqa: E402
from jobdash.core.service import Service  # noqa: E402
from tests.bench.engine import pg_schema  # noqa: E402


async def noop_job(ctx: Any) -> None:
    """A job of one task (its function's) that does nothing: what remains is the engine's
    cost, a job's status moves among it."""


async def engine_jobs(url: str, n: int, trigger: bool) -> float:
    """Jobs/s of `n` single-task command-less jobs, the trigger on or off."""
    jt = JobType(name="one", function="tests.bench.permissions:noop_job")
    svc = await Service.open(db=url, extra_types={"one": jt})
    try:
        if not trigger:
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("ALTER TABLE jobs DISABLE TRIGGER jobs_moves")
        await svc.start_engine(slots=8, scheduler=False)
        t0 = time.perf_counter()
        ids = await svc.submit_many("one", [{}] * n)
        while True:
            statuses = await svc.store.job_statuses(ids)
            if all(status.finished for status, _ in statuses.values()):
                break
            await asyncio.sleep(0.05)
        return n / (time.perf_counter() - t0)
    finally:
        await svc.close()


def listing(server: str, rounds: int, main_python: str | None) -> dict[str, list[float]]:
    """Seconds for a role's `SELECT` of its jobs: on main's store, on this one without and
    with a grant."""
    out: dict[str, list[float]] = {"main": [], "no grant": [], "role sees all": []}
    stores = [("main", main_python)] if main_python else []
    stores.append(("this", None))
    for _ in range(rounds):
        for which, python in stores:
            for case, secs in _listing(server, python).items():
                if which == "main" and case == "no grant":
                    out["main"].append(secs)
                elif which == "this":
                    out[case].append(secs)
    return out


INIT = (
    "import asyncio, sys\n"
    "from jobdash.core.store.base import open_store\n"
    "async def main():\n"
    "    s = await open_store(sys.argv[1])\n"
    "    await s.close()\n"
    "asyncio.run(main())\n"
)


def _listing(server: str, python: str | None) -> dict[str, float]:
    """One round on a fresh schema made by `python` (None: this checkout)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    me, other = f"bench_u{uuid.uuid4().hex[:6]}", f"bench_o{uuid.uuid4().hex[:6]}"
    sep = "&" if "?" in server else "?"
    url = f"{server}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    out: dict[str, float] = {}
    try:
        if python is None:
            asyncio.run(_init(url))
        else:
            cwd = Path(python).parents[2]  # CHECKOUT/.venv/bin/python
            subprocess.run([python, "-c", INIT, url], check=True, cwd=cwd)
        with psycopg.connect(url, autocommit=True) as con:
            for role in (me, other):
                con.execute(f"CREATE ROLE {role} LOGIN")
                con.execute(f"GRANT jobdash_user TO {role}")
            con.execute(
                'INSERT INTO jobs (type, params, "user", trigger, status, created, updated, '
                "target) SELECT 'import', '{}', CASE WHEN g %% 2 = 0 THEN %s ELSE %s END, "
                "'manual', 'succeeded', g, g, '/srv/' || g FROM generate_series(1, 40000) g",
                (me, other),
            )
            con.execute("ANALYZE jobs")
        for case in ("no grant", "role sees all") if python is None else ("no grant",):
            if case == "role sees all":
                with psycopg.connect(url, autocommit=True) as con:
                    grant = (
                        "INSERT INTO role_grants VALUES (%s, 'r', 'view', '{}', '{}', '{}', '{}')"
                    )
                    con.execute(grant, (me,))
            with psycopg.connect(url, autocommit=True) as con:
                con.execute(f"SET ROLE {me}")
                t0 = time.perf_counter()
                rows = con.execute("SELECT id, type, status FROM jobs").fetchall()
                out[case] = time.perf_counter() - t0
                assert len(rows) == (40000 if case == "role sees all" else 20000)
    finally:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
            for role in (me, other):
                con.execute(f"DROP ROLE IF EXISTS {role}")
    return out


async def _init(url: str) -> None:
    svc = await Service.open(db=url)
    await svc.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True, help="a PostgreSQL server's URL")
    p.add_argument("--jobs", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--main-python", help="the previous main's interpreter (its venv's)")
    a = p.parse_args()
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(a.rounds):
        for trigger in (True, False):
            with pg_schema(a.db) as url:
                rates[trigger].append(asyncio.run(engine_jobs(url, a.jobs, trigger)))
    for trigger, rs in rates.items():
        runs = ", ".join(f"{r:,.0f}" for r in rs)
        state = "on" if trigger else "off"
        print(f"engine, trigger {state}: {statistics.median(rs):,.0f} jobs/s ({runs})")
    for case, secs in listing(a.db, a.rounds, a.main_python).items():
        runs = ", ".join(f"{s * 1000:.0f}" for s in secs)
        print(f"listing, {case}: {statistics.median(secs) * 1000:.0f} ms ({runs})")


if __name__ == "__main__":
    main()
