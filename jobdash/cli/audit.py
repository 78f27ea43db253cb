"""The audit trail: `jobdash audit [QUERY] [--limit N] [--json]`, who asked for what, on
which job, schedule or agent, when, and from which host; the newest first. An admin sees
every event, anyone else their own.

An event looks as it does in the details screens' audit sections (`jobdash.present.audit`).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_OK, Commands, whole_number
from jobdash.cli.render import err, print_json, safe
from jobdash.present.audit import AUDIT_COLUMNS, audit_cells, audit_dict
from jobdash.present.times import header

if TYPE_CHECKING:
    from jobdash.core.service import Service

SUMMARY = "who did what, when, from where: the audit trail"
QUERY_HELP = "filter text: user:, action:, target:, actor:, host:, since:, job:ID, words"
HELP = """\
QUERY: `field:value` terms (user: who asked, actor: the OS user whose process acted, action,
target, host, since:2d), values of one field OR'ed (a comma list too), fields AND'ed, a
leading - negates; job:12, schedule:NAME, agent:NAME are short for target:job:12 and so on;
free words are looked for in every field. An admin sees every event, anyone else their own.

  jobdash audit                             the newest 100 events
  jobdash audit job:12                      what was done to job 12
  jobdash audit action:cancel,retry since:1d --limit 500
  jobdash audit -user:scheduler --json
"""


def declare(c: Commands) -> None:
    s = c.filtered("audit", SUMMARY, HELP, QUERY_HELP)
    s.add_argument(
        "--limit",
        type=whole_number(1, 1_000_000),
        default=100,
        help="the newest N events (default 100)",
    )


async def cmd_audit(svc: Service, a: argparse.Namespace) -> int:
    events = await svc.audit_trail(" ".join(a.query), a.limit)
    if a.json:
        print_json([audit_dict(e) for e in events])
        return EXIT_OK
    if not events:
        err.print("no audit events match")
        return EXIT_OK
    from jobdash.cli.tables import listing, show_table

    now = time.time()
    titles = [header(c, now) if c == "when" else c for c in AUDIT_COLUMNS]
    t = listing(*(c.upper() for c in titles), flex=("DETAIL",), drop=("HOST", "DETAIL"))
    for e in events:
        t.add_row(*(safe(cell) for cell in audit_cells(e, now)))
    show_table(t)
    return EXIT_OK


COMMANDS = {"audit": cmd_audit}
