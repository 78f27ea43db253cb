"""Cron expressions: the five fields of crontab(5), read strictly, and their fire times.

jobdash reads the expression itself, so that every fault is one line naming the field and
the value, and so that it accepts what cronie and Debian cron accept (`mon-sun`, `tue-0`:
a range ending in Sunday ends at 7; `*/100`: a step larger than the range matches its
first value; `@daily` and the other aliases) and refuses what they refuse (`JAN-61`,
`2/`, `sunday`, dates that never occur) and the extensions of other schedulers (`L`, `W`,
`#`, `?`, `H`, seconds and year fields). The fire times come from cronsim, which follows
Debian cron, given the expression in plain numbers:

- a day matches when its day of month *or* its day of week does, if both fields are
  restricted; a field that starts with `*` (even `*/2`) counts as unrestricted, and then
  both must match (Vixie cron, cronie, Debian cron);
- daylight saving (cron(8) on Debian): when neither the minute nor the hour field starts
  with `*`, the expression names wall-clock times: one in a repeated hour runs once (its
  first occurrence), one skipped by a spring-forward change runs at the first instant
  after the gap. Otherwise the job keeps its cadence in real time: it runs in both copies
  of a repeated hour, and times that do not exist are skipped.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from cronsim import CronSim, CronSimError

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
_CHECK_FROM = datetime(2000, 1, 1)
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
    numeric: str  # the expression in numbers, as cronsim reads it

    def matches(self, wall: datetime) -> bool:
        """Is this wall-clock time one of the expression's?"""
        if wall.second or wall.minute not in self.minutes or wall.hour not in self.hours:
            return False
        if wall.month not in self.months:
            return False
        dom = wall.day in self.days
        dow = wall.isoweekday() % 7 in self.weekdays
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
    numeric: list[str] = []
    for i, field in enumerate(fields):
        try:
            values, plain = _field(i, field.lower())
        except CronError as e:
            raise CronError(f"{FIELDS[i]} {field!r}: {e} (in {text!r})") from None
        sets.append(values)
        numeric.append(plain)
    minutes, hours, days, months, weekdays = sets
    day_or = not fields[2].startswith("*") and not fields[4].startswith("*")
    if not day_or:
        _check_dates(days, months, text)
    try:
        CronSim(" ".join(numeric), _CHECK_FROM)  # what jobdash accepts, cronsim must read
    except CronSimError as e:
        raise CronError(f"{text!r}: {e}") from None
    return CronSpec(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        day_or=day_or,
        wall_clock=not fields[0].startswith("*") and not fields[1].startswith("*"),
        numeric=" ".join(numeric),
    )


def _field(i: int, field: str) -> tuple[frozenset[int], str]:
    """The values of one field, and the field as cronsim should read it: `*` and `*/n`
    items as written (cronsim's rules for `*` are cron's), the others as plain numbers."""
    values: set[int] = set()
    plain: list[str] = []
    for item in field.split(","):
        got = _item(i, item)
        values.update(got)
        if item == "*" or item.startswith("*/"):
            plain.append(item)
        else:
            plain.extend(str(v) for v in sorted(got))
    return frozenset(values), ",".join(plain)


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


def next_after(spec: CronSpec, tz: tzinfo, after: float) -> float | None:
    """The first fire time strictly after `after` (a POSIX timestamp), or None."""
    try:
        it = CronSim(spec.numeric, datetime.fromtimestamp(after, tz))
        for _ in range(1000):
            dt = next(it)
            if not wall_exists(dt):
                # cronsim starts a new day at its midnight; where midnight falls in a gap,
                # that is the instant after the gap, a fire time only if it matches.
                dt = dt.astimezone(UTC).astimezone(tz)
                if not spec.matches(dt):
                    continue
            # A start in the second copy of a repeated hour can give the first copy back.
            if dt.timestamp() > after:
                return dt.timestamp()
    except (StopIteration, OverflowError, ValueError, OSError):
        pass  # none before the year 9999, or within cronsim's horizon of 50 years
    return None
