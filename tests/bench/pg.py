"""PostgreSQL benchmark (a script, not collected by pytest): `python tests/bench/pg.py`.

Needs a server: `--server URL` or `JOBDASH_TEST_PG` (`.ci/postgres start` makes a private
one, fsync off). Each part runs in its own process on a fresh schema (dropped after), the
SQLite runs on a fresh file; runs alternate between the backends, and the medians count.

1. `engine`: no-op Python tasks/s (submit → job finished, 20,000 tasks, 64 and 256 slots)
   and `true` command tasks/s (8 slots) on PostgreSQL beside SQLite: `part_noop` and
   `part_command` of tests/bench/engine.py. With each, the CPU it took per task: of the
   engine's process, and of the PostgreSQL server (its processes, live and ended), read
   from the server's postmaster (local servers only), steadier than rates on a busy host.
2. `agents`: 1, 2 and 4 `jobdash agent` processes of 16 slots each on one PostgreSQL store
   running tasks that sleep 0.05 s (Python tasks: the work is not CPU-bound, and no
   process start per task muddles it): tasks/s, and against one agent; the agents' CPU
   per task while they work (read from their processes once they are up, so their start
   is left out) and with everything (their start, the bench's process).
3. `procrastinate`: procrastinate's no-op throughput on the same server, the peer anchor:
   2,000 no-op jobs deferred in batches, then one worker (`concurrency` 10 and 64) run
   until the queue is empty; its rate is the worker's, deferring not counted. Skipped, saying why, when
   procrastinate is not installed (`pip install procrastinate` in the bench's venv: it is
   not a dependency of jobdash).
4. `dashboard`: tests/bench/tui.py part (a), 100,000 finished jobs, first frame and filter
   keystrokes, on PostgreSQL beside SQLite.

Options: `--rounds N` (alternating runs of each, default 3), `--quick` (smaller sizes),
parts to run by name (default all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jobdash.core.runners import JobContext, TaskContext  # noqa: E402

PARTS = ("engine", "agents", "procrastinate", "dashboard")
NOOP_TASKS = 20_000
NOOP_SLOTS = (64, 256)
COMMAND_TASKS = 2_000
COMMAND_SLOTS = 8
SLEEP = 0.05
PROCRASTINATE_JOBS = 2_000
AGENT_SLOTS = 16
AGENT_TASKS = 3_000
AGENTS = (1, 2, 4)


# --------------------------------------------------------------------------- job types


async def sleep_task(ctx: TaskContext, item: Any) -> None:
    """Work that waits, not computes (`sleep 0.05`)."""
    await asyncio.sleep(SLEEP)


async def sleep_job(ctx: JobContext) -> None:
    n = int(ctx.params["n"])
    for i in range(n):
        ctx.add_task(sleep_task, i, name=str(i))
        if i % 1_000 == 999:
            await ctx.checkpoint()  # the tasks added so far start at once


# --------------------------------------------------------------------------- measuring


def server_cpu(server: str) -> Callable[[], float] | None:
    """A function giving the CPU seconds the PostgreSQL server has used so far (postmaster
    and backends, ended ones included); None when the server is not local and readable."""
    import psutil
    import psycopg

    try:
        with psycopg.connect(server, autocommit=True) as con:
            row = con.execute("SELECT current_setting('data_directory')").fetchone()
        pid = int((Path(row[0]) / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
    except Exception:
        return None

    def used() -> float:
        t = postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for c in postmaster.children():
            try:
                ct = c.cpu_times()
            except psutil.Error:
                continue
            total += ct.user + ct.system
        return total

    return used


def run_child(argv: list[str], cpu: Callable[[], float] | None) -> dict[str, Any]:
    """Run a part in its own process; its JSON result, with the CPU it and the server
    took (`engine_cpu_s`, `server_cpu_s`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = cpu() if cpu else 0.0
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    s1 = cpu() if cpu else 0.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        raise SystemExit(f"{' '.join(argv[1:4])} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["engine_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["server_cpu_s"] = (s1 - s0) if cpu else None
    return result


def engine_part(part: str, n: int, slots: int, server: str = "") -> list[str]:
    argv = [sys.executable, str(ROOT / "tests/bench/engine.py"), "--part", part]
    argv += ["--n", str(n), "--slots", str(slots)]
    return argv + (["--db", server] if server else [])


def med(values: list[float]) -> float:
    return statistics.median(values)


def span(values: list[float], fmt: str = ",.0f") -> str:
    return f"{format(min(values), fmt)}–{format(max(values), fmt)}"


def per_task_us(r: dict[str, Any], key: str) -> float | None:
    return None if r.get(key) is None else 1e6 * r[key] / r["tasks"]


def cpu_of(rs: list[dict[str, Any]], key: str) -> list[float]:
    """µs of CPU per task of each run (0 where it was not read)."""
    return [per_task_us(r, key) or 0.0 for r in rs]


# --------------------------------------------------------------------------- 1. engine


def bench_engine(server: str, rounds: int, scale: int, cpu: Callable[[], float] | None) -> None:
    n = NOOP_TASKS // scale
    print(f"\n1. no-op Python tasks, submit → finished, {n:,} tasks ({rounds} rounds alternating)")
    best: dict[str, float] = {}
    for slots in NOOP_SLOTS:
        got: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgresql": []}
        for _ in range(rounds):
            got["sqlite"].append(run_child(engine_part("noop", n, slots), cpu))
            got["postgresql"].append(run_child(engine_part("noop", n, slots, server), cpu))
        for name, rs in got.items():
            rates = [r["rate"] for r in rs]
            eng = [per_task_us(r, "engine_cpu_s") or 0 for r in rs]
            line = (
                f"   {name:>10}, {slots:>3} slots: {med(rates):>7,.0f} tasks/s "
                f"({span(rates)}); engine CPU {med(eng):.0f} µs/task"
            )
            if name == "postgresql" and cpu:
                srv = [per_task_us(r, "server_cpu_s") or 0 for r in rs]
                line += f", server CPU {med(srv):.0f} µs/task"
            print(line, flush=True)
            best[name] = max(best.get(name, 0), med(rates))
    pg = best["postgresql"]
    print(
        f"   best median: PostgreSQL {pg:,.0f} tasks/s, SQLite {best['sqlite']:,.0f} — "
        f"target ≥ 10,000: {'met' if pg >= 10_000 else 'MISSED'}"
    )
    BEST["noop"] = pg

    n = COMMAND_TASKS // scale
    print(f"\n   `true` command tasks, {n:,} items, {COMMAND_SLOTS} slots, beside xargs -P")
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgresql": []}
    for _ in range(rounds):
        runs["sqlite"].append(run_child(engine_part("command", n, COMMAND_SLOTS), cpu))
        runs["postgresql"].append(run_child(engine_part("command", n, COMMAND_SLOTS, server), cpu))
    for name, rs in runs.items():
        rates = [r["rate"] for r in rs]
        ratios = [r["ratio"] for r in rs]
        print(
            f"   {name:>10}: {med(rates):>7,.0f} tasks/s ({span(rates)}), "
            f"{med(ratios):.0%} of xargs",
            flush=True,
        )


BEST: dict[str, float] = {}  # figures later parts compare with


# --------------------------------------------------------------------------- 2. agents


def part_agents(server: str, agents: int, n: int) -> dict[str, Any]:
    """`agents` agent processes of AGENT_SLOTS slots run one job of `n` sleeping tasks."""
    from tests.bench.engine import pg_schema

    with tempfile.TemporaryDirectory(prefix="jobdash-bench-") as tmp, pg_schema(server) as url:
        os.chdir(tmp)  # no ./jobdash.toml is picked up
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(
            '[types.sleepy]\nfunction = "tests.bench.pg:sleep_job"\n'
            f"params.n = {{ required = true }}\nparallel = {AGENTS[-1] * AGENT_SLOTS}\n"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return asyncio.run(_agents(url, cfg, env, agents, n))


async def _agents(url: str, cfg: Path, env: dict[str, str], agents: int, n: int) -> dict[str, Any]:
    from jobdash.core.service import Service
    from tests.bench.engine import agents_up, run_to_end, start_agents, stop_agents

    svc = await Service.open(db=url, config=str(cfg), user="bench")
    procs = start_agents(url, cfg, agents, AGENT_SLOTS, env)
    try:
        await agents_up(svc, agents)
        up = agents_cpu(procs)  # their start (imports: ~1 s of CPU each) is not the work's
        secs, job = await run_to_end(svc, "sleepy", {"n": str(n)})
        work_cpu = agents_cpu(procs) - up
    finally:
        stop_agents(procs)
        await svc.close()
    assert job.status == "succeeded" and job.succeeded == n + 1, (job.status, job.info)
    return {
        "agents": agents,
        "tasks": n,
        "seconds": secs,
        "rate": n / secs,
        "agents_work_cpu_s": work_cpu,
    }


def agents_cpu(procs: list[Any]) -> float:
    """CPU seconds the agent processes used so far."""
    import psutil

    total = 0.0
    for p in procs:
        t = psutil.Process(p.pid).cpu_times()
        total += t.user + t.system
    return total


def bench_agents(server: str, rounds: int, scale: int, cpu: Callable[[], float] | None) -> None:
    n = AGENT_TASKS // scale
    print(
        f"\n2. agent processes on one PostgreSQL store, {AGENT_SLOTS} slots each, {n:,} tasks "
        f"sleeping {SLEEP} s ({rounds} rounds, the agent counts in turn)"
    )
    got: dict[int, list[dict[str, Any]]] = {k: [] for k in AGENTS}
    for _ in range(rounds):
        for k in AGENTS:
            argv = [sys.executable, __file__, "--part", "agents", "--agents", str(k)]
            got[k].append(run_child([*argv, "--n", str(n), "--server", server], cpu))
    one = med([r["rate"] for r in got[1]])
    for k, rs in got.items():
        rates = [r["rate"] for r in rs]
        ideal = k * AGENT_SLOTS / SLEEP
        print(
            f"   {k} agent{'s' if k > 1 else ' '}: {med(rates):>6,.0f} tasks/s ({span(rates)}), "
            f"{med(rates) / one:.2f}× one agent, {med(rates) / ideal:.0%} of the slots' "
            f"{ideal:,.0f}/s; CPU per task: agents {med(cpu_of(rs, 'agents_work_cpu_s')):.0f} µs "
            f"at work ({med(cpu_of(rs, 'engine_cpu_s')):.0f} µs with their start and the bench's)"
            + (f", server {med(cpu_of(rs, 'server_cpu_s')):.0f} µs" if cpu else ""),
            flush=True,
        )
    four = med([r["rate"] for r in got[AGENTS[-1]]]) / one
    print(f"   target: 4 agents ≥ 2.5× one: {'met' if four >= 2.5 else 'MISSED'} ({four:.2f}×)")


# --------------------------------------------------------------------------- 3. procrastinate


def part_procrastinate(server: str, n: int, concurrency: int) -> dict[str, Any]:
    from tests.bench.engine import pg_schema

    with pg_schema(server) as url:
        return asyncio.run(_procrastinate(url, n, concurrency))


async def _procrastinate(url: str, n: int, concurrency: int) -> dict[str, Any]:
    import logging

    import procrastinate

    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop() -> None:
        """A task that does nothing."""

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        t0 = time.perf_counter()
        for i in range(0, n, 1_000):
            await noop.batch_defer_async(*({} for _ in range(min(1_000, n - i))))
        deferred = time.perf_counter() - t0
        t1 = time.perf_counter()
        await app.run_worker_async(
            concurrency=concurrency, wait=False, install_signal_handlers=False
        )
        ran = time.perf_counter() - t1
        async with app.connector.pool.connection() as con:  # type: ignore[attr-defined]
            cur = await con.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
            (done,) = await cur.fetchone()
    assert done == n, (done, n)
    return {
        "tasks": n,
        "concurrency": concurrency,
        "defer_rate": n / deferred,
        "rate": n / ran,
        "end_to_end_rate": n / (deferred + ran),
    }


def bench_procrastinate(
    server: str, rounds: int, scale: int, cpu: Callable[[], float] | None
) -> None:
    n = PROCRASTINATE_JOBS // scale
    print(f"\n3. procrastinate, no-op jobs on the same server, {n:,} jobs ({rounds} rounds)")
    try:
        import procrastinate
    except ImportError:
        print(
            "   skipped: procrastinate is not installed (`pip install procrastinate` in this "
            "venv; it is not a dependency of jobdash)"
        )
        return
    print(f"   procrastinate {procrastinate.__version__}")
    best = 0.0
    for concurrency in (10, 64):
        argv = [sys.executable, __file__, "--part", "procrastinate", "--server", server]
        argv += ["--n", str(n), "--slots", str(concurrency)]
        rs = [run_child(argv, cpu) for _ in range(rounds)]
        rates = [r["rate"] for r in rs]
        e2e = [r["end_to_end_rate"] for r in rs]
        srv = [per_task_us(r, "server_cpu_s") or 0 for r in rs]
        print(
            f"   concurrency {concurrency:>3}: worker {med(rates):>6,.0f} jobs/s "
            f"({span(rates)}); deferred and run {med(e2e):,.0f} jobs/s; "
            f"CPU per job: bench {med([per_task_us(r, 'engine_cpu_s') or 0 for r in rs]):.0f} µs"
            + (f", server {med(srv):.0f} µs" if cpu else ""),
            flush=True,
        )
        best = max(best, med(rates))
    if "noop" in BEST:
        ratio = BEST["noop"] / best
        print(
            f"   jobdash's best no-op median (submit → finished) against procrastinate's best "
            f"worker rate: {ratio:.1f}× — target ≥ 2×: {'met' if ratio >= 2 else 'MISSED'}"
        )


# --------------------------------------------------------------------------- 4. dashboard


def bench_dashboard(server: str, rounds: int) -> None:
    print(f"\n4. dashboard, 100,000 finished jobs (tests/bench/tui.py (a), {rounds} rounds)")
    keys = (
        ("first_frame_s", "first frame", "s"),
        ("completed_s", "Completed tab rows drawn", "s"),
        ("filter_typed_ms", "filter: last key typed 150 ms apart", "ms"),
        ("filter_single_ms", "filter: a single key, settled", "ms"),
        ("filter_burst_ms", "filter: last of 12 keys back to back", "ms"),
    )
    got: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
    tui = [sys.executable, str(ROOT / "tests/bench/tui.py"), "a", "--json"]
    for _ in range(rounds):
        got["sqlite"].append(run_child(tui, None))
        got["postgresql"].append(run_child([*tui, "--db", server], None))
    for key, what, unit in keys:
        lite = med([r[key] for r in got["sqlite"]])
        pg = med([r[key] for r in got["postgresql"]])
        fmt = ".2f" if unit == "s" else ".0f"
        print(
            f"   {what:<38} SQLite {format(lite, fmt)} {unit}, PostgreSQL {format(pg, fmt)} "
            f"{unit} ({span([r[key] for r in got['postgresql']], fmt)}): {pg / lite:.2f}× — "
            f"target ≤ 1.5×: {'met' if pg <= 1.5 * lite else 'MISSED'}",
            flush=True,
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("parts", nargs="*", help=f"parts to run: {', '.join(PARTS)} (default all)")
    p.add_argument("--server", default=os.environ.get("JOBDASH_TEST_PG", ""))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--agents", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--slots", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.server:
        raise SystemExit("pg.py: no server: give --server URL or set JOBDASH_TEST_PG")
    if unknown := [x for x in args.parts if x not in PARTS]:
        raise SystemExit(f"pg.py: no part {unknown[0]!r} (parts: {', '.join(PARTS)})")
    if args.part == "agents":
        print(json.dumps(part_agents(args.server, args.agents, args.n)))
        return
    if args.part == "procrastinate":
        print(json.dumps(part_procrastinate(args.server, args.n, args.slots)))
        return

    import psycopg

    with psycopg.connect(args.server) as con:
        version = con.execute("SHOW server_version").fetchone()
        settings = con.execute(
            "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings "
            "WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', "
            "'shared_buffers')"
        ).fetchone()
    print(
        f"jobdash PostgreSQL bench — {date.today()} — {platform.node()}: {os.cpu_count()} "
        f"cores, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        f"PostgreSQL {version[0] if version else '?'} ({settings[0] if settings else '?'})",
        flush=True,
    )
    cpu = server_cpu(args.server)
    if cpu is None:
        print("   (the server's CPU is not read: not a local server this user can see)")
    scale = 10 if args.quick else 1
    parts = args.parts or PARTS
    if "engine" in parts:
        bench_engine(args.server, args.rounds, scale, cpu)
    if "agents" in parts:
        bench_agents(args.server, args.rounds, scale, cpu)
    if "procrastinate" in parts:
        bench_procrastinate(args.server, args.rounds, scale, cpu)
    if "dashboard" in parts:
        bench_dashboard(args.server, args.rounds)
    print(f"\nload at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
