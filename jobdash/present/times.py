"""How jobdash shows a time: one rule for the command line, the dashboard and the reports.

- Times are shown in the viewer's zone: `TZ` when set (a zone name, or a zone file's path),
  else the machine's (tzlocal). Only a column that says so shows a schedule's own zone.
- Every absolute time is labelled with its zone's abbreviation: once for a column, in its
  header ("NEXT RUN (CET)", `header`), and on a value whose abbreviation differs from the
  header's (the other side of a DST change); a time on its own carries it ("14:03 CET").
- Machine-readable times (CSV exports, e-mails, webhooks) are ISO 8601 with the UTC offset.
- Short forms, the same on the command line and in the dashboard: today's times with
  seconds ("14:03:22"), another day's with the date, year first ("2026-11-20 14:03": no
  month names to translate, no year to guess, and it sorts as text).

Pure Python (no Textual, no Rich): `jobdash.core` uses it too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, timezone, tzinfo
from functools import lru_cache
from math import isfinite
from operator import sub
from typing import Any

__all__ = [
    "abbreviation",
    "beside",
    "clock",
    "fire_times",
    "header",
    "in_column",
    "iso",
    "iso_column",
    "local_zone",
    "local_zone_name",
    "log_stamp",
]


@lru_cache(maxsize=8)
def _zone_for(tz_variable: str | None) -> tzinfo:
    """The local zone while TZ is `tz_variable` (tzlocal caches one answer per process;
    tests and long-lived processes may change TZ, hence the key)."""
    import tzlocal  # here: a command that shows no time does not load it (nor its logging)

    try:
        with warnings.catch_warnings():  # tzlocal warns about odd configurations
            warnings.simplefilter("ignore")
            return tzlocal.reload_localzone()
    except (LookupError, ValueError, OSError):
        # A TZ that is no zone name (e.g. "CET-1"): the C library's reading of it.
        return datetime.now().astimezone().tzinfo or UTC


def local_zone() -> tzinfo:
    """The viewer's zone: TZ, else the machine's."""
    return _zone_for(os.environ.get("TZ"))


def local_zone_name() -> str:
    """The viewer's zone as an IANA name (a schedule's default zone), else "UTC"."""
    key = getattr(local_zone(), "key", None)
    if key:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(key)
            return str(key)
        except (LookupError, ValueError):
            pass
    return "UTC"


def _at(ts: float, tz: tzinfo | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, tz or local_zone())
    except (OverflowError, ValueError, OSError):
        return None  # a time no calendar holds (a damaged store)


def abbreviation(at: float, tz: tzinfo | None = None) -> str:
    """The zone's abbreviation at that instant: "CET", "CEST", "JST", "UTC"."""
    d = _at(at, tz)
    return (d.tzname() or "") if d is not None else ""


def header(label: str, now: float, tz: tzinfo | None = None) -> str:
    """A column's title naming the zone of its times: "next run (CET)"."""
    return f"{label} ({abbreviation(now, tz)})"


def clock(
    ts: float | None,
    now: float,
    tz: tzinfo | None = None,
    *,
    label: bool | str = True,
) -> str:
    """A short time: "14:03:22" when it is `now`'s day (in `tz`, the viewer's zone by
    default), else "2026-11-20 14:03"; "" for none.

    `label`: True, followed by its zone's abbreviation ("14:03:22 CET"); an abbreviation
    already on screen for it (its column's header), only when its own differs (the other
    side of a DST change); False, never (a narrow column under a zone named elsewhere)."""
    if ts is None:
        return ""
    d = _at(ts, tz)
    if d is None:
        return "?"
    today = _at(now, d.tzinfo)
    if today is not None and d.date() == today.date():
        text = f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    else:
        text = f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"
    own = d.tzname() or ""
    if label is False or label == own:
        return text
    return f"{text} {own}"


def in_column(ts: float | None, now: float) -> str:
    """A time in a column whose header names the viewer's zone (`header`): labelled only
    when its own abbreviation differs (the other side of a DST change)."""
    return clock(ts, now, label=abbreviation(now))


def beside(ts: float, tz: tzinfo) -> str:
    """The same instant in another zone, to show beside the viewer's time: "09:00 JST", with
    the date when it is another day there; "" when that zone's clock shows the same."""
    there, here = _at(ts, tz), _at(ts, None)
    if there is None or here is None or there.utcoffset() == here.utcoffset():
        return ""
    day = "" if there.date() == here.date() else f"{there:%Y-%m-%d} "
    return f"{day}{there:%H:%M} {there.tzname() or ''}".rstrip()


def iso(ts: float | None, tz: tzinfo | None = None) -> str:
    """ISO 8601 to the second with the UTC offset: "2026-11-20T14:03:22+01:00"; "" for none."""
    d = _at(ts, tz) if ts else None
    return d.isoformat("T", "seconds") if d is not None else ""


def log_stamp(ts: float) -> str:
    """A log line's time of day with milliseconds: "14:03:22.517"."""
    seconds, millis = divmod(round(ts * 1000), 1000)
    d = _at(seconds, None)
    if d is None:
        return "??:??:??.???"
    return f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{millis:03d}"


def fire_times(times: Sequence[datetime]) -> list[str]:
    """Upcoming fire times, each with its day, date and zone: "Fri 2026-11-20 09:00 JST".

    Seconds are shown when any of them is not on a whole minute (an interval under a minute
    would otherwise show the same minute again and again), milliseconds when any is not on
    a whole second."""
    millis = any(t.microsecond for t in times)
    seconds = millis or any(t.second for t in times)
    out = []
    for t in times:
        text = f"{t:%a %Y-%m-%d %H:%M}"
        if seconds:
            text += f":{t.second:02d}"
        if millis:
            text += f".{t.microsecond // 1000:03d}"
        out.append(f"{text} {t.tzname() or ''}".rstrip())
    return out


# `iso_column`'s pieces: each hour's text ("2026-11-20T14:") by its number since the epoch
# in local time, and for each offset's text the text of each second of an hour with it
# ("03:22+01:00"). A few thousand hours and two offsets in an export of a year.
_HOURS: dict[int, str] = {}
_SECONDS: dict[str, list[str]] = {}
_DAY = 86400
_EPOCH = 719163  # date(1970, 1, 1).toordinal()
# Times written by arithmetic, beyond a day's margin of the calendar's ends: from 1970 to 9999.
_FIRST, _LAST = 2 * _DAY, 253402300800 - 2 * _DAY
# A day's offset and its text (None: the offset changes within the day), by zone and day.
_OFFSETS: dict[tuple[tzinfo, int], tuple[int, str] | None] = {}


def iso_column(times: Sequence[Any], tz: tzinfo | None = None) -> list[str]:
    """`iso` of each of `times` (a page of an export's start or finish times), at a fifth
    of its cost: a datetime made and written for each time was half of a CSV export's.

    A time's text is its local hour's and its second's in that hour with the offset, each
    written once (`_HOURS`, `_SECONDS`), and its offset is its UTC day's: no zone changes
    its offset twice within a day (tzdata's closest changes are four days apart), so a day
    whose first and last seconds have the same offset has it throughout, and the times of
    a day that has two are written one by one, as are times that are not plain numbers of
    1970 to 9999 and times of a zone that is not `ZoneInfo` or a fixed offset."""
    tz = tz or local_zone()
    if not times:
        return []
    from zoneinfo import ZoneInfo  # here, not at import: a command that shows no time

    if not isinstance(tz, ZoneInfo | timezone):
        return [iso(t, tz) for t in times]
    if (
        set(map(type, times)) <= _NUMBERS
        and isfinite(sum(times))  # (no NaN, which `min` and `max` pass over)
        and min(times) > _FIRST
        and max(times) < _LAST
    ):
        return _iso_numbers(times, tz)
    plain = [t for t in times if _plain(t)]
    written = iter(_iso_numbers(plain, tz) if plain else ())
    return [next(written) if _plain(t) else iso(t, tz) for t in times]


_NUMBERS = {float, int}


def _plain(t: Any) -> bool:
    """A time `_iso_numbers` writes (a NaN is not: it is not between the two)."""
    return type(t) in _NUMBERS and _FIRST < t < _LAST


def _iso_numbers(times: Sequence[float], tz: tzinfo) -> list[str]:
    """`iso_column` of numbers of 1970 to 9999."""
    seconds = [*map(int, times)]
    # `datetime.fromtimestamp` rounds to the microsecond (half to even): a time less than
    # half a microsecond before a second is that second.
    if max(map(sub, times, seconds)) * 1e6 >= 999999.5:
        seconds = [s + ((t - s) * 1e6 >= 999999.5) for t, s in zip(times, seconds, strict=True)]
    first, last = min(seconds) // _DAY, max(seconds) // _DAY
    days = range(first, last + 1) if last - first < 4 else {s // _DAY for s in seconds}
    offsets = {day: _offset(tz, day) for day in days}
    one = offsets[first]
    if one is not None and len(set(offsets.values())) == 1:
        local = [*map(one[0].__add__, seconds)] if one[0] else seconds
        hours, texts = _hours(local), _seconds(one[1])
        return [hours[s // 3600] + texts[s % 3600] for s in local]
    written = []
    for t, s in zip(times, seconds, strict=True):
        kept = offsets[s // _DAY]
        if kept is None:  # (its offset changes that day)
            written.append(iso(t, tz))
        else:
            at = s + kept[0]
            written.append(_hours([at])[at // 3600] + _seconds(kept[1])[at % 3600])
    return written


def _offset(tz: tzinfo, day: int) -> tuple[int, str] | None:
    """The offset from UTC of `tz` throughout a day since the epoch, in seconds, and its
    text as `isoformat` writes it; None when it changes that day (or holds a fraction of a
    second: a fixed offset may)."""
    if (tz, day) in _OFFSETS:
        return _OFFSETS[(tz, day)]
    start = datetime.fromtimestamp(day * _DAY, tz)
    offset = start.utcoffset()
    end = datetime.fromtimestamp(day * _DAY + _DAY - 1, tz)
    found = None
    if offset is not None and offset == end.utcoffset() and not offset.microseconds:
        found = (offset.days * _DAY + offset.seconds, start.isoformat()[19:])
    if len(_OFFSETS) >= 4096:
        _OFFSETS.clear()
    _OFFSETS[(tz, day)] = found
    return found


def _hours(local: Sequence[int]) -> dict[int, str]:
    """`_HOURS`, holding the hours of `local` (seconds since the epoch, local time)."""
    first, last = min(local) // 3600, max(local) // 3600
    hours = range(first, last + 1) if last - first < 96 else {s // 3600 for s in local}
    if len(_HOURS) + len(hours) > 100_000:  # ~11 years of hours
        _HOURS.clear()
    for hour in hours:
        if hour not in _HOURS:
            day, h = divmod(hour, 24)
            _HOURS[hour] = f"{date.fromordinal(_EPOCH + day).isoformat()}T{h:02d}:"
    return _HOURS


def _seconds(offset: str) -> list[str]:
    """`_SECONDS`' texts of an hour's seconds, each followed by `offset` ("+01:00")."""
    texts = _SECONDS.get(offset)
    if texts is None:
        if len(_SECONDS) >= 64:
            _SECONDS.clear()
        minutes = [f"{m:02d}:" for m in range(60)]
        seconds = [f"{s:02d}{offset}" for s in range(60)]
        texts = _SECONDS[offset] = [m + s for m in minutes for s in seconds]
    return texts
