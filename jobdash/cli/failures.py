"""Failures grouped by cause: `jobdash failures [QUERY] [--since …] [--json]` lists the groups,
`jobdash failures show GROUP_ID` one group's tasks and the end of its latest attempt's log,
`jobdash failures retry GROUP_ID` runs the group's failed tasks again.

A group looks as it does on the dashboard's Failures tab (`jobdash.present.failures`).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import out, print_json, print_log_line, safe, tell
from jobdash.core.model import BadInput
from jobdash.present.failures import (
    GROUP_COLUMNS,
    TASK_COLUMNS,
    group_cells,
    group_dict,
    trend_span,
)
from jobdash.present.failures import task_cells as failed_task_cells
from jobdash.present.times import header

if TYPE_CHECKING:
    from jobdash.core.service import Service

ACTIONS = ("show", "retry")


def since_of(a: argparse.Namespace) -> float | None:
    """`--since` as a time (BadInput, one line, for a bad duration)."""
    from jobdash.core.service import parse_duration

    return None if a.since is None else time.time() - parse_duration(a.since, "--since")


async def cmd_failures(svc: Service, a: argparse.Namespace) -> int:
    if a.query and a.query[0] in ACTIONS:
        if len(a.query) != 2:
            raise BadInput(f"failures {a.query[0]}: give one group id, as `jobdash failures` shows")
        if a.query[0] == "retry":
            return await cmd_retry(svc, a, a.query[1])
        return await cmd_show(svc, a, a.query[1])
    groups = await svc.failures(" ".join(a.query), since_of(a))
    if a.json:
        print_json([group_dict(g) for g in groups])
        return EXIT_OK
    if not groups:
        tell("no failures match")
        return EXIT_OK
    from jobdash.cli.tables import listing, show_table

    now = time.time()
    titles = [header(c, now) if c in ("first", "last") else c for c in GROUP_COLUMNS]
    t = listing(
        *(c.upper() for c in titles),
        flex=("TYPES", "MESSAGE"),
        drop=("TYPES", titles[5].upper(), "TASKS"),
    )
    for g in groups:
        t.add_row(*(safe(cell) for cell in group_cells(g, now)))
    show_table(t)
    if out().is_terminal:
        tell(f"trend: attempts {trend_span(groups[0])}")
    return EXIT_OK


async def cmd_show(svc: Service, a: argparse.Namespace, group: str) -> int:
    from jobdash.cli.tables import listing, show_table

    query, since = " ".join(a.query[2:]), since_of(a)
    tasks = await svc.failure_tasks(group, query, since)
    sample = await svc.failure_sample(tasks[0])
    if a.json:
        import dataclasses

        print_json(
            {
                "tasks": [dataclasses.asdict(t) | {"retriable": t.retriable} for t in tasks],
                "sample": [dataclasses.asdict(line) for line in sample],
            }
        )
        return EXIT_OK
    now = time.time()
    titles = [header(c, now) if c == "last" else c for c in TASK_COLUMNS]
    t = listing(
        *(c.upper() for c in titles),
        flex=("TASK",),
        fold=("ERROR",),
        drop=("TYPE",),
        paths=("TASK",),
    )
    for task in tasks:
        t.add_row(*(safe(cell) for cell in failed_task_cells(task, now)))
    show_table(t)
    latest = tasks[0]
    out().print()
    out().print(
        safe(
            f"job {latest.job_id} task #{latest.seq} attempt {latest.last_attempt}, "
            f"the end of its log:"
        ),
        style="bold",
    )
    for line in sample:
        print_log_line(line, out().is_terminal)
    return EXIT_OK


async def cmd_retry(svc: Service, a: argparse.Namespace, group: str) -> int:
    done = await svc.retry_group(group)
    if a.json:
        print_json({"group": group, "tasks": done.tasks, "jobs": done.jobs, "left": done.left})
    else:
        out().print(safe(f"retrying {done} (failure group {group})"))
    return EXIT_OK


COMMANDS = {"failures": cmd_failures}
