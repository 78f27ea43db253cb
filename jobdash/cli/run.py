"""Starting and changing jobs: `run` (with `--wait` and `--follow`), `cancel`, `pause`,
`resume`, `retry` (of one job, several ids, or every job a `--query` selects) and `clear`.

Rich's live progress display is imported when `run --follow` draws it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from jobdash.cli.chosen import chosen_jobs
from jobdash.cli.logs import LogPrinter
from jobdash.cli.parser import EXIT_FAILED, EXIT_OK, shown
from jobdash.cli.render import err, job_dict, metrics_text, out, print_json, safe, tell
from jobdash.core.model import BadInput
from jobdash.present.durations import duration
from jobdash.present.progress import progress_bar, progress_count
from jobdash.present.recovery import quarantine_warning
from jobdash.present.status import look
from jobdash.present.text import sanitize
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service import Outcome, Service

T = TypeVar("T")

FOLLOW_BAR = 30  # cells of `run --follow`'s progress bar


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """`-p KEY=VALUE` pairs; a key given twice is refused (which one was meant?)."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise BadInput(f"-p {shown(pair)}: expected KEY=VALUE")
        if key in params:
            raise BadInput(
                f"-p {shown(key)} is given twice ({shown(params[key])} and {shown(value)}): "
                "give each parameter once"
            )
        params[key] = value
    return params


async def cmd_run(svc: Service, a: argparse.Namespace) -> int:
    if a.json and a.follow:
        raise BadInput(
            "run: --follow streams the log as text; with --json use --wait "
            "(and `jobdash logs ID -f --json` for the log)"
        )
    if a.params_from is not None:
        return await run_many(svc, a)
    # Submitted first: a bad parameter is one line (exit 2), not also the warning below.
    job = await svc.submit(a.type, parse_params(a.param))
    if not await svc.engine_alive():
        tell(
            f"jobdash: no engine is running on {svc.location}: job {job.id} is queued "
            "and will start when one does — start one with `jobdash serve` (or open the "
            "dashboard, `jobdash`)"
        )
    if not (a.wait or a.follow):
        if a.json:
            print_json(job_dict(job))
            return EXIT_OK
        # queued, or running when nothing could hold it back (lifecycle.admitted_at_submit);
        # its tasks counted unless a job function makes them once it runs ("1 task" of 41)
        jt = svc.types.get(job.type)
        tasks = f", {plural(job.total, 'task')}" if jt is None or jt.function is None else ""
        out().print(safe(f"job {job.id} {job.status} ({job.type}{tasks})"))
        return EXIT_OK
    tell(f"job {job.id} submitted ({job.type}); Ctrl-C stops watching, not the job")
    return await follow_job(svc, job.id, show_log=a.follow, as_json=a.json)


async def run_many(svc: Service, a: argparse.Namespace) -> int:
    """`run TYPE --params-from FILE`: one job per line, submitted all or none."""
    from jobdash.cli.params_file import read_params_file

    if a.wait or a.follow:
        raise BadInput("run: --params-from submits many jobs: --wait and --follow follow one")
    common = parse_params(a.param)
    sets = read_params_file(a.params_from)
    ids = await svc.submit_many(
        a.type, [common | p for _, p in sets], labels=[label for label, _ in sets]
    )
    if a.json:
        print_json({"type": a.type, "jobs": ids})
    else:
        # Some may be running already, others queued behind a lock: "submitted" is true of all.
        which = f"job {ids[0]}" if len(ids) == 1 else f"jobs {ids[0]}–{ids[-1]}"
        out().print(safe(f"{plural(len(ids), 'job')} submitted ({a.type}): {which}"))
    if not await svc.engine_alive():
        tell(
            f"jobdash: no engine is running on {svc.location}: the jobs are queued and "
            "will start when one does — start one with `jobdash serve`"
        )
    return EXIT_OK


async def follow_job(svc: Service, jid: int, show_log: bool, as_json: bool = False) -> int:
    import asyncio  # loaded by the command that waits, not by `jobdash --help`

    from rich.progress import Progress, TextColumn

    tty = out().is_terminal and not as_json
    after = 0
    printer = LogPrinter(svc, [jid], tty)
    # The dashboard's bar and count (jobdash.present.progress), drawn by Rich's live display.
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.fields[bar]}", markup=False),
        TextColumn("{task.fields[status]}", markup=False),
        TextColumn("{task.fields[elapsed]}", markup=False),  # the job's own: stops while paused
        console=out(),
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
        out().print(safe(f"job {job.id} {job.status}: {job.info}"))
    if job.metrics and not as_json:
        out().print(safe("  " + metrics_text(job.metrics)))
    return EXIT_OK if job.status in ("succeeded", "warning") else EXIT_FAILED


def print_outcomes(outcomes: Iterable[Outcome], said: Callable[[Outcome], None]) -> int:
    """One line per job or schedule: `said` prints what was done (standard output), a
    refusal goes to standard error; exit status 1 when one was refused."""
    status = EXIT_OK
    for o in outcomes:
        if o.refused is None:
            said(o)
        else:
            status = EXIT_FAILED
            tell(f"jobdash: {o.refused}")
    return status


async def cmd_action(svc: Service, a: argparse.Namespace) -> int:
    """`cancel`, `pause`, `resume`, `retry`: one line per job (`print_outcomes`)."""
    from rich.text import Text

    ids = await chosen_jobs(svc, a)
    if not ids:
        tell(f"jobdash: {a.command}: no jobs match {a.query!r}: nothing done")
        return EXIT_OK
    action = "kill" if a.command == "cancel" and a.force else a.command
    quarantined = {i: await svc.quarantined_tasks(i) for i in ids} if action == "retry" else {}

    def said(o: Outcome) -> None:
        if action in ("cancel", "kill"):
            out().print(Text(f"job {o.key}: {look(o.result.status).text}"))
        elif action == "pause":
            out().print(f"job {o.key} paused")
        elif action == "resume":
            out().print(f"job {o.key} resumed ({o.result.status})")
        else:
            out().print(f"job {o.key}: {plural(o.result, 'task')} queued again")
            for task in quarantined.get(int(o.key), ()):
                err().print(Text(f"jobdash: warning: {sanitize(quarantine_warning(task))}"))

    return print_outcomes(await svc.act_on_jobs(action, ids), said)


async def cmd_clear(svc: Service, a: argparse.Namespace) -> int:
    n = await svc.clear(everyone=a.all)
    out().print(f"{plural(n, 'finished job')} removed")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "cancel": cmd_action,
    "pause": cmd_action,
    "resume": cmd_action,
    "retry": cmd_action,
    "clear": cmd_clear,
}
