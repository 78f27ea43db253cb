"""Cron expressions: the five fields of crontab(5), read strictly, and their fire times.

jobdash reads the expression itself, so that every fault is one line naming the field and
the value, and so that it accepts what cronie and Debian cron accept (`mon-sun`, `tue-0`:
a range ending in Sunday ends at 7; `*/100`: a step larger than the range matches its
first value; `@daily` and the other aliases) and refuses what they refuse (`JAN-61`,
`2/`, `sunday`, dates that never occur) and the extensions of other schedulers (`L`, `W`,
`#`, `?`, `H`, seconds and year fields).

The fire times follow Debian cron:

- a day matches when its day of month *or* its day of week does, if both fields are
  restricted; a field that starts with `*` (even `*/2`) counts as unrestricted, and then
  both must match (Vixie cron, cronie, Debian cron);
- daylight saving (cron(8) on Debian): when neither the minute nor the hour field starts
  with `*`, the expression names wall-clock times: one in a repeated hour runs once (its
  first occurrence), one skipped by a spring-forward change runs at the first instant
  after the gap. Otherwise the job keeps its cadence in real time: it runs in both copies
  of a repeated hour, and times that do not exist are skipped.

These are cronsim's rules; jobdash computes them itself because cronsim can loop forever
where clocks change off the whole hour and fires at the end of a gap that swallowed
midnight even when that time does not match (the README says more). Walking the
expression's wall-clock times in order, as here, ends at the latest at the year 9999.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 exists
_NOT_SUPPORTED = "is a cron extension jobdash does not support"


class CronError(ValueError):
    """An expression that cron would refuse, or that can never fire; one line."""


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: the values of each field (week days 0-6, Sunday 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_or: bool  # both day fields restricted: a day matches either of them
    wall_clock: bool  # minute and hour explicit: Debian cron's DST rule for set times

    def day_matches(self, d: date) -> bool:
        """Is this one of the expression's days (crontab(5)'s day-of-month/week rule)?"""
        dom = d.day in self.days
        dow = d.isoweekday() % 7 in self.weekdays
        return dom or dow if self.day_or else dom and dow


def parse_cron(expr: str) -> CronSpec:
    """Parse a five-field expression or an alias; CronError says what is wrong and where."""
    text = " ".join(expr.split())
    if text.startswith("@") and text.lower() not in ALIASES:
        raise CronError(
            f"unknown alias {text!r} (@yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight or @hourly)"
        )
    fields = ALIASES.get(text.lower(), text).split()
    if len(fields) != 5:
        extra = ": a seconds or a year field is not supported" if len(fields) in (6, 7) else ""
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)} in {text!r}{extra}"
        )
    sets: list[frozenset[int]] = []
    for i, field in enumerate(fields):
        try:
            sets.append(frozenset(v for item in field.lower().split(",") for v in _item(i, item)))
        except CronError as e:
            raise CronError(f"{FIELDS[i]} {field!r}: {e} (in {text!r})") from None
    minutes, hours, days, months, weekdays = sets
    day_or = not fields[2].startswith("*") and not fields[4].startswith("*")
    if not day_or:
        _check_dates(days, months, text)
    return CronSpec(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        day_or=day_or,
        wall_clock=not fields[0].startswith("*") and not fields[1].startswith("*"),
    )


def _item(i: int, item: str) -> range:
    lo_bound, hi_bound = BOUNDS[i]
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text:
            raise CronError("missing step after '/'")
        if not _digits(step_text):
            raise CronError(f"step {step_text!r} is not a whole number")
        step = int(step_text)
        if step == 0:
            raise CronError("step 0 never advances")
    if base == "*":
        return range(lo_bound, hi_bound + 1, step)
    if base.startswith("-"):
        raise CronError(f"{base!r}: negative numbers are not allowed")
    a, dash, b = base.partition("-")
    lo = _value(i, a)
    hi = _value(i, b) if dash else (hi_bound if slash else lo)
    if dash and i == 4 and hi == 0 and lo > 0:
        hi = 7  # cronie: a week-day range ending in Sunday ends at 7 (mon-sun, tue-0)
    if hi < lo:
        raise CronError(f"range {base!r} goes backwards (wrapping around is not supported)")
    return range(lo, hi + 1, step)


def _value(i: int, token: str) -> int:
    lo, hi = BOUNDS[i]
    if _digits(token):
        n = int(token)
        if not lo <= n <= hi:
            raise CronError(f"{n} is out of range {lo}-{hi}")
        return n
    if i == 3 and token in MONTHS:
        return MONTHS.index(token) + 1
    if i == 4 and token in DAYS:
        return DAYS.index(token)
    raise CronError(_what(i, token))


def _what(i: int, token: str) -> str:
    """Why a token is not a value: an extension of another scheduler, or plain wrong."""
    if not token:
        return "a value is missing"
    if token == "?":
        return "'?' (no specific value) " + _NOT_SUPPORTED + "; write *"
    if "#" in token and i == 4:
        return "'#' (nth week day of the month) " + _NOT_SUPPORTED
    if i == 2 and (token in ("l", "lw") or token.startswith("l-")):
        return "'L' (last day of the month) " + _NOT_SUPPORTED
    if i == 2 and "w" in token and _digits(token.replace("w", "", 1)):
        return "'W' (nearest weekday) " + _NOT_SUPPORTED
    day = token.removesuffix("l") if token.endswith("l") else token.removeprefix("l")
    if i == 4 and day != token and (_digits(day) or day in DAYS):
        return "'L' (last week day of the month) " + _NOT_SUPPORTED
    if token == "h" or token.startswith("h("):
        return "'H' (hashed value) " + _NOT_SUPPORTED
    if token == "r" or token.startswith("r("):
        return "'R' (random value) " + _NOT_SUPPORTED
    if i == 3:
        return f"{token!r} is not a month (1-12 or jan..dec)"
    if i == 4:
        return f"{token!r} is not a week day (0-7 or sun..sat)"
    return f"{token!r} is not a number"


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _check_dates(days: frozenset[int], months: frozenset[int], text: str) -> None:
    """Refuse a day of month that none of the months has (only both fields together say
    so; with a day-of-week restriction too, the week day alone can match)."""
    if min(days) <= max(_MONTH_DAYS[m] for m in months):
        return
    names = [calendar.month_name[m] for m in sorted(months)]
    which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    nums = sorted(days)
    shown = str(nums[0]) if len(nums) == 1 else ", ".join(map(str, nums[:-1])) + f" or {nums[-1]}"
    has = "has" if len(names) == 1 else "have"
    raise CronError(f"{text!r} can never fire: {which} {has} no day {shown}")


# ------------------------------------------------------------------------- fire times


def wall_exists(dt: datetime) -> bool:
    """Does this wall-clock time exist in its zone (not inside a spring-forward gap)?"""
    back = dt.astimezone(UTC).astimezone(dt.tzinfo)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None)


def gap_end(dt: datetime) -> datetime:
    """The first instant after the spring-forward gap that swallowed `dt`'s wall time."""
    tz = dt.tzinfo
    assert tz is not None
    early = dt.replace(fold=0).utcoffset()
    late = dt.replace(fold=1).utcoffset()
    assert early is not None and late is not None
    naive = dt.replace(tzinfo=None)
    lo = (naive - max(early, late)).replace(tzinfo=UTC)  # before the change
    hi = (naive - min(early, late)).replace(tzinfo=UTC)  # after the change
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


def next_after(spec: CronSpec, tz: tzinfo, after: float) -> float | None:
    """The first fire time strictly after `after` (a POSIX timestamp), or None (none
    before the year 9999)."""
    try:
        local = datetime.fromtimestamp(after, tz)
        start = local.replace(tzinfo=None, second=0, microsecond=0)
        if spec.wall_clock:
            return _next_wall_clock(spec, tz, after, start)
        # In the first copy of a repeated hour, the times before this one come again.
        early, late = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
        back = early - late if early is not None and late is not None else timedelta(0)
        return _next_cadence(spec, tz, after, start - max(back, timedelta(0)))
    except (OverflowError, ValueError, OSError):
        return None  # past the year 9999


def _next_wall_clock(spec: CronSpec, tz: tzinfo, after: float, start: datetime) -> float:
    """Each time at its first occurrence; one in a gap at the gap's end."""
    for wall in _walls(spec, start):
        first = wall.replace(tzinfo=tz, fold=0)
        t = (first if wall_exists(first) else gap_end(first)).timestamp()
        if t > after:
            return t
    raise OverflowError


def _next_cadence(spec: CronSpec, tz: tzinfo, after: float, start: datetime) -> float:
    """Every instant whose wall-clock time matches: both copies of a repeated time, none
    of a time in a gap. First occurrences come in the order of the wall-clock times, and
    a second occurrence never before the first, so the walk stops at the first
    occurrence past the best time found."""
    best: float | None = None
    for wall in _walls(spec, start):
        first = wall.replace(tzinfo=tz, fold=0)
        if not wall_exists(first):
            continue
        if best is not None and first.timestamp() >= best:
            return best
        for t in (first.timestamp(), wall.replace(tzinfo=tz, fold=1).timestamp()):
            if t > after and (best is None or t < best):
                best = t
    raise OverflowError


def _walls(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """The expression's wall-clock times from `start` on (naive, whole minutes), in
    order; it ends only past the year 9999 (OverflowError)."""
    hours, minutes = sorted(spec.hours), sorted(spec.minutes)
    day = start.date()
    while True:
        if day.month not in spec.months:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            continue
        if spec.day_matches(day):
            first = day == start.date()
            for h in hours:
                if first and h < start.hour:
                    continue
                for m in minutes:
                    if not (first and h == start.hour and m < start.minute):
                        yield datetime(day.year, day.month, day.day, h, m)
        day += timedelta(days=1)
