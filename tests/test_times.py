"""One time rule everywhere: the viewer's zone (TZ), labelled; CSV in ISO 8601 with offset.

Two viewers, in Paris and in New York, read the same store through the real command line:
each sees the same instants in their own zone, with its abbreviation."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobdash.core.scheduler import Scheduler
from jobdash.core.service import Service
from jobdash.core.store.engine_records import Advance, TickRecord
from tests.conftest import run_cli

TOKYO = """
[jobdash]
timezone = "Asia/Tokyo"

[types.tokyo]
command = ["true"]
schedule = "daily: 09:00"
"""
# A job that ran on 2026-01-15 from 12:00:00 to 12:01:05 UTC, started by the schedule's
# fire time of 2026-01-16 09:00 JST (00:00 UTC).
STARTED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
FIRED = datetime(2026, 1, 16, 0, 0, tzinfo=UTC).timestamp()


async def fill_store(svc: Service) -> int:
    """The schedules published, one job of the schedule with fixed times (plain SQL: tests
    may touch the store directly), and the tick that started it."""
    await Scheduler(svc).sync()
    job = await svc.submit("tokyo")
    await svc.store.record_ticks(
        "tokyo", [TickRecord(FIRED, "ran", job.id)], Advance(FIRED, None, job.id, FIRED)
    )
    con = sqlite3.connect(svc.store.location)  # SQLite poke: fixed past times
    with con:
        con.execute(
            "UPDATE jobs SET status = 'succeeded', created = ?, started = ?, finished = ?, "
            "succeeded = 1, pending = 0 WHERE id = ?",
            (STARTED - 5, STARTED, STARTED + 65, job.id),
        )
        con.execute("UPDATE tasks SET status = 'succeeded' WHERE job_id = ?", (job.id,))
    con.close()
    return job.id


def build_store(db: Path, cfg: Path) -> int:
    async def go() -> int:
        svc = await Service.open(db=str(db), config=str(cfg), user="root")
        try:
            return await fill_store(svc)
        finally:
            await svc.close()

    return asyncio.run(go())


def next_nine_jst() -> datetime:
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine > now else nine + timedelta(days=1)


VIEWERS = [
    # zone, its abbreviation in January, STARTED and FIRED there, the offset in January
    ("Europe/Paris", "CET", "2026-01-15 13:00", "2026-01-16 01:00", "+01:00"),
    ("America/New_York", "EST", "2026-01-15 07:00", "2026-01-15 19:00", "-05:00"),
]


def labelled(line: str, value: str, january: str, now_abbr: str) -> bool:
    """`value` is on the line, labelled: by the header's zone when it is January's, else
    by its own abbreviation (the other side of a DST change)."""
    return (value + " " + january) in line if now_abbr != january else value in line


def cli_clock(at: datetime, now_abbr: str) -> str:
    """How the command line shows `at` (an aware datetime in the viewer's zone) in a column
    labelled `now_abbr`: today's with seconds, another day's with the date."""
    today = datetime.now(at.tzinfo).date()
    text = f"{at:%H:%M:%S}" if at.date() == today else f"{at:%Y-%m-%d %H:%M}"
    return text if at.tzname() == now_abbr else f"{text} {at.tzname()}"


def test_two_viewers_see_the_same_instants_each_in_their_zone_labelled(tmp_path: Path) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(TOKYO)
    db = tmp_path / "times.db"
    job_id = build_store(db, cfg)
    nxt = next_nine_jst()
    for zone, abbr, started, fired, offset in VIEWERS:
        now_abbr = datetime.now(ZoneInfo(zone)).tzname()
        assert now_abbr
        env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(cfg), "TZ": zone, "COLUMNS": "200"}

        r = run_cli("jobs", env=env)
        assert r.returncode == 0, r.stderr
        header, row = r.stdout.splitlines()[:2]
        assert f"STARTED ({now_abbr})" in header, (zone, header)
        assert labelled(row, started, abbr, now_abbr), (zone, row)

        r = run_cli("show", str(job_id), env=env)
        assert r.returncode == 0, r.stderr
        line = next(ln for ln in r.stdout.splitlines() if "started:" in ln)
        assert f"{started} {abbr}" in line, (zone, line)

        r = run_cli("export", "--format", "csv", env=env)
        assert r.returncode == 0, r.stderr
        (rec,) = csv.DictReader(io.StringIO(r.stdout))
        day, hm = started.split()
        assert rec["startDate"] == f"{day}T{hm}:00{offset}", rec
        end = datetime.fromisoformat(rec["endDate"])
        assert end.utcoffset() == datetime.fromisoformat(rec["startDate"]).utcoffset()
        assert end.timestamp() == STARTED + 65

        r = run_cli("schedules", env=env)
        assert r.returncode == 0, r.stderr
        header, row = r.stdout.splitlines()[:2]
        assert f"LAST RUN ({now_abbr})" in header and f"NEXT RUN ({now_abbr})" in header
        assert "Asia/Tokyo" in row  # the schedule's own zone, for its planning
        assert labelled(row, fired, abbr, now_abbr), (zone, row)
        local_next = nxt.astimezone(ZoneInfo(zone))
        assert row.rstrip().endswith(cli_clock(local_next, now_abbr)), (zone, row)
        assert "JST" not in row  # no time in the schedule's zone without a column saying so

        r = run_cli("schedule", "show", "tokyo", env=env)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        last = next(ln for ln in lines if "last run:" in ln)
        assert f"{fired} {abbr}" in last, (zone, last)
        nxt_line = next(ln for ln in lines if "next run:" in ln)
        assert cli_clock(local_next, "") in nxt_line, (zone, nxt_line)  # always labelled
        assert "09:00 JST" in nxt_line  # and when that is in the schedule's own zone
        header = next(ln for ln in lines if "FIRE TIME" in ln)
        assert f"FIRE TIME ({now_abbr})" in header, (zone, header)
        tick = lines[lines.index(header) + 1]
        assert labelled(tick, fired, abbr, now_abbr) and "ran" in tick, (zone, tick)


def test_the_schedules_default_zone_is_the_machines_as_tz_names_it(tmp_path: Path) -> None:
    """TZ as a zone file's path (as some systems set it) names the zone: schedules follow
    it (tzlocal), rather than falling back to the machine's configuration."""
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(TOKYO.replace('timezone = "Asia/Tokyo"', ""))
    paris = Path("/usr/share/zoneinfo/Europe/Paris")
    if not paris.exists():
        pytest.skip("no system zone files here to point TZ at")
    db = tmp_path / "tz.db"
    env = dict(os.environ, JOBDASH_DB=str(db), JOBDASH_CONFIG=str(cfg), TZ=str(paris))
    p = subprocess.Popen(
        [sys.executable, "-m", "jobdash", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            r = run_cli("schedules", "--json", env=env)
            if r.returncode == 0 and json.loads(r.stdout or "[]"):
                break
            assert time.monotonic() < deadline, r.stderr
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    (s,) = json.loads(r.stdout)
    assert s["timezone"] == "Europe/Paris"


def test_preview_of_a_short_interval_shows_seconds(tmp_path: Path) -> None:
    cfg = tmp_path / "jobdash.toml"
    cfg.write_text(TOKYO)
    db = tmp_path / "preview.db"
    build_store(db, cfg)
    env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(cfg), "TZ": "Europe/Paris"}
    r = run_cli("schedule", "set", "tokyo", "--every", "3s", env=env)
    assert r.returncode == 0, r.stderr
    shown = [ln.split("next:", 1)[1].strip() for ln in r.stdout.splitlines() if "next:" in ln]
    assert len(shown) == 5 and len(set(shown)) == 5, shown  # five different fire times
    clocks = [re.search(r"(\d\d):(\d\d):(\d\d)", s) for s in shown]
    assert all(clocks), shown
    seconds = [int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) for m in clocks if m]
    assert all((b - a) % 86400 == 3 for a, b in pairwise(seconds))
    r = run_cli("schedule", "set", "tokyo", "--every", "5m", env=env)
    assert r.returncode == 0, r.stderr
    shown = [ln for ln in r.stdout.splitlines() if "next:" in ln]
    assert len(shown) == 5 and not any(re.search(r"\d\d:\d\d:\d\d", s) for s in shown), shown
