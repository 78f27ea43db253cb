"""The command line: every command goes through `core.service`.

Exit status: 0 success, 1 the job failed or the request was refused, 2 bad usage or input.
The dashboard (Textual) is imported only when it is opened, so `jobdash jobs` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from jobdash import __version__
from jobdash.core.config import parse_duration
from jobdash.core.model import BadInput, Job, JobStatus, LogLine, Refused, format_duration
from jobdash.core.planning import PREVIEW_MAX, Schedule
from jobdash.core.scheduler import CATCHUP_BOUND
from jobdash.core.service import Service, config_timezone, preview_planning
from jobdash.tui.widgets.safe_text import sanitize

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("jobdash").strip()
        err.print(f"jobdash: {where + ': ' if where else ''}{message} (see --help)")
        sys.exit(EXIT_USAGE)


def build_parser() -> Parser:
    # Given before or after the command; SUPPRESS keeps a sub-command's parser from
    # resetting to None what was given before it (`jobdash --db X jobs`).
    common = Parser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the store (default: $JOBDASH_DB, then the data dir)",
    )
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $JOBDASH_CONFIG, ./jobdash.toml, config dir)",
    )
    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")

    p = Parser(
        prog="jobdash", description="A job manager with a terminal dashboard.", parents=[common]
    )
    p.add_argument("--version", action="version", version=f"jobdash {__version__}")
    p.add_argument(
        "--demo", action="store_true", help="load the demo job types and start demo jobs"
    )
    p.add_argument(
        "--read-only", action="store_true", help="watch only: no action changes anything"
    )
    p.add_argument("--theme", help="dashboard theme")
    p.add_argument(
        "--slots", type=positive_int, default=4, help="task slots of the embedded engine"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name: str, help: str, *parents: Parser) -> Parser:
        return sub.add_parser(name, help=help, description=help, parents=[common, *parents])

    for name, help in (
        ("serve", "run the engine headless (scheduler + agent)"),
        ("agent", "run an agent only"),
    ):
        s = cmd(name, help)
        s.add_argument(
            "--slots", type=positive_int, default=argparse.SUPPRESS, help="tasks run at once"
        )
        s.add_argument("--name", help="agent name (default: host-pid)")
        s.add_argument(
            "--grace",
            type=float,
            default=30.0,
            help="seconds running tasks get to finish on SIGTERM",
        )
        s.add_argument(
            "--demo", action="store_true", default=argparse.SUPPRESS, help="load the demo job types"
        )
        s.add_argument(
            "--lease",
            type=positive_float,
            metavar="SECONDS",
            help="seconds a claim lasts without renewal (default 15, or $JOBDASH_LEASE): a dead "
            "agent's tasks run again within lease + 2 s",
        )
        if name == "agent":
            s.add_argument(
                "action",
                nargs="?",
                choices=["drain"],
                help="drain NAME: let agent NAME finish its tasks and claim no more",
            )
            s.add_argument("target", nargs="?", metavar="NAME", help="the agent to drain")

    cmd("agents", "agents: state, slots, current tasks, heartbeat", as_json)

    s = cmd("run", "submit a job")
    s.add_argument("type", help="job type")
    s.add_argument(
        "-p", "--param", action="append", default=[], metavar="K=V", help="a parameter (repeatable)"
    )
    s.add_argument(
        "--wait", action="store_true", help="wait until the job ends; exit status from the job"
    )
    s.add_argument(
        "--follow", action="store_true", help="stream the log and a progress bar until it ends"
    )
    s.add_argument(
        "--demo", action="store_true", default=argparse.SUPPRESS, help="know the demo job types"
    )

    s = cmd("jobs", "list jobs", as_json)
    s.add_argument(
        "query",
        nargs="*",
        help="filter text: status:failed type:x user:y since:1h -field:value words",
    )
    s.add_argument("--status", action="append", default=[])
    s.add_argument("--type", action="append", default=[])
    s.add_argument("--user", action="append", default=[])
    s.add_argument("--since", help="e.g. 1h, 2d")
    s.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    s.add_argument("--all", action="store_true", help="no limit")

    s = cmd("show", "one job with its tasks", as_json)
    s.add_argument("job", type=job_id)

    s = cmd("logs", "a job's log lines")
    s.add_argument("job", type=job_id)
    s.add_argument("-f", "--follow", action="store_true", help="keep printing while the job runs")
    s.add_argument("--task", type=positive_int, metavar="N", help="only task N")
    s.add_argument("--tail", type=positive_int, metavar="N", help="only the last N lines")

    s = cmd("cancel", "cancel a job (SIGTERM, then SIGKILL after a grace period)")
    s.add_argument("job", type=job_id)
    s.add_argument("--force", action="store_true", help="SIGKILL at once")
    for name, help in (
        ("pause", "pause a job"),
        ("resume", "resume a paused job"),
        ("retry", "re-run the failed and cancelled tasks of a finished job"),
    ):
        cmd(name, help).add_argument("job", type=job_id)

    s = cmd("export", "job history as CSV or JSON")
    s.add_argument("query", nargs="*", help="filter text, as for `jobs`")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )

    s = cmd("clear", "remove finished jobs you started")
    s.add_argument("--all", action="store_true", help="every user's finished jobs (admins)")

    cmd("schedules", "schedules: planning, time zone, last and next run", as_json)
    s = cmd("schedule", "act on a schedule: run, enable, disable, set, show; preview a planning")
    ssub = s.add_subparsers(
        dest="schedule_action", metavar="ACTION", parser_class=Parser, required=True
    )

    def action(name: str, help: str, *parents: Parser) -> Parser:
        sp = ssub.add_parser(name, help=help, description=help, parents=[common, *parents])
        sp.add_argument("id", help="schedule id")
        return sp

    action("run", "run the schedule's job now")
    action("enable", "enable (resume) the schedule")
    action("disable", "disable (pause) the schedule: its fire times are recorded as paused")
    s2 = action("show", "the schedule and its tick history", as_json)
    s2.add_argument("--limit", type=positive_int, default=30, help="ticks shown (default 30)")
    s2 = action(
        "set",
        "change the planning (one of --cron, --every, --daily, --once, --disabled, "
        "--automatic), the time zone or the policies",
    )
    plan = s2.add_mutually_exclusive_group()
    plan.add_argument("--cron", metavar="EXPR", help='5-field cron expression, e.g. "0 3 * * *"')
    plan.add_argument("--every", metavar="PERIOD", help="interval, e.g. 30s, 5m, 1h30m")
    plan.add_argument("--daily", metavar="[DAYS@]TIMES", help="e.g. 09:00 or mon,wed@09:00,17:00")
    plan.add_argument("--once", metavar="DATETIME", help="e.g. 2026-12-01T09:00")
    plan.add_argument("--disabled", action="store_true", help="manual runs only")
    plan.add_argument("--automatic", action="store_true", help="back to the config's planning")
    s2.add_argument("--tz", metavar="ZONE", help="time zone, e.g. Europe/Paris")
    s2.add_argument(
        "--overlap",
        choices=("skip", "queue"),
        help="while the previous run is active: skip the fire time, or queue",
    )
    s2.add_argument(
        "--catchup",
        choices=("skip", "once", "all"),
        help="after missed fire times: run none, one, or all within the bound",
    )
    s2.add_argument(
        "--catchup-bound",
        metavar="DURATION",
        help="catch-up all runs missed fire times this recent (default 1d)",
    )
    s2 = ssub.add_parser(
        "preview",
        help="the next fire times of a planning, without creating a schedule",
        description="The next fire times of any planning (as the scheduler computes them), "
        "ISO 8601 with the offset, one a line; no schedule is created or read.",
        parents=[common, as_json],
    )
    s2.add_argument(
        "planning", help='e.g. "cron: 30 2 * * *", "@daily", "daily: mon-fri@09:00", "interval: 5m"'
    )
    s2.add_argument(
        "--tz", metavar="ZONE", help="time zone (default: the config's, else the machine's)"
    )
    s2.add_argument(
        "--from",
        dest="start",
        metavar="ISO-8601",
        help="fire times after this (default: now); without an offset, a wall-clock time in the zone",
    )
    s2.add_argument(
        "--count",
        type=positive_int,
        default=5,
        metavar="N",
        help=f"how many (default 5, at most {PREVIEW_MAX})",
    )
    cmd("types", "job types", as_json)
    cmd("check", "validate the config file")
    return p


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {n}")
    return n


def positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return x


def job_id(text: str) -> int:
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a job id: {text!r}") from None


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise BadInput(f"-p {pair!r}: expected KEY=VALUE")
        params[key] = value
    return params


def listing(*columns: str, flex: Sequence[str] = (), fold: Sequence[str] = ()) -> Table:
    """A plain table for listings. Only the free-text columns (`flex`, cut with an ellipsis,
    or `fold`, wrapped) give way on a narrow terminal; `fit` keeps the others whole."""
    t = Table(box=None, header_style="bold", pad_edge=False)
    for col in columns:
        if col in fold:
            t.add_column(col, overflow="fold")
        elif col in flex:
            t.add_column(col, no_wrap=True, overflow="ellipsis")
        else:
            t.add_column(col, no_wrap=True, overflow="crop")
    return t


def fit(t: Table, width: int | None = None) -> Table:
    """Give each fixed column of a `listing` the width of its widest cell, and share what is
    left of the terminal's width among the free-text columns (Rich would otherwise shrink
    every column alike, down to nothing)."""

    def widest(col: Column) -> int:
        cells = [col.header, *col.cells]
        return max(cell_len(c.plain if isinstance(c, Text) else str(c)) for c in cells)

    free = (width or out.width) - 2 * (len(t.columns) - 1)
    flexible = []
    for col in t.columns:
        if col.overflow == "crop":
            col.min_width = widest(col)
            free -= col.min_width
        else:
            flexible.append(col)
    # Narrow columns keep their natural width; the widest share the rest evenly.
    flexible.sort(key=widest)
    for i, col in enumerate(flexible):
        share = max(4, free // (len(flexible) - i))
        col.max_width = min(widest(col), share)
        free -= col.max_width
    return t


# --------------------------------------------------------------------------- formatting


def when(ts: float | None) -> str:
    if not ts:
        return ""
    d = datetime.fromtimestamp(ts)
    if d.date() == datetime.now().date():
        return d.strftime("%H:%M:%S")
    return d.strftime("%Y-%m-%d %H:%M")


def status_text(job: Job) -> Text:
    style = {
        "succeeded": "green",
        "warning": "yellow",
        "failed": "red",
        "cancelled": "magenta",
        "running": "cyan",
        "cancelling": "yellow",
    }.get(str(job.status), "")
    return Text(f"{job.status.glyph} {job.status}", style=style)


def time_column(job: Job) -> str:
    if job.status.finished:
        return format_duration(job.duration())
    eta = job.eta()
    return f"ETA {format_duration(eta)}" if eta is not None else format_duration(job.duration())


def job_dict(job: Job) -> dict[str, Any]:
    d = dataclasses.asdict(job)
    d["status"] = str(job.status)
    d["trigger"] = str(job.trigger)
    d["total"] = job.total
    d["eta"] = job.eta()
    return d


def jobs_table(jobs: list[Job]) -> Table:
    t = listing(
        "ID",
        "TYPE",
        "TARGET",
        "USER",
        "STATUS",
        "TASKS",
        "FAILED",
        "STARTED",
        "TIME",
        "INFO",
        flex=("TARGET", "INFO"),
    )
    for j in jobs:
        t.add_row(
            str(j.id),
            Text(j.type),
            Text(sanitize(j.target)),
            Text(j.user),
            status_text(j),
            f"{j.done}/{j.total}",
            str(j.failed) if j.failed else "",
            when(j.started or j.created),
            time_column(j),
            Text(sanitize(j.info)),
        )
    return t


def print_log_line(line: LogLine, tty: bool) -> None:
    text = sanitize(line.text) if tty else line.text
    if line.stream == "stderr" and tty:
        err_style = "red"
        out.print(Text(text, style=err_style))
    elif line.stream == "system" and tty:
        out.print(Text(f"» {text}", style="dim"))
    else:
        # Raw data for pipes and files: no markup, no wrapping, no escapes added.
        sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------- commands


async def cmd_run(svc: Service, a: argparse.Namespace) -> int:
    # Submitted first: a bad parameter is one line (exit 2), not also the warning below.
    job = await svc.submit(a.type, parse_params(a.param))
    if not await svc.engine_alive():
        err.print(
            f"jobdash: no engine is running on {svc.store.path}: job {job.id} is queued and "
            "will start when one does — start one with `jobdash serve` (or open the "
            "dashboard, `jobdash`)"
        )
    if not (a.wait or a.follow):
        out.print(
            f"job {job.id} queued ({job.type}, {job.total} task{'s' if job.total != 1 else ''})"
        )
        return EXIT_OK
    err.print(f"job {job.id} submitted ({job.type}); Ctrl-C stops watching, not the job")
    return await follow_job(svc, job.id, show_log=a.follow)


async def follow_job(svc: Service, jid: int, show_log: bool) -> int:
    tty = out.is_terminal
    after = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=out,
        transient=False,
        disable=not tty,
    )
    with progress:
        bar = progress.add_task(f"job {jid}", total=None, status="")
        while True:
            job = await svc.job(jid)
            if show_log:
                lines = await svc.logs(jid, after=after, limit=5000)
                for line in lines:
                    print_log_line(line, tty)
                if lines:
                    after = lines[-1].seq
                    if len(lines) == 5000:
                        continue
            progress.update(
                bar,
                total=job.total or None,
                completed=job.done,
                status=f"{job.status.glyph} {job.status}",
            )
            if job.status.finished:
                break
            await asyncio.sleep(0.25)
    out.print(Text(f"job {job.id} {job.status}: {sanitize(job.info)}"))
    if job.metrics:
        out.print("  " + "  ".join(f"{k}={v:g}" for k, v in sorted(job.metrics.items())))
    return EXIT_OK if job.status in ("succeeded", "warning") else EXIT_FAILED


def jobs_query(a: argparse.Namespace) -> str:
    parts = list(a.query)
    parts += [f"status:{s}" for s in a.status] + [f"type:{t}" for t in a.type]
    parts += [f"user:{u}" for u in a.user]
    if a.since:
        parts.append(f"since:{a.since}")
    return " ".join(parts)


async def cmd_jobs(svc: Service, a: argparse.Namespace) -> int:
    jobs = await svc.jobs(jobs_query(a), limit=None if a.all else a.limit)
    if a.json:
        print(json.dumps([job_dict(j) for j in jobs], indent=2))
    elif not jobs:
        err.print("no jobs match")
    else:
        out.print(fit(jobs_table(jobs)))
    return EXIT_OK


async def cmd_show(svc: Service, a: argparse.Namespace) -> int:
    job = await svc.job(a.job)
    tasks = await svc.tasks(a.job)
    if a.json:
        d = job_dict(job)
        d["tasks"] = [dataclasses.asdict(t) | {"status": str(t.status)} for t in tasks]
        print(json.dumps(d, indent=2, default=str))
        return EXIT_OK
    out.print(Text.assemble(f"job {job.id}  ", (job.type, "bold"), "  ", status_text(job)))
    fields = [
        ("target", job.target),
        ("params", " ".join(f"{k}={v}" for k, v in job.params.items())),
        (
            "started by",
            f"{job.user} ({job.trigger}{', ' + job.schedule_id if job.schedule_id else ''})",
        ),
        ("created", when(job.created)),
        ("started", when(job.started)),
        ("finished", when(job.finished)),
        (
            "tasks",
            f"{job.done}/{job.total} done, {job.running} running, {job.failed} failed, {job.cancelled} cancelled",
        ),
        ("progress", f"{job.progress:.0f}%  {time_column(job)}"),
        ("info", job.info),
        ("metrics", "  ".join(f"{k}={v:g}" for k, v in sorted(job.metrics.items()))),
        ("warnings", str(job.warnings) if job.warnings else ""),
    ]
    for k, v in fields:
        if v:
            out.print(Text.assemble((f"{k:>11}: ", "dim"), sanitize(v)))
    t = listing(
        "#",
        "TASK",
        "STATUS",
        "TRY",
        "AGENT",
        "TIME",
        "EXIT",
        "ERROR",
        flex=("TASK",),
        fold=("ERROR",),
    )
    for task in tasks:
        dur = (task.finished or time.time()) - task.started if task.started else None
        t.add_row(
            str(task.seq),
            Text(sanitize(task.name)),
            f"{task.status.glyph} {task.status}",
            str(task.attempt),
            task.agent or "",
            format_duration(dur),
            "" if task.exit_code is None else str(task.exit_code),
            Text(sanitize(task.error)),
        )
    out.print()
    out.print(fit(t))
    return EXIT_OK


async def cmd_logs(svc: Service, a: argparse.Namespace) -> int:
    tty = out.is_terminal
    lines = await svc.logs(a.job, task=a.task, tail=a.tail)
    for line in lines:
        print_log_line(line, tty)
    after = lines[-1].seq if lines else 0
    while a.follow:
        job = await svc.job(a.job)
        lines = await svc.logs(a.job, after=after, task=a.task, limit=5000)
        for line in lines:
            print_log_line(line, tty)
        if lines:
            after = lines[-1].seq
        elif job.status.finished:
            break
        else:
            await asyncio.sleep(0.25)
    sys.stdout.flush()
    return EXIT_OK


async def cmd_action(svc: Service, a: argparse.Namespace) -> int:
    if a.command == "cancel":
        job = await svc.cancel(a.job, a.force)
        out.print(Text(f"job {job.id}: {job.status.glyph} {job.status}"))
    elif a.command == "pause":
        job = await svc.pause(a.job)
        out.print(f"job {job.id} paused")
    elif a.command == "resume":
        job = await svc.resume(a.job)
        out.print(f"job {job.id} resumed ({job.status})")
    else:
        n = await svc.retry(a.job)
        out.print(f"job {a.job}: {n} task{'s' if n != 1 else ''} queued again")
    return EXIT_OK


async def cmd_export(svc: Service, a: argparse.Namespace) -> int:
    jobs = await svc.jobs(" ".join(a.query))
    text = svc.export(jobs, a.format)
    if a.output:
        path = Path(a.output)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # never a half-written file
        err.print(f"{len(jobs)} jobs written to {path}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def cmd_clear(svc: Service, a: argparse.Namespace) -> int:
    n = await svc.clear(everyone=a.all)
    out.print(f"{n} finished job{'s' if n != 1 else ''} removed")
    return EXIT_OK


async def cmd_types(svc: Service, a: argparse.Namespace) -> int:
    types = sorted(svc.types.values(), key=lambda t: t.name)
    if a.json:
        print(json.dumps([dataclasses.asdict(t) for t in types], indent=2))
        return EXIT_OK
    t = listing(
        "TYPE",
        "KIND",
        "PARAMS",
        "PARALLEL",
        "RETRIES",
        "FLAGS",
        "SCHEDULE",
        "DESCRIPTION",
        fold=("PARAMS", "FLAGS", "DESCRIPTION"),
    )
    for jt in types:
        params = " ".join(p.name + ("*" if p.required else "") for p in jt.params)
        flags = [
            f
            for f, on in (("exclusive", jt.exclusive), ("not-cancellable", not jt.cancellable))
            if on
        ]
        flags += [f"lock {k}" for k in jt.locks]
        t.add_row(
            Text(jt.name),
            "python" if jt.function else "command",
            Text(params),
            str(jt.parallel),
            str(jt.retries),
            Text(", ".join(flags)),
            Text(jt.schedule or ""),
            Text(jt.description),
        )
    out.print(fit(t))
    return EXIT_OK


async def cmd_check(svc: Service, a: argparse.Namespace) -> int:
    cfg = svc.config
    where = str(cfg.path) if cfg.path else "no config file (defaults)"
    n = len(cfg.types)
    out.print(
        f"{where}: ok — {n} job type{'s' if n != 1 else ''}"
        + (f": {', '.join(sorted(cfg.types))}" if n else "")
    )
    return EXIT_OK


async def cmd_agents(svc: Service, a: argparse.Namespace) -> int:
    agents = await svc.agents()
    tasks = await svc.agent_tasks()
    now = time.time()
    if a.json:
        rows = []
        for info, drain in agents:
            d = dataclasses.asdict(info)
            d["drain"] = drain
            d["heartbeat_age"] = round(now - info.heartbeat, 1)
            d["tasks"] = [{"job": j, "task": q, "name": n} for j, q, n in tasks.get(info.name, [])]
            rows.append(d)
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not agents:
        err.print(
            "no agents have used this store yet (start one: `jobdash serve` or `jobdash agent`)"
        )
        return EXIT_OK
    t = listing(
        "NAME",
        "HOST",
        "PID",
        "STATE",
        "SLOTS",
        "TASKS",
        "HEARTBEAT",
        "DONE",
        "FAILED",
        "STARTED",
        flex=("TASKS",),
    )
    for info, _drain in agents:
        mine = tasks.get(info.name, []) if info.state != "offline" else []
        shown = ", ".join(f"{j}#{q} {n}" for j, q, n in mine[:3]) + (
            f" +{len(mine) - 3}" if len(mine) > 3 else ""
        )
        t.add_row(
            Text(info.name),
            Text(info.host),
            str(info.pid),
            info.state,
            f"{len(mine) if mine else info.running}/{info.slots}",
            Text(sanitize(shown)),
            format_duration(max(0.0, now - info.heartbeat)) + " ago",
            str(info.done),
            str(info.failed),
            when(info.started),
        )
    out.print(fit(t))
    return EXIT_OK


def schedule_dict(s: Schedule) -> dict[str, Any]:
    return dataclasses.asdict(s)


def zoned(ts: float | None, tz: str) -> str:
    """A time in the schedule's own zone, with its abbreviation (CET, CEST…); today's with
    seconds, other days' with the date."""
    if not ts:
        return ""
    try:
        d = datetime.fromtimestamp(ts, ZoneInfo(tz))
    except Exception:
        d = datetime.fromtimestamp(ts).astimezone()
    if d.date() == datetime.now(d.tzinfo).date():
        return d.strftime("%H:%M:%S %Z")
    return d.strftime("%Y-%m-%d %H:%M %Z")


def last_glyph(s: Schedule) -> Text:
    if not s.last_status:
        return Text("·", style="dim")
    job = JobStatus(s.last_status)
    style = {"succeeded": "green", "failed": "red", "warning": "yellow"}.get(job, "cyan")
    return Text(job.glyph, style=style)


async def cmd_schedules(svc: Service, a: argparse.Namespace) -> int:
    schedules = await svc.schedules()
    if a.json:
        print(json.dumps([schedule_dict(s) for s in schedules], indent=2))
        return EXIT_OK
    if not schedules:
        err.print(
            "no schedules (a job type gets one with `schedule = ...` in the config; "
            "an engine publishes them)"
        )
        return EXIT_OK
    # A schedule from the config is named after its type: the TYPE column then says nothing
    # new, and the planning needs the room on an 80-column terminal.
    with_type = any(s.type != s.id for s in schedules)
    columns = ["", "ID", *(["TYPE"] if with_type else []), "PLANNING", "TZ", "ENABLED"]
    t = listing(*columns, "LAST RUN", "NEXT RUN", flex=("PLANNING",))
    for s in schedules:
        planning = s.effective + (" *" if s.source == "admin" else "")
        last = f"job {s.last_job} {zoned(s.last_run, s.timezone)}" if s.last_job else ""
        t.add_row(
            last_glyph(s),
            Text(s.id),
            *([Text(s.type)] if with_type else []),
            Text(planning),
            s.timezone,
            "yes" if s.enabled else "paused",
            Text(last.strip()),
            zoned(s.next_run, s.timezone),
        )
    out.print(fit(t))
    if any(s.source == "admin" for s in schedules):
        err.print(
            "* changed at run time by an admin (kept across restarts; "
            "`jobdash schedule set ID --automatic` reverts)"
        )
    return EXIT_OK


def planning_from_args(a: argparse.Namespace) -> str | None:
    if a.cron:
        return f"cron: {a.cron}"
    if a.every:
        return f"interval: {a.every}"
    if a.daily:
        return f"daily: {a.daily}"
    if a.once:
        return f"once: {a.once}"
    if a.disabled:
        return "disabled"
    if a.automatic:
        return "automatic"
    return None


async def cmd_schedule(svc: Service, a: argparse.Namespace) -> int:
    action = a.schedule_action
    if action == "run":
        job = await svc.run_schedule_now(a.id)
        n = job.total
        out.print(f"schedule {a.id}: job {job.id} queued ({job.type}, {n} task{'s' * (n != 1)})")
    elif action in ("enable", "disable"):
        s = await (svc.enable(a.id) if action == "enable" else svc.disable(a.id))
        nxt = f"; next run {zoned(s.next_run, s.timezone)}" if s.next_run else ""
        out.print(f"schedule {s.id} {action}d{nxt}")
    elif action == "set":
        planning = planning_from_args(a)
        bound = parse_duration(a.catchup_bound, "--catchup-bound") if a.catchup_bound else None
        if planning is None and a.tz is None and not (a.overlap or a.catchup or bound):
            raise BadInput(
                "schedule set: nothing to change (give --cron, --every, --daily, --once, "
                "--disabled, --automatic, --tz, --overlap or --catchup)"
            )
        if planning is not None or a.tz is not None:
            current = await svc.schedule(a.id)
            await svc.set_planning(a.id, planning or current.planning, a.tz)
        if a.overlap or a.catchup or bound:
            await svc.set_schedule_policy(a.id, a.overlap, a.catchup, bound)
        s = await svc.schedule(a.id)
        out.print(
            Text(
                f"schedule {s.id}: {s.effective} ({s.timezone}), overlap {s.overlap}, "
                f"catch-up {s.catchup}"
            )
        )
        upcoming = svc.next_fire_times(s.planning, s.timezone, 5, default=s.config_planning)
        for at in upcoming:
            out.print(f"  next: {at.strftime('%a %Y-%m-%d %H:%M %Z')}")
    else:
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
            catchup += f" within {format_duration(s.catchup_bound or CATCHUP_BOUND)}"
        last = ""
        if s.last_job:
            last = f"job {s.last_job} {s.last_status or ''} at {zoned(s.last_run, s.timezone)}"
        recipients = ", ".join((*s.report.email, *s.report.webhook))
        fields = [
            ("type", s.type),
            ("planning", s.effective + origin),
            ("time zone", s.timezone),
            ("enabled", "yes" if s.enabled else "no (paused)"),
            ("overlap", s.overlap),
            ("catch-up", catchup),
            ("reports to", f"{recipients} (and the type's recipients)" if recipients else ""),
            ("last run", last),
            ("next run", zoned(s.next_run, s.timezone)),
        ]
        out.print(Text.assemble("schedule ", (s.id, "bold")))
        for k, v in fields:
            if v:
                out.print(Text.assemble((f"{k:>10}: ", "dim"), sanitize(v)))
        t = listing("FIRE TIME", "OUTCOME", "JOB", "DETAIL", fold=("DETAIL",))
        for tick in ticks:
            t.add_row(
                zoned(tick.fire_time, s.timezone),
                tick.outcome,
                str(tick.job_id or ""),
                Text(sanitize(tick.detail)),
            )
        out.print()
        out.print(t if ticks else Text("no ticks yet", style="dim"))
    return EXIT_OK


async def cmd_serve(svc: Service, a: argparse.Namespace) -> int:
    if getattr(a, "action", None) == "drain":
        if not a.target:
            raise BadInput(
                "agent drain: which agent? (jobdash agent drain NAME; see `jobdash agents`)"
            )
        await svc.drain_agent(a.target)
        out.print(f"agent {a.target} draining: it finishes its running tasks and claims no more")
        return EXIT_OK
    if getattr(a, "target", None):
        raise BadInput(
            f"agent: unexpected argument {a.target!r} (did you mean `agent drain NAME`?)"
        )
    logging.basicConfig(level=logging.WARNING, format="jobdash %(name)s: %(message)s")
    loop = asyncio.get_running_loop()
    engine = await svc.start_engine(
        slots=a.slots, name=a.name, lease=a.lease, scheduler=a.command == "serve"
    )
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            err.print(
                f"jobdash: stopping: no new tasks; running ones get {a.grace:g}s (signal again to stop now)"
            )
        else:
            err.print("jobdash: stopping now: killing running tasks and giving their claims back")
            engine.hurry()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    err.print(
        f"jobdash {a.command}: agent {engine.name} with {a.slots} slots on {svc.store.path} "
        f"(pid {os.getpid()}, lease {engine.opts.lease:g}s)"
    )
    await stop.wait()
    await svc.stop_scheduler()  # the leader lease goes to another engine at once
    await engine.shutdown(timeout=a.grace)
    svc.engine = None
    err.print(f"jobdash {a.command}: agent {engine.name} stopped")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Service, argparse.Namespace], Awaitable[int]]] = {
    "run": cmd_run,
    "jobs": cmd_jobs,
    "show": cmd_show,
    "logs": cmd_logs,
    "cancel": cmd_action,
    "pause": cmd_action,
    "resume": cmd_action,
    "retry": cmd_action,
    "export": cmd_export,
    "clear": cmd_clear,
    "types": cmd_types,
    "check": cmd_check,
    "serve": cmd_serve,
    "agent": cmd_serve,
    "schedules": cmd_schedules,
    "schedule": cmd_schedule,
    "agents": cmd_agents,
}


def cmd_schedule_preview(a: argparse.Namespace) -> int:
    """`schedule preview`: computed from the planning text alone; no store is opened."""
    tz = a.tz or config_timezone(a.config)
    times = [t.isoformat() for t in preview_planning(a.planning, tz, a.count, a.start)]
    print(json.dumps(times) if a.json else "\n".join(times))
    return EXIT_OK


async def run_command(a: argparse.Namespace) -> int:
    if a.command == "schedule" and a.schedule_action == "preview":
        return cmd_schedule_preview(a)
    svc = await Service.open(db=a.db, config=a.config, demo=getattr(a, "demo", False))
    try:
        return await COMMANDS[a.command](svc, a)
    finally:
        await svc.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """argparse, plus the query's negations: `jobdash jobs -status:failed` is a query term,
    not an unknown option."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    for name in ("db", "config"):
        if not hasattr(args, name):
            setattr(args, name, None)
    if extra:
        if getattr(args, "command", None) in ("jobs", "export") and all(
            re.fullmatch(r"-[A-Za-z_]+:.*", x) for x in extra
        ):
            args.query = [*args.query, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command is None:
            from jobdash.tui.app import run_dashboard

            return run_dashboard(args)
        return asyncio.run(run_command(args))
    except BadInput as e:
        err.print(f"jobdash: {e}")
        return EXIT_USAGE
    except Refused as e:
        err.print(f"jobdash: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
