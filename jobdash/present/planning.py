"""A planning as text, both ways: the line a command or a form describes ("daily:
mon,wed@09:00"), and the parts of a line to fill a form with.

`jobdash.core.planning` is the one parser (the scheduler's): the CLI's flags and the
dashboard's planning form only put a line together here, and the service parses it.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobdash.core.planning import WEEKDAYS, PlanningError, Schedule, parse_planning, week_days

__all__ = [
    "VALUED",
    "daily_value",
    "join_planning",
    "recipients_text",
    "split_planning",
    "split_recipients",
]

VALUED = ("cron", "interval", "once")
"""The kinds whose planning is "kind: value" (a daily planning's value has two parts)."""


def daily_value(days: Iterable[str], times: str) -> str:
    """A daily planning's value: "mon,wed@09:00,17:00", or the times alone for every day."""
    chosen = [d for d in WEEKDAYS if d in set(days)]
    if chosen and len(chosen) < len(WEEKDAYS):
        return f"{','.join(chosen)}@{times}"
    return times


def join_planning(kind: str, value: str = "") -> str:
    """The planning line of a kind and its value: "interval: 5m", "daily: 09:00",
    "disabled" (the kinds without a value ignore it)."""
    if kind in VALUED or kind == "daily":
        return f"{kind}: {value.strip()}"
    return kind


def split_planning(text: str) -> tuple[str, str, set[str], str]:
    """(kind, value, days, times) of a planning line, read by the scheduler's parser:
    ("daily", "", {"mon", "wed"}, "09:00"), ("cron", "0 3 * * *", set(), ""). A line
    that does not parse gives an empty cron planning (a form to fill in)."""
    try:
        p = parse_planning(text)
    except PlanningError:
        return "cron", "", set(), ""
    if p.kind == "daily":
        return "daily", "", week_days(p), ",".join(f"{h:02d}:{m:02d}" for h, m in p.times)
    if p.kind in VALUED:
        return p.kind, p.text.partition(":")[2].strip(), set(), ""
    return p.kind, "", set(), ""


def recipients_text(s: Schedule) -> str:
    """Who gets the reports of a schedule's runs besides its type's recipients, and whether
    an admin set that at run time: "ops@example.org (and the type's recipients; set by an
    admin)"."""
    admin = s.report_source == "admin"
    if names := ", ".join((*s.report.email, *s.report.webhook)):
        return f"{names} (and the type's recipients{'; set by an admin' if admin else ''})"
    return "none besides the type's" + (" (set by an admin)" if admin else "")


def split_recipients(*texts: str) -> tuple[str, ...]:
    """The addresses or URLs in what a user typed: separated by commas (or given apart, as
    repeated options), blanks dropped."""
    return tuple(x.strip() for text in texts for x in text.split(",") if x.strip())
