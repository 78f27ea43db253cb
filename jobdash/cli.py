"""The command line: every command goes through `core.service`.

Exit status: 0 success, 1 the job failed or the request was refused, 2 bad usage or input.
The dashboard (Textual) is imported only when it is opened, so `jobdash jobs` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
import logging
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from rich.cells import cell_len
from rich.console import Console
from rich.progress import Progress, TextColumn
from rich.table import Column, Table
from rich.text import Text

from jobdash import __version__
from jobdash.core.model import (
    MAX_ID,
    MAX_PARALLEL,
    BadInput,
    Job,
    LogLine,
    Refused,
)
from jobdash.core.planning import PREVIEW_MAX, Schedule
from jobdash.core.service import (
    CATCHUP_BOUND,
    Service,
    config_timezone,
    db_command,
    open_output,
    parse_duration,
    preview_planning,
    read_config,
    zone,
)
from jobdash.present.durations import duration, job_time, task_time
from jobdash.present.logs import LABEL_WIDTH, TaskLabels
from jobdash.present.planning import join_planning
from jobdash.present.progress import progress_bar, progress_count
from jobdash.present.recovery import attempt_mark, quarantine_warning
from jobdash.present.status import (
    SCHEDULE_STATE_TONES,
    Look,
    Tone,
    agent_look,
    last_run_look,
    look,
)
from jobdash.present.text import clip, name_problem, sanitize, sanitize_lines
from jobdash.present.times import abbreviation, beside, clock, fire_times, header
from jobdash.present.words import plural

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FOLLOW_BAR = 30  # cells of `run --follow`'s progress bar

# Nothing printed is read as markup or emoji codes: data is shown as written (see `safe`).
out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("jobdash").strip()
        # argparse quotes some arguments raw: a newline or escape in one stays visible, inert.
        err.print(safe(f"jobdash: {where + ': ' if where else ''}{message} (see --help)"))
        sys.exit(EXIT_USAGE)


FILTER_HELP = """\
filter text (the dashboard's filter bar speaks the same language):
  status:failed        a status (queued waiting running paused finalizing cancelling
                       succeeded warning failed cancelled) or a group (active, finished)
  type:import          job types starting with "import"
  user:alice           jobs started by alice
  since:2h             created within the last 2 hours (30s, 10m, 1d, 2w …)
  id:12  target:/srv  trigger:schedule
  -field:value         negates: -status:succeeded
  words                every word must appear in the type, target, user, info, id or
                       a parameter value; "quote several words" to search them together
Several values of one field are alternatives: status:failed,cancelled is the same as
status:failed status:cancelled, and -status:failed,cancelled excludes both; different
fields must all match. A value with quotes is taken whole: target:"a,b".
"""


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
    p.add_argument("--slots", type=slots_arg, default=4, help="task slots of the embedded engine")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name: str, help: str, *parents: Parser) -> Parser:
        return sub.add_parser(name, help=help, description=help, parents=[common, *parents])

    for name, help in (
        ("serve", "run the engine headless (scheduler + agent)"),
        ("agent", "run an agent only, or drain|undrain agent NAME"),
    ):
        s = cmd(name, help)
        s.add_argument(
            "--slots", type=slots_arg, default=argparse.SUPPRESS, help="tasks run at once"
        )
        s.add_argument("--name", type=agent_name, help="agent name (default: host-pid)")
        s.add_argument(
            "--grace",
            type=grace_arg,
            default=30.0,
            help="seconds running tasks get to finish on SIGTERM",
        )
        s.add_argument(
            "--demo", action="store_true", default=argparse.SUPPRESS, help="load the demo job types"
        )
        s.add_argument(
            "--lease",
            type=lease_arg,
            metavar="SECONDS",
            help="seconds a claim lasts without renewal (default 15, or $JOBDASH_LEASE): a dead "
            "agent's tasks run again within lease + 2 s",
        )
        if name == "agent":
            s.add_argument(
                "action",
                nargs="?",
                choices=["drain", "undrain"],
                help="drain NAME: let agent NAME finish its tasks and claim no more; "
                "undrain NAME: let it claim again",
            )
            s.add_argument(
                "target", nargs="?", metavar="NAME", help="the agent to drain or undrain"
            )

    cmd("agents", "agents: state, slots, current tasks, heartbeat", as_json)

    s = cmd("run", "submit a job", as_json)
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
    s.epilog, s.formatter_class = FILTER_HELP, argparse.RawDescriptionHelpFormatter
    s.add_argument(
        "query",
        nargs="*",
        help="filter text: status:failed type:a,b user:y since:1h -field:value words (see below)",
    )
    s.add_argument("--status", action="append", default=[], help="as status:VALUE[,VALUE…]")
    s.add_argument("--type", action="append", default=[], help="as type:VALUE[,VALUE…]")
    s.add_argument("--user", action="append", default=[], help="as user:VALUE[,VALUE…]")
    s.add_argument("--since", help="e.g. 1h, 2d")
    s.add_argument("--limit", type=count_arg, default=50, help="at most this many (default 50)")
    s.add_argument("--all", action="store_true", help="no limit")

    s = cmd("show", "one job with its tasks", as_json)
    s.add_argument("job", type=job_id)

    s = cmd("logs", "a job's log lines (--json: one JSON object a line)", as_json)
    s.add_argument("job", type=job_id)
    s.add_argument("-f", "--follow", action="store_true", help="keep printing while the job runs")
    s.add_argument("--task", type=count_arg, metavar="N", help="only task N")
    s.add_argument("--tail", type=count_arg, metavar="N", help="only the last N lines")

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
    s2.add_argument("--limit", type=count_arg, default=30, help="ticks shown (default 30)")
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
        type=whole_number(1, PREVIEW_MAX),
        default=5,
        metavar="N",
        help=f"how many (default 5, at most {PREVIEW_MAX})",
    )
    cmd("types", "job types", as_json)
    cmd("check", "validate the config file", as_json)
    s = cmd("db", "the store: `db init [URL]` creates its schema (idempotent); `db grant USER`")
    s.add_argument("db_action", choices=["init", "grant"], metavar="init|grant")
    s.add_argument("url", nargs="?", metavar="URL|USER", help="init: the store; grant: the user")
    s.add_argument("--admin", action="store_true", help="grant: as an admin (sees all)")
    return p


class InertFormatter(logging.Formatter):
    """The engine's log messages quote names, error texts and job output: each line of a
    record is made inert like any other data."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(sanitize(line) for line in super().format(record).split("\n"))


def _shown(text: str) -> str:
    """An argument quoted in a message: escapes visible, on one line, not too long."""
    return repr(text) if len(text) <= 40 else repr(text[:36]) + "…"


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number (ASCII digits) from `lo` to `hi`. The one place the
    command line's numbers are bounded, so that none reaches SQLite (64-bit integers) or a
    loop too big to mean anything."""

    def parse(text: str) -> int:
        m = re.fullmatch(r"\s*([+-]?)([0-9]+)\s*", text)
        if m is None:
            raise argparse.ArgumentTypeError(f"not a whole number: {_shown(text)}")
        digits = m.group(2).lstrip("0") or "0"
        # Beyond 20 digits the value is out of any range here; int() of a 5,000-digit
        # string would refuse with a ValueError about Python's limits.
        n = int(m.group(1) + digits) if len(digits) <= 20 else None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {lo} to {hi}, got {_shown(text.strip())}"
            )
        return n

    return parse


def seconds_between(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds from `lo` to `hi`; never NaN or infinity (a
    lease or grace period that never ends is not one)."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {_shown(text)}") from None
        if not lo <= x <= hi:  # False for NaN too
            raise argparse.ArgumentTypeError(
                f"must be from {lo:g} to {hi:g} seconds, got {_shown(text.strip())}"
            )
        return x

    return parse


slots_arg = whole_number(1, MAX_PARALLEL)
count_arg = whole_number(1, MAX_ID)  # --limit, --tail, --task
lease_arg = seconds_between(1.0, 3600.0)
grace_arg = seconds_between(0.0, 86400.0)


def agent_name(text: str) -> str:
    """An agent's name: shown on other people's terminals (`jobdash agents`, the dashboard)
    and used by `agent drain NAME`: visible, printable and short."""
    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"the agent name {problem}")
    return text


def job_id(text: str) -> int:
    """A job id, as shown (`12`) or as the dashboard copies it (`#12`)."""
    if not re.fullmatch(r"\s*#?[0-9]+\s*", text):
        raise argparse.ArgumentTypeError(f"not a job id: {_shown(text)}")
    return whole_number(1, MAX_ID)(text.strip().lstrip("#"))


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """`-p KEY=VALUE` pairs; a key given twice is refused (which one was meant?)."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise BadInput(f"-p {_shown(pair)}: expected KEY=VALUE")
        if key in params:
            raise BadInput(
                f"-p {_shown(key)} is given twice ({_shown(params[key])} and {_shown(value)}): "
                "give each parameter once"
            )
        params[key] = value
    return params


class Listing(Table):
    """A plain table for listings (see `listing`), with the columns that may be left out,
    first to go first, when a terminal is too narrow for all of them."""

    drop: tuple[str, ...] = ()


def listing(
    *columns: str,
    flex: Sequence[str] = (),
    fold: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> Listing:
    """A plain table for listings. Only the free-text columns (`flex`, cut with an ellipsis,
    or `fold`, wrapped) give way on a narrow terminal; `fit` keeps the others whole, and
    leaves out the columns of `drop` (in that order) when they would not fit otherwise."""
    t = Listing(box=None, header_style="bold", pad_edge=False)
    t.drop = tuple(drop)
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
    every column alike, down to nothing). A free-text column keeps at least its title's
    width; when even that does not fit, the listing's `drop` columns go, one by one."""

    def widest(col: Column) -> int:
        return max(cell_len(c) for c in plain_cells(col))

    def least(col: Column) -> int:
        title = cell_len(plain_cells(col)[0])
        return widest(col) if col.overflow == "crop" else min(widest(col), title)

    width = width or out.width
    for label in getattr(t, "drop", ()):
        if sum(least(c) for c in t.columns) + 2 * (len(t.columns) - 1) <= width:
            break
        t.columns = [c for c in t.columns if c.header != label]
    free = width - 2 * (len(t.columns) - 1)
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
        share = max(least(col), 4, free // (len(flexible) - i))
        col.max_width = min(widest(col), share)
        free -= col.max_width
    return t


def plain_cells(col: Column) -> list[str]:
    """A column's header and cells as plain text."""
    return [c.plain if isinstance(c, Text) else str(c) for c in (col.header, *col.cells)]


def show_table(t: Table) -> None:
    """Print a `listing`. On a terminal it fits the terminal's width. Anywhere else (a pipe,
    a file) there is no width to fit: like `kubectl get` and `git branch`, the same columns
    and header are written whole, each column as wide as its widest value, nothing cut or
    wrapped and no styles, so `grep`, `less -S` and `cut` see every value; programs use
    `--json`."""
    if out.is_terminal:
        out.print(fit(t))
        return
    columns = [plain_cells(col) for col in t.columns]
    widths = [max(map(cell_len, cells)) for cells in columns]
    for row in zip(*columns, strict=True):
        padded = (cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=True))
        sys.stdout.write("  ".join(padded).rstrip() + "\n")


# --------------------------------------------------------------------------- formatting


def safe(text: object) -> Text:
    """Text that jobdash did not write itself (names, info, errors), made inert: control
    characters become visible stand-ins, and a `Text` is never read as markup."""
    return Text(sanitize(str(text)))


def cell(text: str) -> Text:
    """A listing's cell of free text (a target, an info line, parameters): inert, and cut
    at `CELL_LIMIT` cells, piped too, so that one long value cannot widen every row
    (`show` and `--json` give it whole)."""
    return Text(clip(sanitize(text)))


def when(ts: float | None, shown: str | None = None) -> str:
    """A time in the viewer's zone, the command line's way ("14:03:22" today, else
    "2026-11-20 14:03"), labelled with its zone unless `shown` (its column's) says it."""
    return clock(ts or None, time.time(), label=shown or True)


# A status's tone (`jobdash.present.status`) as the command line colours it.
TONE_STYLE: dict[Tone, str] = {
    Tone.QUIET: "dim",
    Tone.ACTIVE: "cyan",
    Tone.WARN: "yellow",
    Tone.GOOD: "green",
    Tone.BAD: "red",
}


def toned(shown: Look) -> Text:
    """A status's glyph and word in its tone's colour."""
    return Text(shown.text, style=TONE_STYLE[shown.tone])


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def job_dict(job: Job) -> dict[str, Any]:
    d = dataclasses.asdict(job)
    d["status"] = str(job.status)
    d["trigger"] = str(job.trigger)
    d["total"] = job.total
    d["eta"] = job.eta()
    d["duration"] = job.duration()
    return d


def jobs_table(jobs: list[Job]) -> Table:
    now = time.time()
    zone = abbreviation(now)
    t = listing(
        "ID",
        "TYPE",
        "TARGET",
        "USER",
        "STATUS",
        "TASKS",
        "FAILED",
        header("STARTED", now),
        "TIME",
        "INFO",
        flex=("TARGET", "INFO"),
        drop=("USER", header("STARTED", now)),
    )
    for j in jobs:
        t.add_row(
            str(j.id),
            safe(j.type),
            cell(j.target),
            safe(j.user),
            toned(look(j.status)),
            progress_count(j),
            str(j.failed) if j.failed else "",
            when(j.started, zone),  # blank until its first task starts, as in `show`
            job_time(j, now),
            cell(j.info),
        )
    return t


def print_log_line(line: LogLine, tty: bool, labels: TaskLabels | None = None) -> None:
    """One log line, inert: its control characters become visible stand-ins in a pipe too
    (piped output mostly ends on a terminal: `| less`, `| tail`). With `labels` (the job
    has several tasks) the line starts with its task's label, aligned; output of an
    earlier attempt of its task says so."""
    text = attempt_mark(line) + sanitize(line.text)
    label = f"{labels.padded(line)} | " if labels is not None else ""
    if not tty:
        # No markup, no wrapping, no escapes added.
        sys.stdout.write(label + text + "\n")
        return
    shown = Text()
    shown.append(label, style="dim")
    if line.stream == "stderr":
        shown.append(text, style="red")
    elif line.stream == "system":
        shown.append(f"» {text}", style="dim")
    elif not label:
        sys.stdout.write(text + "\n")
        return
    else:
        shown.append(text)
    out.print(shown, soft_wrap=True)


class LogPrinter:
    """Prints a job's log lines as they come; once the job has more than one task, each
    line says which task printed it (the tasks of a job run side by side)."""

    def __init__(
        self,
        svc: Service,
        job_id: int,
        tty: bool,
        one_task: bool = False,
        as_json: bool = False,
    ) -> None:
        self.svc = svc
        self.job_id = job_id
        self.tty = tty
        self.one_task = one_task  # `--task N`: every line is that task's
        self.as_json = as_json  # JSON lines: one object a line, also while following
        self.labels = TaskLabels(cut=LABEL_WIDTH if tty else None)

    async def print(self, lines: Sequence[LogLine]) -> None:
        if self.as_json:
            for line in lines:
                sys.stdout.write(json.dumps(dataclasses.asdict(line)) + "\n")
            return
        if not self.one_task and not all(self.labels.knows(line) for line in lines):
            self.labels.update(await self.svc.tasks(self.job_id))
        labels = self.labels if len(self.labels) > 1 else None
        for line in lines:
            print_log_line(line, self.tty, labels)


# --------------------------------------------------------------------------- commands


async def cmd_run(svc: Service, a: argparse.Namespace) -> int:
    if a.json and a.follow:
        raise BadInput(
            "run: --follow streams the log as text; with --json use --wait "
            "(and `jobdash logs ID -f --json` for the log)"
        )
    # Submitted first: a bad parameter is one line (exit 2), not also the warning below.
    job = await svc.submit(a.type, parse_params(a.param))
    if not await svc.engine_alive():
        err.print(
            safe(
                f"jobdash: no engine is running on {svc.location}: job {job.id} is queued "
                "and will start when one does — start one with `jobdash serve` (or open the "
                "dashboard, `jobdash`)"
            )
        )
    if not (a.wait or a.follow):
        if a.json:
            print_json(job_dict(job))
            return EXIT_OK
        out.print(safe(f"job {job.id} queued ({job.type}, {plural(job.total, 'task')})"))
        return EXIT_OK
    err.print(safe(f"job {job.id} submitted ({job.type}); Ctrl-C stops watching, not the job"))
    return await follow_job(svc, job.id, show_log=a.follow, as_json=a.json)


async def follow_job(svc: Service, jid: int, show_log: bool, as_json: bool = False) -> int:
    tty = out.is_terminal and not as_json
    after = 0
    printer = LogPrinter(svc, jid, tty)
    # The dashboard's bar and count (jobdash.present.progress), drawn by Rich's live display.
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.fields[bar]}", markup=False),
        TextColumn("{task.fields[status]}", markup=False),
        TextColumn("{task.fields[elapsed]}", markup=False),  # the job's own: stops while paused
        console=out,
        transient=False,
        disable=not tty,
    )
    with progress:
        bar = progress.add_task(f"job {jid}", total=None, bar="", status="", elapsed="")
        while True:
            job = await svc.job(jid)
            if show_log:
                lines = await svc.logs(jid, after=after, limit=5000)
                await printer.print(lines)
                if lines:
                    after = lines[-1].seq
                    if len(lines) == 5000:
                        continue
            progress.update(
                bar,
                bar=f"{progress_bar(job, FOLLOW_BAR)} {progress_count(job)}".rstrip(),
                status=look(job.status).text,
                elapsed=duration(job.duration()),
            )
            if job.status.finished:
                break
            await asyncio.sleep(0.25)
    if as_json:
        print_json(job_dict(job))
    else:
        out.print(safe(f"job {job.id} {job.status}: {job.info}"))
    if job.metrics and not as_json:
        out.print(safe("  " + "  ".join(f"{k}={v:g}" for k, v in sorted(job.metrics.items()))))
    return EXIT_OK if job.status in ("succeeded", "warning") else EXIT_FAILED


def jobs_query(a: argparse.Namespace) -> str:
    parts = list(a.query)
    # Quoted as the filter language reads it: `--type "my type"` stays one value.
    for name in ("status", "type", "user"):
        parts += [f"{name}:{shlex.quote(v)}" for v in getattr(a, name)]
    if a.since:
        parts.append(f"since:{shlex.quote(a.since)}")
    return " ".join(parts)


async def cmd_jobs(svc: Service, a: argparse.Namespace) -> int:
    jobs = await svc.jobs(jobs_query(a), limit=None if a.all else a.limit)
    if a.json:
        print(json.dumps([job_dict(j) for j in jobs], indent=2))
    elif not jobs:
        err.print("no jobs match")
    else:
        show_table(jobs_table(jobs))
    return EXIT_OK


async def cmd_show(svc: Service, a: argparse.Namespace) -> int:
    job = await svc.job(a.job)
    tasks = await svc.tasks(a.job)
    if a.json:
        d = job_dict(job)
        d["tasks"] = [dataclasses.asdict(t) | {"status": str(t.status)} for t in tasks]
        print(json.dumps(d, indent=2, default=str))
        return EXIT_OK
    out.print(
        Text.assemble(
            f"job {job.id}  ", (sanitize(job.type), "bold"), "  ", toned(look(job.status))
        )
    )
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
            f"{job.worked}/{job.total} done, {job.running} running, {job.failed} failed, {job.cancelled} cancelled",
        ),
        ("progress", f"{job.progress:.0f}%  {job_time(job, time.time())}".rstrip()),
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
    now = time.time()
    for task in tasks:
        t.add_row(
            str(task.seq),
            safe(task.name),
            look(task.status).text,
            str(task.attempt),
            safe(task.agent or ""),
            task_time(task, now),
            "" if task.exit_code is None else str(task.exit_code),
            safe(task.error),
        )
    out.print()
    show_table(t)
    return EXIT_OK


async def cmd_logs(svc: Service, a: argparse.Namespace) -> int:
    printer = LogPrinter(svc, a.job, out.is_terminal, one_task=a.task is not None, as_json=a.json)
    lines = await svc.logs(a.job, task=a.task, tail=a.tail)
    await printer.print(lines)
    after = lines[-1].seq if lines else 0
    while a.follow:
        job = await svc.job(a.job)
        lines = await svc.logs(a.job, after=after, task=a.task, limit=5000)
        await printer.print(lines)
        sys.stdout.flush()
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
        out.print(Text(f"job {job.id}: {look(job.status).text}"))
    elif a.command == "pause":
        job = await svc.pause(a.job)
        out.print(f"job {job.id} paused")
    elif a.command == "resume":
        job = await svc.resume(a.job)
        out.print(f"job {job.id} resumed ({job.status})")
    else:
        quarantined = await svc.quarantined_tasks(a.job)
        n = await svc.retry(a.job)
        out.print(f"job {a.job}: {plural(n, 'task')} queued again")
        for task in quarantined:
            err.print(Text(f"jobdash: warning: {sanitize(quarantine_warning(task))}"))
    return EXIT_OK


async def cmd_export(svc: Service, a: argparse.Namespace) -> int:
    jobs = await svc.jobs(" ".join(a.query))
    text = svc.export(jobs, a.format)
    with open_output(a.output or "-") as f:
        # Into a file or a pipe it is data, written as it is; on a terminal it is read,
        # and a parameter's escape (an OSC 52 clipboard write …) must not act.
        f.write(sanitize_lines(text) if f.isatty() else text)
    if a.output and a.output != "-":
        err.print(safe(f"{plural(len(jobs), 'job')} written to {a.output}"))
    return EXIT_OK


async def cmd_clear(svc: Service, a: argparse.Namespace) -> int:
    n = await svc.clear(everyone=a.all)
    out.print(f"{plural(n, 'finished job')} removed")
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
            safe(jt.name),
            "python" if jt.function else "command",
            safe(params),
            str(jt.parallel),
            str(jt.retries),
            safe(", ".join(flags)),
            safe(jt.schedule or ""),
            safe(jt.description),
        )
    show_table(t)
    return EXIT_OK


def cmd_check(a: argparse.Namespace) -> int:
    """`check`: the config alone; no store is opened (or created)."""
    cfg = read_config(a.config)
    where = str(cfg.path) if cfg.path else "no config file (defaults)"
    if cfg.keymap:
        from jobdash.tui.keymap import check_keymap  # the dashboard's bindings (Textual)

        check_keymap(cfg.keymap, where)
    if a.json:  # a bad file never gets here: it is one line on stderr and exit status 2
        print_json(
            {"config": str(cfg.path) if cfg.path else None, "ok": True, "types": sorted(cfg.types)}
        )
        return EXIT_OK
    n = len(cfg.types)
    out.print(
        safe(
            f"{where}: ok — {plural(n, 'job type')}"
            + (f": {', '.join(sorted(cfg.types))}" if n else "")
        )
    )
    return EXIT_OK


async def cmd_agents(svc: Service, a: argparse.Namespace) -> int:
    agents = await svc.agents()
    tasks = await svc.agent_tasks()
    pruned = await svc.pruned_agents()
    now = time.time()
    if a.json:
        rows: list[dict[str, Any]] = []
        for info, drain in agents:
            d = dataclasses.asdict(info)
            d["drain"] = drain
            d["heartbeat_age"] = round(now - info.heartbeat, 1)
            d["tasks"] = [{"job": j, "task": q, "name": n} for j, q, n in tasks.get(info.name, [])]
            rows.append(d)
        if pruned.agents:  # one aggregate row: what the pruned agents had done
            rows.append({"name": None, "state": "pruned", **dataclasses.asdict(pruned)})
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
        header("STARTED", now),
        flex=("TASKS",),
    )
    for info, _drain in agents:
        mine = tasks.get(info.name, []) if info.state != "offline" else []
        shown = ", ".join(f"{j}#{q} {n}" for j, q, n in mine[:3]) + (
            f" +{len(mine) - 3}" if len(mine) > 3 else ""
        )
        t.add_row(
            safe(info.name),
            safe(info.host),
            str(info.pid),
            toned(agent_look(info.state)),
            f"{info.running}/{info.slots}",
            cell(shown),
            duration(max(0.0, now - info.heartbeat)) + " ago",
            str(info.done),
            str(info.failed),
            when(info.started, abbreviation(now)),
        )
    if pruned.agents:
        name = f"({plural(pruned.agents, 'pruned agent')})"
        pruned_look = toned(agent_look("pruned"))
        t.add_row(name, "", "", pruned_look, "", "", "", str(pruned.done), str(pruned.failed), "")
    show_table(t)
    return EXIT_OK


def schedule_dict(s: Schedule) -> dict[str, Any]:
    return dataclasses.asdict(s) | {"state": s.state, "error": s.error}


def state_text(s: Schedule) -> Text:
    return Text(s.state_text, style=TONE_STYLE[SCHEDULE_STATE_TONES[s.state]])


def last_glyph(s: Schedule) -> Text:
    shown = last_run_look(s.last_status)
    return Text(shown.glyph, style=TONE_STYLE[shown.tone])


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
    # TZ is each schedule's zone, in which its planning is read; the times are the viewer's.
    now = time.time()
    shown = abbreviation(now)
    columns = ["", "ID", *(["TYPE"] if with_type else []), "PLANNING", "TZ", "STATE"]
    t = listing(*columns, header("LAST RUN", now), header("NEXT RUN", now), flex=("PLANNING",))
    for s in schedules:
        planning = s.effective + (" *" if s.source == "admin" else "")
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
            out.print(safe(f"✘ {s.id}: fire time {when(s.last_tick)} failed: {s.error}"))
    if any(s.source == "admin" for s in schedules):
        err.print(
            "* changed at run time by an admin (kept across restarts; "
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


async def cmd_schedule(svc: Service, a: argparse.Namespace) -> int:
    action = a.schedule_action
    if action == "run":
        job = await svc.run_schedule_now(a.id)
        n = job.total
        out.print(safe(f"schedule {a.id}: job {job.id} queued ({job.type}, {plural(n, 'task')})"))
    elif action in ("enable", "disable"):
        s = await (svc.enable(a.id) if action == "enable" else svc.disable(a.id))
        nxt = f"; next run {when(s.next_run)}" if s.next_run else ""
        if s.state == "manual only":
            nxt = "; still manual only: its planning is disabled (`schedule set` gives it one)"
        out.print(safe(f"schedule {s.id} {action}d{nxt}"))
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
            safe(
                f"schedule {s.id}: {s.effective} ({s.timezone}), overlap {s.overlap}, "
                f"catch-up {s.catchup}"
            )
        )
        upcoming = svc.next_fire_times(s.planning, s.timezone, 5, default=s.config_planning)
        for at in fire_times(upcoming):  # in the schedule's zone, labelled
            out.print(f"  next: {at}")
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
            catchup += f" within {duration(s.catchup_bound or CATCHUP_BOUND)}"
        last = ""
        if s.last_job:
            last = f"job {s.last_job} {s.last_status or ''} at {when(s.last_run)}"
        nxt = when(s.next_run)
        if s.next_run and (there := beside(s.next_run, zone(s.timezone))):
            nxt += f" ({there} in the schedule's zone)"
        recipients = ", ".join((*s.report.email, *s.report.webhook))
        state = {
            "disabled": " (paused: its fire times are recorded as paused)",
            "manual only": " (the planning is disabled: it runs only when started by hand)",
            "error": f": fire time {when(s.last_tick)} failed: {s.error}",
        }.get(s.state, "")
        fields = [
            ("type", s.type),
            ("planning", s.effective + origin),
            ("time zone", s.timezone),
            ("state", s.state_text + state),
            ("overlap", s.overlap),
            ("catch-up", catchup),
            ("reports to", f"{recipients} (and the type's recipients)" if recipients else ""),
            ("last run", last),
            ("next run", nxt),
        ]
        out.print(Text.assemble("schedule ", (sanitize(s.id), "bold")))
        for k, v in fields:
            if v:
                out.print(Text.assemble((f"{k:>10}: ", "dim"), sanitize(v)))
        now = time.time()
        t = listing(header("FIRE TIME", now), "OUTCOME", "JOB", "DETAIL", fold=("DETAIL",))
        for tick in ticks:
            t.add_row(
                when(tick.fire_time, abbreviation(now)),
                tick.outcome_text,
                str(tick.job_id or ""),
                safe(tick.detail),
            )
        out.print()
        if ticks:
            show_table(t)
        else:
            out.print(Text("no ticks yet", style="dim"))
    return EXIT_OK


async def cmd_serve(svc: Service, a: argparse.Namespace) -> int:
    action = getattr(a, "action", None)
    if action in ("drain", "undrain"):
        if not a.target:
            raise BadInput(
                f"agent {action}: which agent? (jobdash agent {action} NAME; see `jobdash agents`)"
            )
        await svc.drain_agent(a.target, drain=action == "drain")
        if action == "drain":
            out.print(
                safe(f"agent {a.target} draining: it finishes its running tasks and claims no more")
            )
        else:
            out.print(safe(f"agent {a.target} undrained: it claims tasks again"))
        return EXIT_OK
    if getattr(a, "target", None):
        raise BadInput(
            f"agent: unexpected argument {a.target!r} (did you mean `agent drain NAME`?)"
        )
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter("jobdash %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
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
        safe(
            f"jobdash {a.command}: agent {engine.name} with {plural(a.slots, 'slot')} on "
            f"{svc.location} (pid {os.getpid()}, lease {engine.opts.lease:g}s)"
        )
    )
    if not engine.catalogue.types:
        where = svc.config.path or "no config file"
        err.print(
            safe(
                f"jobdash {a.command}: no job types ({where}): this engine runs no jobs; "
                "--config FILE or --demo gives it some"
            )
        )
    # A store found damaged is not written to again: the engine stops (and `close` says why).
    watch = asyncio.ensure_future(svc.damaged.wait())
    watch.add_done_callback(lambda _: stop.set())
    await stop.wait()
    watch.cancel()
    damaged = svc.damaged.is_set()
    await svc.stop_scheduler()  # the leader lease goes to another engine at once
    await engine.shutdown(timeout=0 if damaged else a.grace, now=damaged)
    svc.engine = None
    err.print(safe(f"jobdash {a.command}: agent {engine.name} stopped"))
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


# Commands that only read the store: they read one that cannot be written, too.
READING = frozenset({"jobs", "show", "logs", "export", "types", "schedules", "agents"})


async def run_command(a: argparse.Namespace) -> int:
    if a.command == "schedule" and a.schedule_action == "preview":
        return cmd_schedule_preview(a)
    if a.command == "check":
        return cmd_check(a)
    if a.command == "db":  # before a Service: it opens the store itself
        print(await db_command(a.db_action, a.url, a.db, a.admin))
        return EXIT_OK
    reading = a.command in READING or (a.command == "schedule" and a.schedule_action == "show")
    extra = None
    if getattr(a, "demo", False):
        from jobdash.demo import DEMO_TYPES

        extra = DEMO_TYPES
    svc = await Service.open(db=a.db, config=a.config, extra_types=extra, reading=reading)
    if svc.created:
        err.print(f"jobdash: {svc.created}")
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
        # Filter words after an option (`jobs status:failed --json type:x`) are argparse's
        # leftovers: they belong to the query, like negations, which look like options.
        if getattr(args, "command", None) in ("jobs", "export") and all(
            not x.startswith("-") or re.fullmatch(r"-[A-Za-z_]+:.*", x) for x in extra
        ):
            args.query = [*args.query, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    for dest, value in vars(args).items():
        # Bytes that are not UTF-8 reach us as lone surrogates, which can be neither stored
        # nor printed; only file names may be any bytes the system allows.
        values = value if isinstance(value, list) else [value]
        if dest not in ("db", "config", "output") and not all(map(is_text, values)):
            bad = next(v for v in values if not is_text(v))
            parser.error(f"{dest.replace('_', '-')}: not UTF-8 text: {_shown(bad)}")
    return args


def is_text(value: object) -> bool:
    """False for a str that cannot be written as UTF-8 (it holds lone surrogates)."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Rich wraps at 80 columns when it has no terminal to measure; a pipe gets whole lines.
    out.soft_wrap = not out.is_terminal
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A file name need not be UTF-8: shown escaped, as stderr does, not a crash.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        if args.command is None:
            from jobdash.tui.app import run_dashboard

            return run_dashboard(args)
        return asyncio.run(run_command(args))
    except BadInput as e:
        err.print(safe(f"jobdash: {e}"))
        return EXIT_USAGE
    except Refused as e:
        err.print(safe(f"jobdash: {e}"))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:
        # The last resort: one line, not a screen of traceback, but still said to be a bug
        # (bad input is refused before this by name). JOBDASH_DEBUG=1 shows the traceback.
        if os.environ.get("JOBDASH_DEBUG"):
            raise
        err.print(
            f"jobdash: internal error (a bug; JOBDASH_DEBUG=1 shows where): "
            f"{type(e).__name__}: {sanitize(str(e))}"
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
