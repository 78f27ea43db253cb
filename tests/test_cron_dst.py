"""Cron and daily plannings across daylight-saving changes: Debian cron's rule.

- Minute and hour both explicit (neither starts with `*`), and `daily:`: wall-clock times. A
  time in a repeated hour runs once, at its first occurrence; a time skipped by the clocks
  going forward runs once, at the first instant after the gap.
- Minute or hour starting with `*`: the cadence is kept in real time. Times in both copies
  of a repeated hour run; times that do not exist are skipped.

The table below runs explicit, list, range, step and wildcard fields against both changes
of five zones, comparing the scheduler's fire times with an oracle that applies the rule
to every minute of the night by brute force (its own arithmetic, not jobdash's or
cronsim's). The literal cases after it are the ones of the issue and the README.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobdash.core.planning import fire_times, next_fire, parse_planning

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Change:
    zone: str
    at: datetime  # the instant of the change (UTC)
    forward: bool

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def hour(self) -> int:
        """The local hour the change skips (forward) or repeats (back)."""
        before = (self.at - MINUTE).astimezone(self.tz)
        after = self.at.astimezone(self.tz)
        return (before.hour + 1) % 24 if self.forward else after.hour

    @property
    def day(self) -> date:
        return (self.at - MINUTE).astimezone(self.tz).date()

    def __str__(self) -> str:
        return f"{self.zone}-{'forward' if self.forward else 'back'}-{self.day}"


def changes(zone: str, year: int) -> list[Change]:
    """The zone's offset changes in a year, found by stepping through it."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    offset = t.astimezone(tz).utcoffset()
    while t.year == year:
        now = t.astimezone(tz).utcoffset()
        if now != offset:
            assert now is not None and offset is not None
            out.append(Change(zone, t, now > offset))
            offset = now
        t += 30 * MINUTE
    assert len(out) == 2, (zone, year, out)
    return out


CHANGES = [
    *changes("Europe/Paris", 2026),  # 02:00 → 03:00 on 03-29; 03:00 → 02:00 on 10-25
    *changes("America/New_York", 2026),  # 02:00 → 03:00 on 03-08; 02:00 → 01:00 on 11-01
    *changes("Australia/Sydney", 2026),  # 03:00 → 02:00 on 04-05; 02:00 → 03:00 on 10-04
    *changes("Asia/Hebron", 2022),  # 00:00 → 01:00 on 03-27 (midnight); 02:00 → 01:00 on 10-29
    *changes("Europe/Riga", 2026),  # 03:00 → 04:00 on 03-29; 04:00 → 03:00 on 10-25
    # Changes off the whole hour, and midnight in a gap: where cronsim loops forever or
    # gives a time that does not match.
    *changes("America/St_Johns", 2001),  # 00:01 → 01:01 on 04-01; 00:01 → 23:01 on 10-28
    *changes("America/Havana", 2024),  # 00:00 → 01:00 on 03-10; 01:00 → 00:00 on 11-03
]


@dataclass(frozen=True)
class Row:
    """A planning, what its minute and hour fields mean, and whether the rule reads it as
    wall-clock times (explicit fields) or as a cadence (a field starting with `*`)."""

    kind: str
    planning: str
    minutes: frozenset[int]
    hours: frozenset[int]
    wall_clock: bool


def rows(h: int) -> list[Row]:
    """The table's plannings around the affected hour `h`."""
    near = sorted({(h - 1) % 24, h, (h + 1) % 24})
    lo, hi = max(h - 1, 0), min(h + 1, 23)
    every = frozenset(range(24))
    hours_list = ",".join(map(str, near))
    return [
        Row("explicit", f"cron: 30 {h} * * *", frozenset({30}), frozenset({h}), True),
        Row("explicit :00", f"cron: 0 {h} * * *", frozenset({0}), frozenset({h}), True),
        Row("daily", f"daily: {h:02d}:30", frozenset({30}), frozenset({h}), True),
        Row(
            "list",
            f"cron: 0,30 {hours_list} * * *",
            frozenset({0, 30}),
            frozenset(near),
            True,
        ),
        Row("range", f"cron: 15 {lo}-{hi} * * *", frozenset({15}), frozenset(range(lo, hi + 1)), True),
        Row("step", f"cron: 0-59/20 {h} * * *", frozenset({0, 20, 40}), frozenset({h}), True),
        Row("wildcard minute", f"cron: */20 {h} * * *", frozenset({0, 20, 40}), frozenset({h}), False),
        Row("wildcard hour", "cron: 45 * * * *", frozenset({45}), every, False),
        Row("wildcard hour step", "cron: 10 */1 * * *", frozenset({10}), every, False),
        Row("wildcards", "cron: */15 * * * *", frozenset({0, 15, 30, 45}), every, False),
        Row("midnight", "cron: 0 0 * * *", frozenset({0}), frozenset({0}), True),
    ]  # fmt: skip


def oracle(row: Row, tz: ZoneInfo, start: datetime, end: datetime) -> list[float]:
    """The rule, applied by brute force to the fire times in (start, end]."""
    if not row.wall_clock:
        out, t = [], start.replace(second=0, microsecond=0) + MINUTE
        while t <= end:
            wall = t.astimezone(tz)
            if wall.minute in row.minutes and wall.hour in row.hours:
                out.append(t.timestamp())
            t += MINUTE
        return out
    times: set[float] = set()
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        for h in row.hours:
            for m in row.minutes:
                naive = datetime(day.year, day.month, day.day, h, m)
                first = naive.replace(tzinfo=tz, fold=0)
                if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
                    times.add(first.timestamp())  # exists: its first occurrence
                else:  # in a gap: the first instant whose offset is the new one
                    t = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
                    offset = t.astimezone(tz).utcoffset()
                    while t.astimezone(tz).utcoffset() == offset:
                        t += MINUTE
                    times.add(t.timestamp())
        day += timedelta(days=1)
    return sorted(t for t in times if start.timestamp() < t <= end.timestamp())


CASES = [(c, row) for c in CHANGES for row in rows(c.hour)]


@pytest.mark.parametrize(("change", "row"), CASES, ids=[f"{c}-{r.kind}" for c, r in CASES])
def test_dst_table(change: Change, row: Row) -> None:
    tz = change.tz
    start = change.at - timedelta(hours=30)
    end = change.at + timedelta(hours=30)
    p = parse_planning(row.planning)
    assert all(spec.wall_clock == row.wall_clock for spec in p.specs)
    want = oracle(row, tz, start, end)
    got = list(fire_times(p, tz, start.timestamp(), end.timestamp()))
    show = lambda ts: [datetime.fromtimestamp(t, tz).strftime("%m-%d %H:%M%z") for t in ts]  # noqa: E731
    assert show(got) == show(want)
    # From any start (the last second before the change too), the next one is the same.
    probes = [change.at - timedelta(seconds=1), change.at, change.at + timedelta(seconds=1)]
    probes += [start + k * timedelta(minutes=37) for k in range(100)]
    for probe in probes:
        nxt = next_fire(p, tz, probe.timestamp())
        expect = next((t for t in want if t > probe.timestamp()), None)
        if expect is not None:
            assert nxt == expect, f"after {probe.astimezone(tz)}"


# --------------------------------------------------------------------------- literal cases


def fires(planning: str, zone: str, start: str, count: int) -> list[str]:
    tz = ZoneInfo(zone)
    after = datetime.fromisoformat(start).replace(tzinfo=tz).timestamp()
    p = parse_planning(planning)
    return [
        datetime.fromtimestamp(t, tz).isoformat() for t in fire_times(p, tz, after, math.inf, count)
    ]


def test_wall_clock_time_in_the_gap_runs_at_its_end_and_once_when_repeated() -> None:
    assert fires("cron: 30 2 * * *", "Europe/Paris", "2026-03-28T12:00", 2) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    assert fires("cron: 30 2 * * *", "Europe/Paris", "2026-10-24T12:00", 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    assert fires("cron: 30 1,2 * * *", "Europe/Paris", "2026-03-28T12:00", 3) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T01:30:00+02:00",
    ]


def test_a_cadence_keeps_running_through_the_repeated_hour() -> None:
    got = fires("cron: */15 * * * *", "Europe/Paris", "2026-10-25T01:50", 10)
    assert got == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:15:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:45:00+01:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:15:00+01:00",
    ]
    assert fires("cron: */30 * * * *", "Europe/Paris", "2026-03-29T01:00", 3) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00 and 02:30 do not exist
        "2026-03-29T03:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("planning", "zone", "day_before"),
    [
        ("cron: 30 0 * * *", "Europe/Paris", "2026-03-28"),
        ("daily: 00:30", "Europe/Paris", "2026-03-28"),
        ("daily: 00:00", "America/New_York", "2026-03-07"),
        ("cron: 59 0 * * *", "Australia/Sydney", "2026-10-03"),
        ("cron: 0 0 * * *", "Europe/Warsaw", "2017-03-25"),
    ],
)
def test_times_after_midnight_run_on_each_day_of_a_spring_change(
    planning: str, zone: str, day_before: str
) -> None:
    """APScheduler issue 606: the day after the change used to be skipped."""
    got = [d[:10] for d in fires(planning, zone, f"{day_before}T12:00", 4)]
    first = date.fromisoformat(day_before) + timedelta(days=1)
    assert got == [str(first + timedelta(days=k)) for k in range(4)]


def test_midnight_in_a_gap_runs_at_the_end_of_the_gap() -> None:
    """Asia/Hebron went from 00:00 to 01:00 on 2022-03-27; a cadence skips 00:00."""
    assert fires("cron: 0 0 * * *", "Asia/Hebron", "2022-03-26T12:00", 2) == [
        "2022-03-27T01:00:00+03:00",
        "2022-03-28T00:00:00+03:00",
    ]
    assert fires("cron: */30 0 * * *", "Asia/Hebron", "2022-03-26T12:00", 2) == [
        "2022-03-28T00:00:00+03:00",  # no 00:xx on 03-27: a cadence skips it
        "2022-03-28T00:30:00+03:00",
    ]
    # Havana went from 00:00 to 01:00 on Sunday 2024-03-10 (cronsim gives 01:00).
    assert fires("cron: 0 */2 * * sun", "America/Havana", "2024-03-09T21:00", 2) == [
        "2024-03-10T02:00:00-04:00",  # not 01:00, the instant after the gap: an odd hour
        "2024-03-10T04:00:00-04:00",
    ]


def test_riga_gap_between_listed_hours() -> None:
    """cronsim's own case: Riga jumps from 03:00 to 04:00; 03:30 runs at 04:00."""
    assert fires("cron: 30 1,2,3,4,5 * * *", "Europe/Riga", "2026-03-29T00:00", 5) == [
        "2026-03-29T01:30:00+02:00",
        "2026-03-29T02:30:00+02:00",
        "2026-03-29T04:00:00+03:00",
        "2026-03-29T04:30:00+03:00",
        "2026-03-29T05:30:00+03:00",
    ]


def test_clocks_going_back_at_one_minute_past_midnight() -> None:
    """America/St_Johns, 2001-10-28 00:01 → 2001-10-27 23:01 (cronsim never returns)."""
    assert fires("cron: 30 */2 * * *", "America/St_Johns", "2001-10-27T21:00", 3) == [
        "2001-10-27T22:30:00-02:30",
        "2001-10-28T00:30:00-03:30",  # 23:30 (again) is an odd hour
        "2001-10-28T02:30:00-03:30",
    ]


def test_the_last_second_before_a_gap_keeps_the_gap_days_run() -> None:
    paris = ZoneInfo("Europe/Paris")
    last = datetime(2026, 3, 29, 1, 59, 59, tzinfo=paris).timestamp()
    for planning in ("daily: 02:30", "cron: 30 2 * * *", "cron: 0 2 * * *"):
        got = next_fire(parse_planning(planning), paris, last)
        assert got is not None
        assert datetime.fromtimestamp(got, paris).isoformat() == "2026-03-29T03:00:00+02:00"
