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
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "abbreviation",
    "beside",
    "clock",
    "fire_times",
    "header",
    "in_column",
    "iso",
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
