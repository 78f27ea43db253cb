"""The audit trail: `jobdash audit [QUERY] [--limit N] [--json]`, who asked for what, on
which job, schedule or agent, when, and from which host; the newest first. An admin sees
every event, anyone else their own.

An event looks as it does in the details screens' audit sections (`jobdash.present.audit`).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import print_json, safe, tell
from jobdash.present.audit import AUDIT_COLUMNS, audit_cells, audit_dict
from jobdash.present.times import header

if TYPE_CHECKING:
    from jobdash.core.service import Service


async def cmd_audit(svc: Service, a: argparse.Namespace) -> int:
    events = await svc.audit_trail(" ".join(a.query), a.limit)
    if a.json:
        print_json([audit_dict(e) for e in events])
        return EXIT_OK
    if not events:
        tell("no audit events match")
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
