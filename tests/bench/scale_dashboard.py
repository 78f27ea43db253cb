"""Scale benchmark, dashboard part: `python tests/bench/scale.py --dashboard [--sizes …]`, or
this script alone: `python tests/bench/scale_dashboard.py [SIZE …]`, with
JOBDASH_BENCH_ROOT=another checkout and that checkout's venv's python to time another
version (the filter keystrokes are timed only where the Completed tab is a window).

For each size, a store of that many finished jobs (the dashboard bench's rows: five types,
four users, a parameter, an info "bench-NNNNNN done"), seeded with SQL directly and its text
index brought up to date as the engine's heartbeats keep it (`Store.index_text`); then:

1. the dashboard in a 120×40 pty (`python -m jobdash`): seconds to its first frame; ms from
   `2` `end` to the oldest job's row drawn (the Completed tab's jump to the oldest job);
2. the same dashboard attached to a `jobdash serve` running 20 jobs: its RSS and its CPU (%
   of one core) over 30 s;
3. filter keystrokes in-process (`App.run_test`, headless: every frame is still rendered):
   ms from each key to the frame that shows the table's new count and first page (see
   `settle`), over a free word
   typed out ("bench-077777") and field filters (user:bob, type:export, status:failed,
   -user:root), p50 and p95.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(os.environ.get("JOBDASH_BENCH_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from tui import (  # noqa: E402
    completed_title,
    dashboard,
    insert_finished_jobs,
    make_store,
    stop,
    twenty_running,
)

sys.path.insert(0, str(ROOT))  # before the one tui.py put first: jobdash is read from ROOT

QUERIES = ("bench-077777", "user:bob", "type:export", "status:failed", "-user:root")


def seed(db: Path, n: int) -> float:
    """The store, seeded and indexed; seconds the text index took."""
    from jobdash.core.store.sqlite import SqliteStore

    make_store(db)
    insert_finished_jobs(db, n)

    async def index() -> float:
        store = await SqliteStore.open(db)
        t0 = time.perf_counter()
        try:
            if hasattr(store, "index_text"):  # not in a checkout from before it
                await store.index_text(batches=None)
        finally:
            await store.close()
        return time.perf_counter() - t0

    return asyncio.run(index())


def frames(tmp: Path, db: Path, n: int) -> dict[str, float]:
    config = tmp / "a.toml"
    user = os.environ.get("USER", "root")
    config.write_text(f'[jobdash]\nadmins = ["root", "{user}"]\n')
    app = dashboard(db, config, tmp)
    try:
        first = app.wait_for("Completed", app.start, timeout=60) - app.start
        app.wait_for(completed_title(n), app.start, timeout=60)
        app.send("2")
        app.wait_for(f"bench-{n:06d}"[:10], app.start, timeout=60)
        app.quiet(0.5)
        sent = app.send("\x1b[F")  # end
        drawn = app.wait_for("bench-000001", sent, timeout=60)
        return {"first_frame_s": first, "oldest_ms": 1000 * (drawn - sent)}
    finally:
        app.stop()


def running(tmp: Path, db: Path, seconds: float = 30.0) -> dict[str, float]:
    engine, config = twenty_running(tmp, db)
    app = None
    try:
        app = dashboard(db, config, tmp)
        app.wait_for("In Progress", app.start, timeout=60)
        time.sleep(3.0)
        proc = psutil.Process(app.proc.pid)
        cpu0, t0 = sum(proc.cpu_times()[:2]), time.perf_counter()
        time.sleep(seconds)
        cpu = (sum(proc.cpu_times()[:2]) - cpu0) / (time.perf_counter() - t0)
        return {"cpu_pct": 100 * cpu, "rss_mb": app.rss() / 2**20}
    finally:
        if app is not None:
            app.stop()
        stop(engine)


KEYS = ("keys", "filter_p50_ms", "filter_p95_ms", "filter_max_ms", "idle_p50_ms", "idle_p95_ms")


def windowed() -> bool:
    try:
        from jobdash.tui.widgets import window_table  # noqa: F401
    except ImportError:
        return False
    return True


def keystrokes(db: Path, n: int) -> dict[str, float]:
    from jobdash.core.service import Service
    from jobdash.tui.app import JobdashApp
    from jobdash.tui.screens.dashboard import DashboardScreen
    from jobdash.tui.widgets.filter_bar import FilterBar

    times: list[float] = []
    idle_times: list[float] = []

    async def main() -> None:
        svc = await Service.open(db=str(db))
        try:
            app = JobdashApp(svc, embedded_engine=False)
            async with app.run_test(size=(120, 40)) as pilot:
                dash = app.screen_stack[0]
                assert isinstance(dash, DashboardScreen)
                # A history of WINDOW_ABOVE jobs or fewer is held whole (no window): its
                # keys are filtered in memory, and timed the same way.
                while not dash.loaded or (n > dash.window_above and not dash.completed.windowed):
                    await pilot.pause(0.05)
                table = dash.completed
                await pilot.press("2", "slash")
                bar = app.screen.query_one(FilterBar)
                for query in QUERIES:
                    bar.input.value = ""
                    await settle(pilot, table)
                    for end in range(1, len(query) + 1):
                        t0 = time.perf_counter()
                        bar.input.value = query[:end]
                        await settle(pilot, table)
                        times.append(time.perf_counter() - t0)
                        await idle(pilot)
                        idle_times.append(time.perf_counter() - t0)
        finally:
            await svc.close()

    asyncio.run(main())
    ms = sorted(1000 * t for t in times)
    idle_ms = sorted(1000 * t for t in idle_times)
    return {
        "keys": len(ms),
        "filter_p50_ms": statistics.median(ms),
        "filter_p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "filter_max_ms": ms[-1],
        "idle_p50_ms": statistics.median(idle_ms),
        "idle_p95_ms": idle_ms[int(0.95 * (len(idle_ms) - 1))],
    }


async def settle(pilot: Any, table: Any) -> None:
    """Until the table holds the new count and first page and a frame showing them is
    drawn: the key's messages handled (`pilot.pause(0)`), the table's reads done, the
    messages they posted handled (the tab's title), then the screen's next refresh.

    Not `pilot.pause()` (Textual's wait for an idle process), which the bench used until
    2026-12-02: it sleeps in slices of 20 ms until one passes with under 1 ms of CPU, and
    so added 20-90 ms to every key after its frame was drawn (the frame itself came at
    57-132 ms of the 123-225 ms each key was timed at). `idle` then takes that wait, as the
    earlier figures did, for comparison."""
    await pilot.pause(0)
    while any(w.node is table and not w.is_finished for w in pilot.app.workers):
        await asyncio.sleep(0.002)
    while table.window is not None and (table.window.wanted or table._reading):
        await asyncio.sleep(0.002)
    await pilot.pause(0)
    await pilot.app.screen.wait_for_refresh()


async def idle(pilot: Any) -> None:
    """The earlier end of a key's time: Textual's wait for an idle process."""
    await pilot.pause()


def run(sizes: list[int]) -> None:
    print(
        "\n3. the dashboard over a history of finished jobs (targets: first frame < 0.5 s, "
        "RSS < 200 MB, CPU < 3 % with 20 running, keystroke p95 < 100 ms, oldest < 200 ms)"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="jobdash-scale-dash-") as d:
            tmp = Path(d)
            db = tmp / "dash.db"
            t0 = time.perf_counter()
            indexed = seed(db, n)
            size = db.stat().st_size
            print(
                f"   {n:,} jobs seeded in {time.perf_counter() - t0:.0f} s (text index "
                f"{indexed:.0f} s), {size / n:.0f} bytes per job",
                flush=True,
            )
            r = frames(tmp, db, n)
            # Another checkout's dashboard (JOBDASH_BENCH_ROOT) may hold no window to time.
            k = keystrokes(db, n) if windowed() else dict.fromkeys(KEYS, float("nan"))
            live = running(tmp, db)
            print(
                f"   {n:>10,}: first frame {r['first_frame_s']:.2f} s, oldest job "
                f"{r['oldest_ms']:.0f} ms, filter key p50 {k['filter_p50_ms']:.0f} ms "
                f"p95 {k['filter_p95_ms']:.0f} ms (max {k['filter_max_ms']:.0f}, "
                f"{k['keys']} keys; to an idle process as timed before 2026-12-02: p50 "
                f"{k['idle_p50_ms']:.0f}, p95 {k['idle_p95_ms']:.0f}), with 20 running: RSS "
                f"{live['rss_mb']:.0f} MB, "
                f"CPU {live['cpu_pct']:.1f} %",
                flush=True,
            )


if __name__ == "__main__":
    run([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
