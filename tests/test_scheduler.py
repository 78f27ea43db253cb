"""The scheduler: plannings, DST, missed fire times and catch-up, leader lease, real engines."""

from __future__ import annotations

import asyncio
import getpass
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jobdash.core.config import ConfigError, parse_config
from jobdash.core.model import BadInput, Job, JobStatus, Refused, Trigger
from jobdash.core.planning import PlanningError, Tick, fire_times, parse_planning
from jobdash.core.scheduler import Scheduler
from jobdash.core.service import Service
from jobdash.core.store.base import open_store
from jobdash.core.store.records import JobFilter
from jobdash.present.times import local_zone_name
from tests.conftest import run_cli

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]
PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=PARIS, fold=fold).timestamp()  # type: ignore[misc]


def show(ts: float) -> str:
    return datetime.fromtimestamp(ts, PARIS).strftime("%m-%d %H:%M%z")


# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cron: 0 3 * * *", "cron: 0 3 * * *"),
        ("interval: 300s", "interval: 5m"),
        ("interval: 1h30m", "interval: 90m"),
        ("daily: 17:00,9:00", "daily: 09:00,17:00"),
        ("daily: mon,wed@09:00,17:00", "daily: mon,wed@09:00,17:00"),
        ("once: 2026-12-01T09:00", "once: 2026-12-01T09:00"),
        ("disabled", "disabled"),
        ("automatic", "automatic"),
    ],
)
def test_planning_grammar(text: str, canonical: str) -> None:
    assert parse_planning(text).text == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cron: 0 3 * *", "expected 5 fields"),
        ("cron: 61 * * * *", "61"),
        ("interval: 5x", "expected a period"),
        ("interval: 0s", "at least"),
        ("daily: funday@09:00", "unknown week day 'funday'"),
        ("daily: 24:00", "bad time '24:00'"),
        ("once: soon", "expected a date and time"),
        ("weekly: mon", "unknown planning"),
    ],
)
def test_bad_planning_says_what(text: str, message: str) -> None:
    with pytest.raises(PlanningError, match=message):
        parse_planning(text)


def test_cron_day_of_week_is_crontab_numbering() -> None:
    """APScheduler 3 counts days of week from Monday = 0; jobdash keeps crontab's Sunday = 0."""
    p = parse_planning("cron: 0 0 * * 0")
    first = next(fire_times(p, PARIS, paris(2026, 1, 1), math.inf))
    assert datetime.fromtimestamp(first, PARIS).strftime("%a") == "Sun"
    weekdays = parse_planning("cron: 0 9 * * 1-5")
    days = [
        datetime.fromtimestamp(t, PARIS).strftime("%a")
        for t in fire_times(weekdays, PARIS, paris(2026, 1, 4), math.inf, 6)
    ]
    assert days == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]


def test_config_checks_the_schedule_at_load_time() -> None:
    good = parse_config('[types.a]\ncommand = ["true"]\nschedule = "interval:300s"\n', "j.toml")
    assert good.types["a"].schedule == "interval: 5m"
    with pytest.raises(ConfigError) as e:
        parse_config('[types.a]\ncommand = ["true"]\nschedule = "cron: 0 3 * *"\n', "j.toml")
    assert str(e.value) == (
        "j.toml:3: types.a.schedule: cron: expected 5 fields "
        "(minute hour day-of-month month day-of-week), got 4 in '0 3 * *'"
    )


# --------------------------------------------------------------------------- DST


def test_daily_0230_paris_across_both_dst_changes() -> None:
    p = parse_planning("daily: 02:30")
    spring = [show(t) for t in fire_times(p, PARIS, paris(2026, 3, 27, 12), math.inf, 4)]
    # 02:30 does not exist on 2026-03-29 (02:00 CET → 03:00 CEST): once, at 03:00 CEST.
    assert spring == [
        "03-28 02:30+0100",
        "03-29 03:00+0200",
        "03-30 02:30+0200",
        "03-31 02:30+0200",
    ]
    autumn = [show(t) for t in fire_times(p, PARIS, paris(2026, 10, 23, 12), math.inf, 4)]
    # 02:30 happens twice on 2026-10-25 (03:00 CEST → 02:00 CET): once, at the first (CEST).
    assert autumn == [
        "10-24 02:30+0200",
        "10-25 02:30+0200",
        "10-26 02:30+0100",
        "10-27 02:30+0100",
    ]


def test_cron_in_the_skipped_and_repeated_hours() -> None:
    """Debian cron's rule: explicit minute and hour are wall-clock times; a field starting
    with `*` keeps its cadence in real time (tests/test_cron_dst.py has the full table)."""
    wall = parse_planning("cron: 0,30 2 * * *")
    spring = [show(t) for t in fire_times(wall, PARIS, paris(2026, 3, 29), paris(2026, 3, 29, 23))]
    assert spring == ["03-29 03:00+0200"]  # 02:00 and 02:30 both fall in the gap: one run
    autumn = [
        show(t) for t in fire_times(wall, PARIS, paris(2026, 10, 25), paris(2026, 10, 25, 23))
    ]
    assert autumn == ["10-25 02:00+0200", "10-25 02:30+0200"]
    cadence = parse_planning("cron: */30 2 * * *")
    spring = [
        show(t) for t in fire_times(cadence, PARIS, paris(2026, 3, 29), paris(2026, 3, 29, 23))
    ]
    assert spring == []  # 02:00 and 02:30 do not exist that day
    autumn = [
        show(t) for t in fire_times(cadence, PARIS, paris(2026, 10, 25), paris(2026, 10, 25, 23))
    ]
    assert autumn == [
        "10-25 02:00+0200",
        "10-25 02:30+0200",
        "10-25 02:00+0100",
        "10-25 02:30+0100",
    ]


def test_interval_counts_real_time_across_fall_back() -> None:
    p = parse_planning("interval: 1h")
    got = [show(t) for t in fire_times(p, PARIS, paris(2026, 10, 25, 0, 30), math.inf, 4)]
    assert got == ["10-25 01:00+0200", "10-25 02:00+0200", "10-25 02:00+0100", "10-25 03:00+0100"]


DAILY = """
[jobdash]
timezone = "Europe/Paris"
[types.nightly]
command = ["true"]
schedule = "daily: 02:30"
"""


async def set_watermark(svc: Service, schedule_id: str, ts: float) -> None:
    """A poke of the store's table: a watermark moves back only so (the store's
    `record_ticks` only moves it forward)."""
    if svc.store.location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(svc.store.location, autocommit=True) as pg:
            pg.execute("UPDATE schedules SET last_fire = %s WHERE id = %s", (ts, schedule_id))
        return
    con = sqlite3.connect(svc.store.location)
    with con:
        con.execute("UPDATE schedules SET last_fire = ? WHERE id = ?", (ts, schedule_id))
    con.close()


async def scheduled_jobs(svc: Service, schedule_id: str) -> list[tuple[int, float]]:
    jobs = await svc.store.list_jobs(JobFilter(schedule_id=schedule_id, oldest_first=True))
    return [(j.id, j.fire_time or 0.0) for j in jobs]


async def test_daily_0230_paris_engine_runs_once_on_each_dst_day(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(DAILY), engine=False)
    sched = Scheduler(svc)
    await sched.sync()
    await svc.set_schedule_policy("nightly", overlap="queue")  # no agent: jobs stay queued
    # Spring forward: the engine is up through the night; it runs at 03:00 CEST, once.
    await set_watermark(svc, "nightly", paris(2026, 3, 29, 0))
    for h, m in ((1, 59), (3, 0), (3, 1), (3, 30), (3, 31), (4, 0)):
        await sched.run_once(now=paris(2026, 3, 29, h, m))
    jobs = await scheduled_jobs(svc, "nightly")
    assert [show(ft) for _, ft in jobs] == ["03-29 03:00+0200"]
    # Fall back: it runs at the first 02:30 (CEST), not again at the second (CET).
    await set_watermark(svc, "nightly", paris(2026, 10, 25, 0))
    for h, m, fold in ((2, 29, 0), (2, 30, 0), (2, 31, 0), (2, 29, 1), (2, 30, 1), (2, 31, 1)):
        await sched.run_once(now=paris(2026, 10, 25, h, m, fold=fold))
    jobs = (await scheduled_jobs(svc, "nightly"))[1:]
    assert [show(ft) for _, ft in jobs] == ["10-25 02:30+0200"]
    s = await svc.store.get_schedule("nightly")
    assert s.next_run is not None and show(s.next_run) == "10-26 02:30+0100"
    ticks = await svc.ticks("nightly")
    assert [(t.outcome, show(t.fire_time)) for t in ticks] == [
        ("ran", "10-25 02:30+0200"),
        ("ran", "03-29 03:00+0200"),
    ]
    await sched.stop()


# --------------------------------------------------------------------------- missed, catch-up

EVERY10 = """
[types.every10]
command = ["true"]
schedule = "interval: 10s"
"""


@pytest.mark.parametrize(("policy", "runs"), [("skip", []), ("once", [3]), ("all", [1, 2, 3])])
async def test_engine_down_across_three_fire_times(
    services: Open, write_config: Callable[[str], Path], policy: str, runs: list[int]
) -> None:
    svc = await services(write_config(EVERY10), engine=False)
    sched = Scheduler(svc)
    await sched.sync()
    await svc.set_schedule_policy("every10", catchup=policy)
    base = (time.time() // 10) * 10 - 100  # a fire time, 100 s ago
    await set_watermark(svc, "every10", base)
    # The engine was down from `base` until now = base + 36: fire times +10, +20, +30 missed.
    await sched.run_once(now=base + 36)
    ticks = sorted(await svc.ticks("every10"), key=lambda t: t.fire_time)
    assert [(t.fire_time - base, t.outcome) for t in ticks] == [
        (10, "missed"),
        (20, "missed"),
        (30, "missed"),
    ]
    jobs = await scheduled_jobs(svc, "every10")
    assert sorted(ft - base for _, ft in jobs) == [10 * n for n in runs]
    for t in ticks:
        n = int((t.fire_time - base) // 10)
        if n in runs:
            assert t.job_id is not None and f"caught up ({policy})" in t.detail
            job = await svc.store.get_job(t.job_id)
            assert (job.trigger, job.user, job.fire_time) == (
                Trigger.SCHEDULE,
                "scheduler",
                t.fire_time,
            )
        else:
            assert t.job_id is None
    # Back on time: the next fire time runs normally (overlap "queue" so the catch-up runs,
    # still queued here without an agent, don't make it skip).
    await svc.set_schedule_policy("every10", overlap="queue")
    await sched.run_once(now=base + 40.5)
    newest = (await svc.ticks("every10"))[0]
    assert (newest.fire_time - base, newest.outcome) == (40, "ran")
    assert newest.job_id is not None
    await sched.stop()


async def test_a_stop_lets_a_fire_under_way_record_its_tick(
    services: Open, write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (SIGTERM, the dashboard quitting) that comes while a fire time's job is being
    started waits for its tick: the job and its tick are recorded together, and no job of
    a fire time is left without one (a CI run once stopped three engines between them)."""
    svc = await services(write_config(EVERY10), engine=False)
    sched = Scheduler(svc, grace=1000)  # the due fire time is on time, however late the test
    await sched.sync()
    due = (time.time() // 10) * 10
    await set_watermark(svc, "every10", due - 10)
    submit = svc.submit_schedule
    started, go = asyncio.Event(), asyncio.Event()

    async def slow_submit(*args: Any) -> Job:
        job = await submit(*args)
        started.set()  # the job is in the store; its tick is still to come
        await go.wait()
        return job

    monkeypatch.setattr(svc, "submit_schedule", slow_submit)
    await sched.start()
    await asyncio.wait_for(started.wait(), 30)
    stopping = asyncio.ensure_future(sched.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()  # it waits for the tick
    go.set()
    await asyncio.wait_for(stopping, 30)
    (job_id, fire_time), *_ = await scheduled_jobs(svc, "every10")
    assert [(t.fire_time, t.outcome, t.job_id) for t in await svc.ticks("every10")] == [
        (fire_time, "ran", job_id)
    ]
    assert fire_time == due


async def test_overlap_skip_records_a_skipped_tick(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(EVERY10), engine=False)  # no agent: jobs stay queued
    sched = Scheduler(svc)
    await sched.sync()
    base = (time.time() // 10) * 10 - 100
    await set_watermark(svc, "every10", base)
    await sched.run_once(now=base + 10.5)
    await sched.run_once(now=base + 20.5)
    ticks = await svc.ticks("every10")
    assert [t.outcome for t in ticks] == ["skipped", "ran"]
    assert f"job {ticks[1].job_id} of this schedule still running" in ticks[0].detail


async def test_disabled_schedule_records_paused_ticks_and_enable_does_not_count_missed(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(EVERY10), engine=False)
    sched = Scheduler(svc)
    await sched.sync()
    base = (time.time() // 10) * 10 - 100
    await set_watermark(svc, "every10", base)
    await svc.disable("every10")
    await set_watermark(svc, "every10", base)
    await sched.run_once(now=base + 10.5)
    assert [t.outcome for t in await svc.ticks("every10")] == ["paused"]
    assert await scheduled_jobs(svc, "every10") == []
    await svc.enable("every10")  # the watermark moves to now: nothing counted as missed
    await sched.run_once()
    assert [t.outcome for t in await svc.ticks("every10")] == ["paused"]


async def test_a_schedule_table_names_its_own_zone_and_automatic_returns_to_it(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """`timezone` in a schedule table (what import-crontab makes of CRON_TZ) is that
    schedule's zone instead of the engine's default; an admin's zone is undone by
    "automatic" back to it. An unknown zone is refused at config time."""
    cfg = write_config(
        '[types.tokyo]\ncommand = ["true"]\n'
        'schedule = { planning = "cron: 0 9 * * 1-5", timezone = "Asia/Tokyo" }\n'
    )
    svc = await services(cfg, engine=False)
    assert svc.default_timezone != "Asia/Tokyo"
    await Scheduler(svc).sync()
    s = await svc.schedule("tokyo")
    assert (s.effective, s.source, s.timezone) == ("cron: 0 9 * * 1-5", "config", "Asia/Tokyo")
    assert s.next_run is not None
    assert datetime.fromtimestamp(s.next_run, ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "09:00"
    await svc.set_planning("tokyo", "daily: 10:00", "Europe/Paris")
    s = await svc.set_planning("tokyo", "automatic")
    assert (s.effective, s.source, s.timezone) == ("cron: 0 9 * * 1-5", "config", "Asia/Tokyo")
    with pytest.raises(ConfigError, match="unknown time zone"):
        parse_config(
            '[types.x]\ncommand = ["true"]\n'
            'schedule = { planning = "cron: @daily", timezone = "Mars/Base" }\n',
            "t",
        )


async def test_admin_changes_survive_restart_and_config_sync(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    cfg = write_config(EVERY10)
    svc = await services(cfg, engine=False)
    await Scheduler(svc).sync()
    s = await svc.set_planning("every10", "daily: mon,wed@09:00,17:00", "Europe/Paris")
    assert (s.effective, s.source, s.timezone) == (
        "daily: mon,wed@09:00,17:00",
        "admin",
        "Europe/Paris",
    )
    events = await svc.store.audit_events("schedule:every10")
    assert events[0].action == "edit" and "daily" in events[0].detail
    other = await services(cfg, engine=False)
    await Scheduler(other).sync()  # another engine starts with the same config
    s = await other.schedule("every10")
    assert (s.effective, s.source) == ("daily: mon,wed@09:00,17:00", "admin")
    assert s.next_run is not None
    assert datetime.fromtimestamp(s.next_run, PARIS).strftime("%a %H:%M") in {
        "Mon 09:00",
        "Mon 17:00",
        "Wed 09:00",
        "Wed 17:00",
    }
    s = await svc.set_planning("every10", "automatic")
    # It follows the config again: its planning, and its zone (not the admin's Paris).
    assert svc.default_timezone != "Europe/Paris"
    assert (s.effective, s.source, s.timezone) == ("interval: 10s", "config", svc.default_timezone)
    with pytest.raises(BadInput, match="expected 5 fields"):
        await svc.set_planning("every10", "cron: * *")
    preview = svc.next_fire_times("daily: 02:30", "Europe/Paris", 3)
    assert [d.strftime("%H:%M") for d in preview] in (["02:30"] * 3, ["03:00", "02:30", "02:30"])


async def test_non_admins_see_schedules_but_cannot_change_them(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    cfg = write_config(EVERY10)
    admin = await services(cfg, engine=False)
    await Scheduler(admin).sync()
    alice = await services(cfg, engine=False, user="alice")
    assert [s.id for s in await alice.schedules()] == ["every10"]
    for action in (
        alice.run_schedule_now("every10"),
        alice.disable("every10"),
        alice.set_planning("every10", "interval: 1m"),
    ):
        with pytest.raises(Refused, match="only admins"):
            await action
    job = await admin.run_schedule_now("every10")
    assert job.schedule_id == "every10" and job.status is JobStatus.QUEUED
    assert (await admin.schedule("every10")).last_job == job.id


async def test_lease_one_leader_and_takeover(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    cfg = write_config(EVERY10)
    a = Scheduler(await services(cfg, engine=False), lease=0.5, renew=0.1)
    b = Scheduler(await services(cfg, engine=False), lease=0.5, renew=0.1)
    assert await a.ensure_leader()
    assert not await b.ensure_leader()
    await a.stop()  # a clean stop hands the lease over at once
    assert await b.ensure_leader()
    b._renewed = -1e18  # b "hangs" past its lease (as if SIGSTOPped) …
    a.leader = False
    await asyncio.sleep(0.6)
    assert await a.ensure_leader()  # … and a takes over
    assert not await b.ensure_leader()


# --------------------------------------------------------------------------- real engines

ONE_SECOND = """
[types.beat]
command = ["true"]
schedule = "interval: 1s"
"""


def read_one(location: str, sql: str) -> Any:
    """The first row of a plain read of the store's tables (what no store method says)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg:
            try:
                return pg.execute(sql).fetchone()
            except psycopg.errors.UndefinedTable:  # the engines are still creating it
                return None
    if not Path(location).exists():
        return None
    con = sqlite3.connect(location)
    try:
        return con.execute(sql).fetchone()
    except sqlite3.OperationalError:  # no such table: the engines are still creating it
        return None
    finally:
        con.close()


def lease_owner(location: str) -> str:
    """Who holds the scheduler's lease."""
    row = read_one(location, "SELECT owner FROM leases WHERE name = 'scheduler'")
    assert row is not None
    return str(row[0])


def fired(location: str) -> int:
    row = read_one(location, "SELECT count(*) FROM jobs WHERE schedule_id = 'beat'")
    return int(row[0]) if row else 0


def wait_for_jobs(location: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while fired(location) < n:
        assert time.monotonic() < deadline, f"fewer than {n} jobs of 'beat' in {timeout:g}s"
        time.sleep(0.2)


def test_three_engines_one_job_per_fire_time(tmp_path: Path, store_location: str) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(ONE_SECOND)
    db = store_location
    env = dict(os.environ, JOBDASH_DB=db, JOBDASH_CONFIG=str(cfg))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "jobdash", "serve", "--slots", "2", "--name", f"e{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(3)
    ]
    try:
        wait_for_jobs(db, 4)  # (fire times, not fixed sleeps: engines start slowly under load)
        # Stop the leader (SIGTERM): it hands the lease over and another engine fires on.
        owner = lease_owner(db)
        pid = int(owner.split("/")[0].rsplit("-", 1)[1])
        leader = next(p for p in procs if p.pid == pid)
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=20) == 0
        before = fired(db)
        wait_for_jobs(db, before + 4)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)

    async def read() -> tuple[list[Job], list[Tick]]:
        store = await open_store(db)
        try:
            f = JobFilter(schedule_id="beat")
            return await store.list_jobs(f), await store.ticks("beat", limit=1_000_000)
        finally:
            await store.close()

    beat_jobs, beat_ticks = asyncio.run(read())
    jobs = sorted(
        ((j.id, j.fire_time, j.trigger, j.user) for j in beat_jobs), key=lambda j: j[1] or 0.0
    )
    ticks = sorted((t.fire_time, t.outcome, t.job_id) for t in beat_ticks)
    fire = [ft for _, ft, _, _ in jobs]
    assert len(fire) == len(set(fire))  # one job per fire time
    assert len(jobs) >= before + 4, jobs  # the others fired on after the leader left
    assert all(trig == "schedule" and user == "scheduler" for _, _, trig, user in jobs)
    # Every whole second from the first fire time to the last has a tick: no silent gap.
    tick_times = [ft for ft, _, _ in ticks]
    assert tick_times == [tick_times[0] + i for i in range(len(tick_times))]
    ran = {ft: job for ft, outcome, job in ticks if job is not None}
    assert ran == {ft: jid for jid, ft, _, _ in jobs}
    outcomes = {outcome for _, outcome, _ in ticks}
    assert outcomes <= {"ran", "missed", "skipped"}, ticks


def test_cli_schedules_and_bad_input(tmp_path: Path) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(
        EVERY10.replace(
            'schedule = "interval: 10s"',
            'schedule = { planning = "interval: 10s", report = { email = "oncall@example.com" } }',
        )
    )
    env = {"JOBDASH_DB": str(tmp_path / "cli.db"), "JOBDASH_CONFIG": str(cfg)}
    # An engine publishes the schedules; a short-lived serve is enough (it has once it
    # says it runs: its scheduler's first sync comes before).
    said = tmp_path / "serve.log"
    with said.open("wb") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "jobdash", "serve"],
            env=dict(os.environ, **env),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    deadline = time.monotonic() + 30
    while "slots on" not in said.read_text() and p.poll() is None:
        assert time.monotonic() < deadline, said.read_text()
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    r = run_cli("schedules", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert '"id": "every10"' in r.stdout
    r = run_cli("schedule", "show", "every10", env=env)
    assert r.returncode == 0, r.stderr
    assert "reports to: oncall@example.com (and the type's recipients)" in r.stdout
    r = run_cli("schedules", env=dict(env, COLUMNS="80"))
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()[:2]
    assert "TYPE" not in header  # named after its type: the column would repeat the id
    assert "every10" in row and "interval: 10s" in row  # the planning is not cut
    r = run_cli("schedule", "set", "every10", "--cron", "0 3 * *", env=env)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "expected 5 fields" in r.stderr
    r = run_cli("schedule", "set", "every10", "--every", "5m", "--tz", "Mars/Base", env=env)
    assert r.returncode == 2 and "unknown time zone" in r.stderr
    r = run_cli("schedule", "run", "nope", env=env)
    assert r.returncode == 2 and "schedule run: no schedule 'nope'" in r.stderr
    if getpass.getuser() == "root":  # the default admins
        r = run_cli(
            "schedule",
            "set",
            "every10",
            "--daily",
            "mon,wed@09:00,17:00",
            "--tz",
            "Europe/Paris",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        assert "daily: mon,wed@09:00,17:00 (Europe/Paris)" in r.stdout
        assert r.stdout.count("next:") == 5
        # Marked in words: a trailing `*` read as a sixth field of a cron line.
        r = run_cli("schedules", env=dict(env, COLUMNS="120"))
        [row] = [line for line in r.stdout.splitlines() if "every10" in line]
        assert "daily: mon,wed@09:00,17:00 (admin)" in row and "*" not in row, row
        assert "(admin): changed at run time by an admin" in r.stderr
        r = run_cli("schedule", "set", "every10", "--automatic", env=env)
        assert r.returncode == 0, r.stderr
        r = run_cli("schedules", "--json", env=env)
        [s] = json.loads(r.stdout)
        assert (s["source"], s["timezone"]) == ("config", local_zone_name()), s
        r = run_cli("schedule", "disable", "every10", env=env)
        assert r.returncode == 0 and "disabled" in r.stdout
        r = run_cli("schedule", "show", "every10", env=env)
        assert r.returncode == 0 and "state: ○ disabled (paused" in r.stdout


async def test_config_declares_overlap_and_catch_up_an_admin_override_stays(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    def config(overlap: str, catchup: str) -> Path:
        return write_config(
            "[types.nightly]\n"
            'command = ["true"]\n'
            f'schedule = {{ planning = "cron: 0 3 * * *", overlap = "{overlap}", '
            f'catchup = "{catchup}", catchup_bound = "6h" }}\n'
        )

    svc = await services(config("queue", "all"), engine=False)
    await Scheduler(svc).sync()
    s = await svc.schedule("nightly")
    assert (s.effective, s.overlap, s.catchup, s.catchup_bound) == (
        "cron: 0 3 * * *",
        "queue",
        "all",
        6 * 3600,
    )
    # The config changes: the schedule follows it.
    svc2 = await services(config("skip", "skip"), engine=False)
    await Scheduler(svc2).sync()
    s = await svc2.schedule("nightly")
    assert (s.overlap, s.catchup) == ("skip", "skip")
    # An admin sets a policy at run time: a later config change leaves it alone.
    await svc2.set_schedule_policy("nightly", overlap="queue")
    svc3 = await services(config("skip", "once"), engine=False)
    await Scheduler(svc3).sync()
    s = await svc3.schedule("nightly")
    assert (s.overlap, s.catchup) == ("queue", "skip")


async def test_a_schedules_runs_report_to_its_recipients_besides_the_types(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    cfg = write_config(
        "[types.nightly]\n"
        'command = ["true"]\n'
        'report = { email = "owner@example.com" }\n'
        'schedule = { planning = "cron: 0 3 * * *", report = { email = ["oncall@example.com", '
        '"owner@example.com"], webhook = "https://hooks.example.com/x" } }\n'
    )
    svc = await services(cfg, engine=False)
    sched = Scheduler(svc)
    await sched.sync()
    assert await sched.ensure_leader()
    tick = await sched.fire(await svc.store.get_schedule("nightly"), 1_800_000_000.0)
    assert tick.outcome == "ran" and tick.job_id is not None
    both = {
        "email": ["owner@example.com", "oncall@example.com"],
        "webhook": ["https://hooks.example.com/x"],
    }
    state = await svc.store.report_state(tick.job_id)
    assert state is not None and state["recipients"] == both
    by_hand = await svc.run_schedule_now("nightly")  # also a run of the schedule
    state = await svc.store.report_state(by_hand.id)
    assert state is not None and state["recipients"] == both
    manual = await svc.submit("nightly")  # not a run of the schedule: the type's only
    state = await svc.store.report_state(manual.id)
    assert state is not None
    assert state["recipients"] == {"email": ["owner@example.com"], "webhook": []}
