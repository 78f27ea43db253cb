"""Plannings: when a schedule fires, written as one line of text, and their fire times.

Grammar (the text stored in the config's `schedule = "…"` and in the schedules table):

    automatic                       the job type's default planning (from the config)
    disabled                        manual runs only
    cron: 0 3 * * *                 five fields: minute hour day-of-month month day-of-week
                                    (crontab(5): day of week 0 or 7 = Sunday, names ok;
                                    also @yearly @monthly @weekly @daily @hourly, alone too)
    interval: 30s | 5m | 1h30m      a fixed period of real time, aligned on whole periods
                                    since 2000-01-01 00:00 in the schedule's time zone
    daily: 09:00,17:30              every day at those wall-clock times
    daily: mon,wed@09:00,17:00      those week days (mon..sun, ranges like mon-fri) at those times
    once: 2026-12-01T09:00          one run at that wall-clock time

Cron and daily plannings are read and computed by `jobdash.core.cron` (crontab(5) and
Debian cron's daylight-saving rule; a daily planning is one cron expression per time of
day). APScheduler 3.11's IntervalTrigger and DateTrigger do the arithmetic of interval and
once plannings. The wall-clock times (daily, once, and cron whose minute and hour fields
do not start with `*`) follow one rule across daylight-saving changes:

- a wall-clock time that does not exist (skipped by a spring-forward change) fires once, at
  the first instant after the gap (02:30 Europe/Paris on 2026-03-29 fires at 03:00 CEST);
- a wall-clock time that happens twice (fall-back change) fires once, at its first
  occurrence (02:30 CEST on 2026-10-25, not again at 02:30 CET).

A cron expression whose minute or hour field starts with `*` keeps its cadence in real
time instead (both copies of a repeated hour; times in a gap skipped), and interval
plannings count real time: neither is moved by DST changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobdash.core.cron import (
    ALIASES,
    CronError,
    CronSpec,
    gap_end,
    next_after,
    parse_cron,
    wall_exists,
)
from jobdash.core.limits import MAX_DURATION, MAX_DURATION_TEXT, PREVIEW_MAX
from jobdash.core.model import Report
from jobdash.core.values import unit_seconds

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

KINDS = ("automatic", "disabled", "cron", "interval", "daily", "once")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_INTERVAL = 0.1  # seconds
ONCE_YEARS = (1970, 9998)  # a `once` time, in any zone, stays within what datetime can hold
INTERVAL_ANCHOR = datetime(2000, 1, 1)  # wall-clock start of interval alignment, in the tz
HINT = (
    'a planning like "cron: 0 3 * * *", "interval: 5m", "daily: mon,wed@09:00,17:00", '
    '"once: 2026-12-01T09:00", "disabled" or "automatic"'
)
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\Z")
_US = timedelta(microseconds=1)


class PlanningError(ValueError):
    """A planning that does not parse; the message says what is wrong and shows the grammar."""


@dataclass(frozen=True)
class Planning:
    """A schedule's planning, parsed: its kind and what that kind needs."""

    kind: str
    text: str  # canonical text, e.g. "interval: 5m"
    cron: str = ""
    seconds: float = 0.0
    days: str = ""  # daily: week days (mon..sun, ranges), "" = every day
    times: tuple[tuple[int, int], ...] = ()
    at: datetime | None = None  # once: naive wall-clock, or aware when an offset was given
    specs: tuple[CronSpec, ...] = ()  # cron: the expression; daily: one per time of day

    def __str__(self) -> str:
        return self.text


@dataclass
class Schedule:
    """A schedule row as the service shows it."""

    id: str
    type: str
    params: dict[str, str]
    planning: str  # what the admin or the config set (may be "automatic")
    effective: str  # "automatic" resolved to the type's default
    timezone: str
    enabled: bool
    overlap: str  # skip | queue
    catchup: str  # skip | once | all
    catchup_bound: float | None
    next_run: float | None
    last_job: int | None
    last_status: str | None
    last_run: float | None
    last_fire: float | None
    source: str  # config | admin (an admin override survives config syncs)
    config_planning: str | None
    updated: float
    rev: int = 0
    report: Report = field(default_factory=Report)  # recipients of its runs' reports
    # Its latest tick (by fire time): what became of the last fire time.
    last_outcome: str | None = None
    last_detail: str = ""
    last_tick: float | None = None
    # config | admin: recipients an admin set at run time survive config syncs.
    report_source: str = "config"

    @property
    def state(self) -> str:
        """What the schedule does now, in a word, as every view shows it:

        - "disabled": paused by an admin; its fire times are recorded as `paused`;
        - "manual only": its planning never fires (`disabled`), so it runs only by hand;
        - "error": its latest fire time could not start a job (`error` says why);
        - "enabled": it fires on its planning."""
        if not self.enabled:
            return "disabled"
        if self.effective == "disabled":
            return "manual only"
        if self.last_outcome == "error":
            return "error"
        return "enabled"

    @property
    def error(self) -> str:
        """Why its latest fire failed ("" unless the state is "error")."""
        return self.last_detail if self.state == "error" else ""

    @property
    def state_text(self) -> str:
        """The state with its glyph: "● enabled", "✘ error"."""
        return f"{STATE_GLYPHS[self.state]} {self.state}"


STATE_GLYPHS = {"enabled": "●", "disabled": "○", "manual only": "○", "error": "✘"}
TICK_GLYPHS = {"ran": "▶", "skipped": "↷", "missed": "⚠", "paused": "⏸", "error": "✘"}


@dataclass
class Tick:
    """One fire time of a schedule and what became of it."""

    id: int
    schedule_id: str
    fire_time: float
    outcome: str  # ran, skipped, missed, paused, error
    job_id: int | None
    ts: float
    detail: str = ""

    @property
    def outcome_text(self) -> str:
        """The outcome with its glyph: "▶ ran", "✘ error"."""
        return f"{TICK_GLYPHS.get(self.outcome, '?')} {self.outcome}"


# ------------------------------------------------------------------------- parsing


def parse_interval(text: str) -> float:
    """The seconds of an interval planning's value: units required ("30s", "1h30m")."""
    t = text.strip().lower().replace(" ", "")
    total = unit_seconds(t) if t else None
    if total is None:
        raise PlanningError(f'interval: expected a period like "30s", "5m", "1h30m", got {text!r}')
    if total < MIN_INTERVAL:
        raise PlanningError(f"interval: must be at least {MIN_INTERVAL:g}s, got {text!r}")
    if total > MAX_DURATION:  # also inf: it would never fire, and overflows the clock
        raise PlanningError(f"interval: must be at most {MAX_DURATION_TEXT}, got {text!r}")
    return total


def format_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _days(text: str) -> str:
    """The week days of a daily planning, checked: names (mon..sun) and ranges of them."""
    out: list[str] = []
    for part in text.lower().split(","):
        part = part.strip()
        a, dash, b = part.partition("-")
        for d in (a, b) if dash else (a,):
            if d not in WEEKDAYS:
                raise PlanningError(
                    f"daily: unknown week day {d!r} (mon, tue, wed, thu, fri, sat, sun)"
                )
        if dash and WEEKDAYS.index(b) < WEEKDAYS.index(a):
            raise PlanningError(
                f"daily: week days {part!r} go backwards (weeks run mon..sun; "
                f"write {a}-sun,{'mon' if b == 'mon' else 'mon-' + b})"
            )
        out.append(f"{a}-{b}" if dash else a)
    return ",".join(out)


def parse_planning(text: str) -> Planning:
    """Parse one planning line; raise PlanningError with a precise message."""
    raw = text.strip()
    if raw.startswith("@"):
        raw = f"cron: {raw}"  # @daily and the other cron aliases are plannings alone too
    kind, colon, rest = raw.partition(":")
    kind = kind.strip().lower()
    rest = rest.strip()
    if kind in ("automatic", "disabled"):
        if colon:
            raise PlanningError(f"{kind} takes nothing after it, got {raw!r}")
        return Planning(kind, kind)
    if kind not in KINDS or not colon:
        if len(raw.split()) == 5:
            raise PlanningError(f'unknown planning {raw!r}: a cron expression is "cron: {raw}"')
        raise PlanningError(f"unknown planning {raw!r}: expected {HINT}")
    if not rest:
        raise PlanningError(f"{kind}: missing its value; expected {HINT}")
    if kind == "cron":
        expr = " ".join(rest.split())
        if expr.lower() in ALIASES:
            expr = expr.lower()
        try:
            spec = parse_cron(expr)
        except CronError as e:
            raise PlanningError(f"cron: {e}") from None
        return Planning("cron", f"cron: {expr}", cron=expr, specs=(spec,))
    if kind == "interval":
        seconds = parse_interval(rest)
        return Planning("interval", f"interval: {format_seconds(seconds)}", seconds=seconds)
    if kind == "daily":
        days_text, at, times_text = rest.rpartition("@")
        days = _days(days_text) if at else ""
        if at and not days_text.strip():
            raise PlanningError(f"daily: missing week days before '@' in {rest!r}")
        times: list[tuple[int, int]] = []
        for part in times_text.split(","):
            m = _TIME.match(part.strip())
            if m is None:
                raise PlanningError(f"daily: bad time {part.strip()!r} (HH:MM, 24-hour clock)")
            hm = (int(m.group(1)), int(m.group(2)))
            if hm not in times:
                times.append(hm)
        times.sort()
        shown = ",".join(f"{h:02d}:{m:02d}" for h, m in times)
        return Planning(
            "daily",
            f"daily: {days}@{shown}" if days else f"daily: {shown}",
            days=days,
            times=tuple(times),
            specs=tuple(parse_cron(f"{m} {h} * * {days or '*'}") for h, m in times),
        )
    try:
        at_time = datetime.fromisoformat(rest)
    except ValueError:
        raise PlanningError(
            f"once: expected a date and time like 2026-12-01T09:00, got {rest!r}"
        ) from None
    if not ONCE_YEARS[0] <= at_time.year <= ONCE_YEARS[1]:  # near year 1 or 9999 zones overflow
        raise PlanningError(
            f"once: the year must be from {ONCE_YEARS[0]} to {ONCE_YEARS[1]}, got {rest!r}"
        )
    return Planning("once", f"once: {at_time.isoformat(timespec='minutes')}", at=at_time)


def week_days(p: Planning) -> set[str]:
    """The week days (mon..sun) a daily planning names; none when it runs every day."""
    if p.kind != "daily" or not p.days:
        return set()
    return {WEEKDAYS[(d - 1) % 7] for d in p.specs[0].weekdays}


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanningError(f'unknown time zone {name!r} (e.g. "Europe/Paris", "UTC")') from None


# ------------------------------------------------------------------------- fire times


def triggers(p: Planning, tz: tzinfo) -> list[BaseTrigger]:
    """The APScheduler triggers of an interval or once planning (cron and daily plannings
    are computed by `jobdash.core.cron`). APScheduler is imported here, when a fire time
    is computed, so that reading a schedule (`jobdash schedules`) does not load it."""
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if p.kind == "interval":
        return [
            IntervalTrigger(
                seconds=p.seconds, start_date=INTERVAL_ANCHOR.replace(tzinfo=tz), timezone=tz
            )
        ]
    if p.kind == "once":
        assert p.at is not None
        at = p.at if p.at.tzinfo else p.at.replace(tzinfo=tz)
        return [DateTrigger(run_date=at, timezone=tz)]
    return []


def _aware(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _second_occurrence(dt: datetime) -> bool:
    """Is this the repeated occurrence (fold=1) of a wall-clock time that happens twice?"""
    if not dt.fold:
        return False
    return dt.replace(fold=0).utcoffset() != dt.utcoffset()


def _next_of(trigger: BaseTrigger, after: float, wall_clock: bool) -> float | None:
    from apscheduler.triggers.date import DateTrigger  # loaded by `triggers` already

    now = _aware(after) + _US
    for _ in range(1000):
        raw = trigger.get_next_fire_time(None, now)
        if raw is None:
            return None
        ts: float | None = raw.timestamp()
        if wall_clock:
            if _second_occurrence(raw):
                ts = None  # fired at the first occurrence already
            elif not wall_exists(raw):
                ts = gap_end(raw).timestamp()
        if ts is not None and ts > after:
            return ts
        if isinstance(trigger, DateTrigger):
            return None
        now = raw.astimezone(UTC) + _US
    return None


def next_fire(p: Planning, tz: tzinfo, after: float) -> float | None:
    """The first fire time strictly after `after` (a POSIX timestamp), or None."""
    nexts = [next_after(spec, tz, after) for spec in p.specs]
    nexts += [_next_of(trig, after, p.kind == "once") for trig in triggers(p, tz)]
    times = [t for t in nexts if t is not None]
    return min(times) if times else None


def fire_times(
    p: Planning, tz: tzinfo, after: float, until: float, limit: int | None = None
) -> Iterator[float]:
    """Fire times in (after, until], oldest first, at most `limit`."""
    n = 0
    t = next_fire(p, tz, after)
    while t is not None and t <= until and (limit is None or n < limit):
        yield t
        n += 1
        t = next_fire(p, tz, t)


def resolve(planning: str, default: str | None) -> Planning:
    """The planning in effect: `automatic` means the type's default (disabled when none)."""
    p = parse_planning(planning)
    if p.kind == "automatic":
        return parse_planning(default) if default else Planning("disabled", "disabled")
    return p


def preview(
    planning: str, tz: str, n: int = 5, after: float | None = None, default: str | None = None
) -> list[datetime]:
    """The next `n` fire times as aware datetimes in `tz` (the dashboard's preview)."""
    import time

    zone = check_timezone(tz)
    p = resolve(planning, default)
    start = time.time() if after is None else after
    return [_aware(t).astimezone(zone) for t in fire_times(p, zone, start, float("inf"), n)]


def preview_times(planning: str, tz: str, count: int, start: str | None = None) -> list[datetime]:
    """`jobdash schedule preview`: the next `count` fire times of a planning after `start`
    (ISO 8601; without an offset, a wall-clock time in `tz`; default: now), computed as the
    scheduler computes them, without a schedule. PlanningError when the planning does not
    parse or can never fire (disabled, automatic, a `once` already past)."""
    import time

    if not 1 <= count <= PREVIEW_MAX:
        raise PlanningError(f"--count: between 1 and {PREVIEW_MAX}, got {count}")
    zone = check_timezone(tz)
    p = parse_planning(planning)
    if p.kind == "disabled":
        raise PlanningError("disabled: never fires (manual runs only)")
    if p.kind == "automatic":
        raise PlanningError(
            "automatic: fires as its job type's planning in the config; preview that planning"
        )
    after = time.time() if start is None else _instant(start, zone)
    times = preview(p.text, tz, count, after)
    if not times:
        raise PlanningError(
            f"{p.text}: never fires after "
            f"{_aware(after).astimezone(zone).isoformat(timespec='seconds')}"
        )
    return times


def _instant(text: str, zone: ZoneInfo) -> float:
    try:
        at = datetime.fromisoformat(text.strip())
        return (at if at.tzinfo else at.replace(tzinfo=zone)).timestamp()
    except (ValueError, OverflowError, OSError):
        raise PlanningError(
            f"--from: expected a date and time like 2026-03-29T01:30 (in the time zone) or "
            f"2026-03-29T01:30+01:00, got {text!r}"
        ) from None
