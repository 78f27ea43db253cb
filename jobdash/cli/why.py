"""`jobdash why JOB [--json]`: why a job is not running, computed from the store now.

The answer is the service's (`Service.why`, judged by `core.waiting`), which reads more than
the line the job tables show: the holder of a lock with its user, start and progress, who
paused the job and when, when a retry's backoff ends, the agents' slots. A job that runs or
has finished says so. An id that is not a job's (or not one this user may see) is bad input:
one line, exit status 2.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.text import Text

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import fields, out, print_json, toned
from jobdash.core.views import Why
from jobdash.present.status import look
from jobdash.present.text import sanitize
from jobdash.present.waiting import why_fields

if TYPE_CHECKING:
    from jobdash.core.service import Service


def why_dict(w: Why) -> dict[str, Any]:
    """The answer as `--json` gives it."""
    h = w.holder
    return {
        "job": w.job_id,
        "status": str(w.status),
        "waiting": w.waiting,
        "reason": w.kind,
        "text": w.text,
        "until": w.until,
        "holder": None
        if h is None
        else {
            "key": h.key,
            "job": h.job_id,
            "user": h.user,
            "status": h.status,
            "started": h.started,
            "progress": h.progress,
        },
        "paused_by": None if w.paused is None else {"user": w.paused[0], "at": w.paused[1]},
        "tasks": [
            {"reason": t.kind, "text": t.text, "tasks": t.seqs, "count": t.count, "until": t.until}
            for t in w.tasks
        ],
    }


async def cmd_why(svc: Service, a: argparse.Namespace) -> int:
    job = await svc.job(a.job)  # NotFound: an unknown id, exit 2 (`main.unknown`)
    w = await svc.why(a.job)
    if a.json:
        print_json(why_dict(w))
        return EXIT_OK
    out().print(
        Text.assemble(f"job {job.id}  ", (sanitize(job.type), "bold"), "  ", toned(look(w.status)))
    )
    lines = why_fields(w)
    fields(lines, max(len(label) for label, _ in lines))
    return EXIT_OK


COMMANDS = {"why": cmd_why}
