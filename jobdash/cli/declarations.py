"""Every command of the command line: its arguments and its help, one function a command
(a few commands share one), listed in `DECLARED` in the order `--help` shows them.

The grammar lives apart from the modules that run the commands (`jobs`, `run`, …), and
imports nothing but argparse and the argument types of `parser`: `jobdash --help` loads no
more than this, and `jobdash jobs` declares `jobs` alone (`parser.parse_args`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from jobdash.cli.parser import (
    Commands,
    Parser,
    agent_name,
    count_arg,
    grace_arg,
    job_id,
    lease_arg,
    slots_arg,
    whole_number,
)
from jobdash.core.limits import PREVIEW_MAX

SHELLS = ("bash", "zsh", "fish")  # what `completion` writes scripts for

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

FAILURES_HELP = """\
QUERY is the filter language of `jobdash jobs` (status:, type:, user:, id:, target:, words),
applied to the failed attempts' jobs; since:2h (and --since) counts the attempts of the last
2 hours; free words are also looked for in the group's message.

  jobdash failures                          every group, the one seen last first
  jobdash failures type:import --since 1d   import jobs' failures of the last day
  jobdash failures show 3f2a9c1e8b7d        the group's tasks and its latest attempt's log
  jobdash failures retry 3f2a9c1e8b7d       retry the group's failed tasks (finished jobs)
"""

AUDIT_HELP = """\
QUERY: `field:value` terms (user: who asked, actor: the OS user whose process acted, action,
target, host, since:2d), values of one field OR'ed (a comma list too), fields AND'ed, a
leading - negates; job:12, schedule:NAME, agent:NAME are short for target:job:12 and so on;
free words are looked for in every field. An admin sees every event, anyone else their own.

  jobdash audit                             the newest 100 events
  jobdash audit job:12                      what was done to job 12
  jobdash audit action:cancel,retry since:1d --limit 500
  jobdash audit -user:scheduler --json
"""

ACTION_EPILOG = (
    "One line per job, acted on (standard output) or refused (standard error). Exit status "
    "0: all done; 1: some refused (the others done); 2: an unknown id or a bad query, and "
    "nothing done."
)


def declare_chosen(s: argparse.ArgumentParser, query_help: str = "") -> None:
    """A command's job ids and its `--query`, which `chosen.chosen_jobs` reads."""
    s.add_argument("job", type=job_id, nargs="*", help="job ids")
    s.add_argument(
        "--query",
        metavar="QUERY",
        help=f"every job QUERY selects{query_help}, as `jobdash jobs QUERY` lists them: "
        '"status:running type:import"',
    )


def declare_serving(c: Commands, name: str) -> None:
    """`serve` and `agent`: the same options, an engine with or without the scheduler."""
    help = {
        "serve": "run the engine headless (scheduler + agent)",
        "agent": "run an agent only, or drain|undrain agent NAME",
    }[name]
    s = c.add(name, help)
    s.add_argument("--slots", type=slots_arg, default=argparse.SUPPRESS, help="tasks run at once")
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
        s.add_argument("target", nargs="?", metavar="NAME", help="the agent to drain or undrain")


def declare_agents(c: Commands, name: str) -> None:
    c.add(name, "agents: state, slots, current tasks, heartbeat", c.as_json)


def declare_web(c: Commands, name: str) -> None:
    s = c.add(name, "serve the dashboard to a browser (a token or a password first)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument(
        "--port", type=whole_number(0, 65535), default=8765, metavar="N", help="default 8765"
    )
    s.add_argument(
        "--read-only", action="store_true", default=argparse.SUPPRESS, help="sessions only watch"
    )
    s.add_argument(
        "--sessions",
        type=whole_number(1, 1000),
        default=4,
        metavar="N",
        help="browser sessions at once (default 4)",
    )
    s.add_argument(
        "--hash-password", action="store_true", help="print a [web] password_hash for the config"
    )


def declare_run(c: Commands, name: str) -> None:
    s = c.add(name, "submit a job", c.as_json)
    s.add_argument("type", help="job type")
    s.add_argument(
        "-p", "--param", action="append", default=[], metavar="K=V", help="a parameter (repeatable)"
    )
    s.add_argument(
        "--params-from",
        metavar="FILE",
        help="submit one job per JSON line or CSV row of FILE (- for stdin), all or none; "
        "-p values apply to each",
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


def declare_jobs(c: Commands, name: str) -> None:
    s = c.filtered(
        name,
        "list jobs",
        FILTER_HELP,
        "filter text: status:failed type:a,b user:y since:1h -field:value words (see below)",
    )
    s.add_argument("--status", action="append", default=[], help="as status:VALUE[,VALUE…]")
    s.add_argument("--type", action="append", default=[], help="as type:VALUE[,VALUE…]")
    s.add_argument("--user", action="append", default=[], help="as user:VALUE[,VALUE…]")
    s.add_argument("--since", help="e.g. 1h, 2d")
    s.add_argument("--limit", type=count_arg, default=50, help="at most this many (default 50)")
    s.add_argument("--all", action="store_true", help="no limit")


def declare_show(c: Commands, name: str) -> None:
    s = c.add(name, "one job with its tasks", c.as_json)
    s.add_argument("job", type=job_id)


def declare_logs(c: Commands, name: str) -> None:
    s = c.add(
        name,
        "the log lines of a job, of several, or of those --query selects "
        "(--json: one JSON object a line)",
        c.as_json,
        epilog="Several jobs: their lines in the order they were written, each starting with "
        "its job and task (12 #2 beta | …). With -f, printing ends when every job followed "
        "has ended.",
    )
    declare_chosen(s, " now")
    s.add_argument("-f", "--follow", action="store_true", help="keep printing while they run")
    s.add_argument("--task", type=count_arg, metavar="N", help="only task N (of one job)")
    s.add_argument("--tail", type=count_arg, metavar="N", help="only the last N lines (of each)")
    s.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="save the log to FILE (created 0600): each line with its time, task and stream",
    )


def declare_why(c: Commands, name: str) -> None:
    help = "why a job is not running: the lock, slots, pause, backoff or agents it waits for"
    s = c.add(name, help, c.as_json)
    s.add_argument("job", type=job_id)


def declare_artifacts(c: Commands, name: str) -> None:
    s = c.add(name, "a job's artifacts (the files it produced)", c.as_json)
    s.add_argument("job", type=job_id)


def declare_artifact(c: Commands, name: str) -> None:
    s = c.add(name, "write one artifact of a job (to a file with -o)")
    s.add_argument("job", type=job_id)
    s.add_argument("name", help="the artifact's name, as `jobdash artifacts JOB` lists it")
    s.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (created 0600; `-`: standard output)"
    )


def declare_action(c: Commands, name: str) -> None:
    """`cancel`, `pause`, `resume` and `retry`: of the jobs named, or those `--query` selects."""
    help = {
        "cancel": "cancel jobs (SIGTERM, then SIGKILL after a grace period)",
        "pause": "pause jobs",
        "resume": "resume paused jobs",
        "retry": "re-run the failed and cancelled tasks of finished jobs",
    }[name]
    s = c.add(name, help, epilog=ACTION_EPILOG)
    declare_chosen(s)
    if name == "cancel":
        s.add_argument("--force", action="store_true", help="SIGKILL at once")


def declare_export(c: Commands, name: str) -> None:
    s = c.add(name, "job history as CSV or JSON")
    s.add_argument("query", nargs="*", help="filter text, as for `jobs`")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (default: standard output)"
    )


def declare_failures(c: Commands, name: str) -> None:
    s = c.filtered(
        name,
        "failed task attempts grouped by cause; show or retry a group",
        FAILURES_HELP,
        "filter text, as for `jobs`; or: show GROUP_ID, retry GROUP_ID",
    )
    s.add_argument("--since", help="only attempts of the last …: 1h, 2d")


def declare_audit(c: Commands, name: str) -> None:
    s = c.filtered(
        name,
        "who did what, when, from where: the audit trail",
        AUDIT_HELP,
        "filter text: user:, action:, target:, actor:, host:, since:, job:ID, words",
    )
    s.add_argument(
        "--limit",
        type=whole_number(1, 1_000_000),
        default=100,
        help="the newest N events (default 100)",
    )


def declare_clear(c: Commands, name: str) -> None:
    s = c.add(name, "remove finished jobs you started")
    s.add_argument("--all", action="store_true", help="every user's finished jobs (admins)")


def declare_schedules(c: Commands, name: str) -> None:
    c.add(name, "schedules: planning, time zone, last and next run", c.as_json)


def declare_schedule(c: Commands, name: str) -> None:
    """`schedule ACTION`: act on one schedule (or several), or preview a planning."""
    s = c.add(name, "act on a schedule: run, enable, disable, set, show; preview a planning")
    add = s.add_commands(dest="schedule_action", metavar="ACTION", required=True)

    def action(name: str, help: str, *parents: Parser, several: bool = False) -> Parser:
        sp = add(name, help=help, description=help, parents=[c.common, *parents])
        if several:  # one line per schedule; exit status 1 if one is refused, 2 if unknown
            sp.add_argument("id", nargs="+", help="schedule ids")
        else:
            sp.add_argument("id", help="schedule id")
        return sp

    action("run", "run the schedule's job now", several=True)
    action("enable", "enable (resume) the schedule", several=True)
    action(
        "disable",
        "disable (pause) the schedule: its fire times are recorded as paused",
        several=True,
    )
    s2 = action("show", "the schedule and its tick history", c.as_json)
    s2.add_argument("--limit", type=count_arg, default=30, help="ticks shown (default 30)")
    s2 = action(
        "set",
        "change the planning (one of --cron, --every, --daily, --once, --disabled, "
        "--automatic), the time zone or the policies",
    )
    plan = s2.exclusive()
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
    report = s2.section(
        "report recipients of the schedule's runs (besides the type's; kept across reloads)"
    )
    for flag, metavar, what in (
        ("--report-email", "ADDRESS", "send each run's report to this address"),
        ("--report-webhook", "URL", "POST each run's report to this http(s) URL"),
    ):
        help = f"{what} (repeat, or separate with commas)"
        report.add_argument(flag, metavar=metavar, action="append", help=help)
    for flag, help in (
        ("--no-report", "no recipients of the schedule's own"),
        ("--report-from-config", "back to the recipients the config gives the schedule"),
    ):
        report.add_argument(flag, action="store_true", help=help)
    s2 = add(
        "preview",
        help="the next fire times of a planning, without creating a schedule",
        description="The next fire times of any planning (as the scheduler computes them), "
        "ISO 8601 with the offset, one a line; no schedule is created or read.",
        parents=[c.common, c.as_json],
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


def declare_config(c: Commands, name: str) -> None:
    """`types`, `check` and `whoami`: the config and what it makes of you."""
    help = {
        "types": "job types: the config's, and those the store's engines published",
        "check": "validate the config file",
        "whoami": "who you are, your roles and what they allow",
    }[name]
    c.add(name, help, c.as_json)


def declare_db(c: Commands, name: str) -> None:
    s = c.add(
        name,
        "the store: `db init [URL]` creates its schema (idempotent); `db grant USER`; "
        "`db size`: what it takes, artifacts included; `db roles [URL]`: the config's roles "
        "into a PostgreSQL store's row-level security",
        c.as_json,
    )
    s.add_argument(
        "db_action", choices=["init", "grant", "size", "roles"], metavar="init|grant|size|roles"
    )
    s.add_argument(
        "url", nargs="?", metavar="URL|USER", help="init, size, roles: the store; grant: the user"
    )
    as_ = s.exclusive()
    as_.add_argument("--admin", action="store_true", help="grant: as an admin (sees all)")
    as_.add_argument(
        "--engine", action="store_true", help="grant: the role `jobdash serve` connects as"
    )


def declare_crontab(c: Commands, name: str) -> None:
    s = c.add(
        name,
        "print a crontab's entries as job types with cron schedules (TOML to review)",
    )
    s.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the crontab (default or -: standard input, e.g. crontab -l | jobdash import-crontab)",
    )
    s.add_argument(
        "--system",
        action="store_true",
        help="the format of /etc/crontab and /etc/cron.d: a user field after the times",
    )


def declare_systemd(c: Commands, name: str) -> None:
    s = c.add(name, "print a systemd unit that runs `jobdash serve` (see README)")
    s.add_argument(
        "--user",
        action="store_true",
        help="a user unit (systemctl --user); default: a system unit running as you",
    )
    s.add_argument(
        "--grace",
        type=grace_arg,
        default=30.0,
        help="seconds running tasks get to finish on stop (default 30)",
    )
    s.add_argument("--slots", type=slots_arg, help="tasks run at once (serve's default: 4)")


def declare_completion(c: Commands, name: str) -> None:
    s = c.add(name, "print a shell completion script (bash, zsh or fish)")
    s.add_argument("shell", choices=SHELLS, help="the shell the script is for")


# Each command and its declaration, in the order `--help` lists them.
DECLARED: dict[str, Callable[[Commands, str], None]] = {
    "serve": declare_serving,
    "agent": declare_serving,
    "agents": declare_agents,
    "web": declare_web,
    "run": declare_run,
    "jobs": declare_jobs,
    "show": declare_show,
    "logs": declare_logs,
    "why": declare_why,
    "artifacts": declare_artifacts,
    "artifact": declare_artifact,
    "cancel": declare_action,
    "pause": declare_action,
    "resume": declare_action,
    "retry": declare_action,
    "export": declare_export,
    "failures": declare_failures,
    "audit": declare_audit,
    "clear": declare_clear,
    "schedules": declare_schedules,
    "schedule": declare_schedule,
    "types": declare_config,
    "check": declare_config,
    "whoami": declare_config,
    "db": declare_db,
    "import-crontab": declare_crontab,
    "systemd-unit": declare_systemd,
    "completion": declare_completion,
}
