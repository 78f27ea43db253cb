"""What the service checks and computes for schedules: a schedule's next run, an admin's
new planning or policy, and previews of a planning's fire times.

Why apart: these are plain functions of a planning, a zone and the time (the store is the
service's), so the command line's `schedule preview` uses them with no store at all; a
planning that does not parse or never fires is one `BadInput` line.
"""

from __future__ import annotations

from datetime import datetime

from jobdash.core.model import CATCHUP, OVERLAP, BadInput
from jobdash.core.planning import (
    PlanningError,
    Schedule,
    check_timezone,
    next_fire,
    parse_planning,
    preview,
    preview_times,
    resolve,
)
from jobdash.core.scheduler import effective_planning, zone


def with_next_run(s: Schedule, now: float) -> Schedule:
    """Fill in the next run from the planning (exact even when no engine runs)."""
    p = effective_planning(s)
    s.next_run = None
    if s.enabled and p.kind != "disabled":
        s.next_run = next_fire(p, zone(s.timezone), max(now, s.last_fire or now))
    return s


def planning_change(
    current: Schedule, planning: str, tz: str | None, now: float, config_zone: str
) -> tuple[str, float | None]:
    """An admin's new planning for `current` ("automatic" follows the config again, in the
    config's zone unless `tz` names one), checked: its canonical text and its next fire time
    after `now` (None when disabled)."""
    try:
        p = parse_planning(planning)
        follows = p.text == "automatic" and tz is None
        zi = check_timezone(tz or (config_zone if follows else current.timezone))
        eff = resolve(p.text, current.config_planning)
    except PlanningError as e:
        raise BadInput(str(e)) from None
    return p.text, next_fire(eff, zi, now) if eff.kind != "disabled" else None


def check_policy(overlap: str | None, catchup: str | None, catchup_bound: float | None) -> None:
    """An admin's new overlap and catch-up policy (None: unchanged), checked."""
    if overlap is not None and overlap not in OVERLAP:
        raise BadInput(f"overlap must be one of {', '.join(OVERLAP)}, got {overlap!r}")
    if catchup is not None and catchup not in CATCHUP:
        raise BadInput(f"catch-up must be one of {', '.join(CATCHUP)}, got {catchup!r}")
    if catchup_bound is not None and catchup_bound <= 0:
        raise BadInput(f"catch-up bound must be positive, got {catchup_bound:g}")


def fire_times(planning: str, tz: str, n: int, default: str | None = None) -> list[datetime]:
    """The next `n` fire times of a planning (BadInput when it does not parse); `default`:
    the planning "automatic" stands for."""
    try:
        return preview(planning, tz, n, default=default)
    except PlanningError as e:
        raise BadInput(str(e)) from None


def preview_planning(
    planning: str, tz: str, count: int, start: str | None = None
) -> list[datetime]:
    """`jobdash schedule preview` (no store needed): the next `count` fire times of any
    planning after `start` (ISO 8601, default now); BadInput when it is invalid or never
    fires."""
    try:
        return preview_times(planning, tz, count, start)
    except PlanningError as e:
        raise BadInput(str(e)) from None
