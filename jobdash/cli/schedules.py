"""Schedules: `schedules` lists them; `schedule ACTION ID` runs, enables, disables, sets or
shows one; `schedule preview` computes a planning's fire times without a store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import TONE_STYLE, err, fields, out, safe, when
from jobdash.core.model import BadInput, Report
from jobdash.core.planning import Schedule
from jobdash.present.durations import duration
from jobdash.present.planning import join_planning, recipients_text, split_recipients
from jobdash.present.status import SCHEDULE_STATE_TONES, last_run_look
from jobdash.present.text import sanitize
from jobdash.present.times import abbreviation, beside, fire_times, header
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service import Outcome, Service


def schedule_dict(s: Schedule) -> dict[str, Any]:
    return dataclasses.asdict(s) | {"state": s.state, "error": s.error}


def state_text(s: Schedule) -> Text:
    return Text(s.state_text, style=TONE_STYLE[SCHEDULE_STATE_TONES[s.state]])


def last_glyph(s: Schedule) -> Text:
    shown = last_run_look(s.last_status)
    return Text(shown.glyph, style=TONE_STYLE[shown.tone])


async def cmd_schedules(svc: Service, a: argparse.Namespace) -> int:
    from jobdash.cli.tables import listing, show_table

    schedules = await svc.schedules()
    if a.json:
        print(json.dumps([schedule_dict(s) for s in schedules], indent=2))
        return EXIT_OK
    if not schedules:
        err().print(
            "no schedules (a job type gets one with `schedule = ...` in the config; "
            "an engine publishes them)"
        )
        return EXIT_OK
    # A schedule from the config is named after its type: the TYPE column then says nothing
    # new, and the planning needs the room on an 80-column terminal.
    with_type = any(s.type != s.id for s in schedules)
    # TZ is each schedule's zone, in which its planning is read; the times are the viewer's.
    now = time.time()
    shown = abbreviation(now)
    columns = ["", "ID", *(["TYPE"] if with_type else []), "PLANNING", "TZ", "STATE"]
    last_run = header("LAST RUN", now)
    # Narrow, the zone and the last run go before a time is cut (a cut time reads as another).
    t = listing(
        *columns, last_run, header("NEXT RUN", now), flex=("PLANNING",), drop=("TZ", last_run)
    )
    for s in schedules:
        # Marked in words: a trailing `*` read as a sixth cron field.
        planning = s.effective + (" (admin)" if s.source == "admin" else "")
        last = f"job {s.last_job} {when(s.last_run, shown)}" if s.last_job else ""
        t.add_row(
            last_glyph(s),
            safe(s.id),
            *([safe(s.type)] if with_type else []),
            safe(planning),
            safe(s.timezone),
            state_text(s),
            safe(last.strip()),
            when(s.next_run, shown),
        )
    show_table(t)
    for s in schedules:
        if s.error:
            out().print(safe(f"✘ {s.id}: fire time {when(s.last_tick)} failed: {s.error}"))
    if any(s.source == "admin" for s in schedules):
        err().print(
            "(admin): changed at run time by an admin (kept across restarts; "
            "`jobdash schedule set ID --automatic` reverts)"
        )
    return EXIT_OK


def planning_from_args(a: argparse.Namespace) -> str | None:
    """The planning line `schedule set`'s flags describe (the service parses it), or None."""
    given = (
        ("cron", a.cron),
        ("interval", a.every),
        ("daily", a.daily),
        ("once", a.once),
        ("disabled", a.disabled),
        ("automatic", a.automatic),
    )
    for kind, value in given:
        if value:
            return join_planning(kind, value if isinstance(value, str) else "")
    return None


def report_from_args(a: argparse.Namespace) -> tuple[Report | None] | tuple[()]:
    """The recipients `schedule set`'s report flags describe: () when none is given, (None,)
    for --report-from-config, else (the Report,) — an empty one for --no-report."""
    email = split_recipients(*a.report_email or ())
    webhook = split_recipients(*a.report_webhook or ())
    flags = (
        ("--report-email", bool(email)),
        ("--report-webhook", bool(webhook)),
        ("--no-report", a.no_report),
        ("--report-from-config", a.report_from_config),
    )
    given = [flag for flag, on in flags if on]
    if not given:
        if a.report_email is not None or a.report_webhook is not None:
            raise BadInput("schedule set: --report-email/--report-webhook: no address given")
        return ()
    if a.no_report or a.report_from_config:
        if len(given) > 1:
            raise BadInput(f"schedule set: {given[0]} and {given[1]} cannot go together")
        return (None,) if a.report_from_config else (Report(),)
    return (Report(email, webhook),)


async def cmd_schedule(svc: Service, a: argparse.Namespace) -> int:
    action = a.schedule_action
    if action in ("run", "enable", "disable"):
        return await act_on_schedules(svc, a)
    if action == "set":
        return await set_schedule(svc, a)
    return await show_schedule(svc, a)


async def act_on_schedules(svc: Service, a: argparse.Namespace) -> int:
    """`schedule run|enable|disable ID…`: one line per schedule (`print_outcomes`)."""
    from jobdash.cli.chosen import known_ids
    from jobdash.cli.run import print_outcomes

    action = a.schedule_action
    ids = list(dict.fromkeys(a.id))
    await known_ids(ids, svc.schedule)

    def said(o: Outcome) -> None:
        if action == "run":
            job = o.result
            n = plural(job.total, "task")
            out().print(safe(f"schedule {o.key}: job {job.id} queued ({job.type}, {n})"))
            return
        s = o.result
        nxt = f"; next run {when(s.next_run)}" if s.next_run else ""
        if s.state == "manual only":
            nxt = "; still manual only: its planning is disabled (`schedule set` gives it one)"
        out().print(safe(f"schedule {s.id} {action}d{nxt}"))

    return print_outcomes(await svc.act_on_schedules(action, ids), said)


async def set_schedule(svc: Service, a: argparse.Namespace) -> int:
    """`schedule set`: a new planning, zone or policies, then the next fire times."""
    from jobdash.core.service import parse_duration

    planning = planning_from_args(a)
    bound = parse_duration(a.catchup_bound, "--catchup-bound") if a.catchup_bound else None
    report = report_from_args(a)
    if planning is None and a.tz is None and not (a.overlap or a.catchup or bound) and not report:
        raise BadInput(
            "schedule set: nothing to change (give --cron, --every, --daily, --once, "
            "--disabled, --automatic, --tz, --overlap, --catchup or a --report option)"
        )
    if report:  # checked before anything is changed
        await svc.set_schedule_report(a.id, report[0])
    if planning is not None or a.tz is not None:
        current = await svc.schedule(a.id)
        await svc.set_planning(a.id, planning or current.planning, a.tz)
    if a.overlap or a.catchup or bound:
        await svc.set_schedule_policy(a.id, a.overlap, a.catchup, bound)
    s = await svc.schedule(a.id)
    out().print(
        safe(
            f"schedule {s.id}: {s.effective} ({s.timezone}), overlap {s.overlap}, "
            f"catch-up {s.catchup}"
        )
    )
    if report:
        out().print(safe(f"  reports to: {recipients_text(s)}"))
    upcoming = svc.next_fire_times(s.planning, s.timezone, 5, default=s.config_planning)
    for at in fire_times(upcoming):  # in the schedule's zone, labelled
        out().print(f"  next: {at}")
    return EXIT_OK


async def show_schedule(svc: Service, a: argparse.Namespace) -> int:
    """`schedule show`: the schedule's settings and state, then its tick history."""
    from jobdash.cli.tables import listing, show_table
    from jobdash.core.service import CATCHUP_BOUND, zone

    s = await svc.schedule(a.id)
    ticks = await svc.ticks(a.id, a.limit)
    if a.json:
        d = schedule_dict(s)
        d["ticks"] = [dataclasses.asdict(t) for t in ticks]
        print(json.dumps(d, indent=2))
        return EXIT_OK
    origin = ""
    if s.planning == "automatic":
        origin = " (automatic: the config's)"
    elif s.source == "admin":
        origin = " (set by an admin)"
    catchup = s.catchup
    if s.catchup == "all":
        catchup += f" within {duration(s.catchup_bound or CATCHUP_BOUND)}"
    last = ""
    if s.last_job:
        last = f"job {s.last_job} {s.last_status or ''} at {when(s.last_run)}"
    nxt = when(s.next_run)
    if s.next_run and (there := beside(s.next_run, zone(s.timezone))):
        nxt += f" ({there} in the schedule's zone)"
    state = {
        "disabled": " (paused: its fire times are recorded as paused)",
        "manual only": " (the planning is disabled: it runs only when started by hand)",
        "error": f": fire time {when(s.last_tick)} failed: {s.error}",
    }.get(s.state, "")
    out().print(Text.assemble("schedule ", (sanitize(s.id), "bold")))
    fields(
        [
            ("type", s.type),
            ("planning", s.effective + origin),
            ("time zone", s.timezone),
            ("state", s.state_text + state),
            ("overlap", s.overlap),
            ("catch-up", catchup),
            ("reports to", recipients_text(s)),
            ("last run", last),
            ("next run", nxt),
        ],
        10,
    )
    now = time.time()
    t = listing(header("FIRE TIME", now), "OUTCOME", "JOB", "DETAIL", fold=("DETAIL",))
    for tick in ticks:
        t.add_row(
            when(tick.fire_time, abbreviation(now)),
            tick.outcome_text,
            str(tick.job_id or ""),
            safe(tick.detail),
        )
    out().print()
    if ticks:
        show_table(t)
    else:
        out().print(Text("no ticks yet", style="dim"))
    return EXIT_OK


def cmd_schedule_preview(a: argparse.Namespace) -> int:
    """`schedule preview`: computed from the planning text alone; no store is opened."""
    from jobdash.core.service import config_timezone, preview_planning

    tz = a.tz or config_timezone(a.config)
    times = [t.isoformat() for t in preview_planning(a.planning, tz, a.count, a.start)]
    print(json.dumps(times) if a.json else "\n".join(times))
    return EXIT_OK


COMMANDS = {"schedules": cmd_schedules, "schedule": cmd_schedule}
