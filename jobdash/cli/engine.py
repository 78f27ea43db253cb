"""The engine and its agents: `serve` (scheduler and agent), `agent` (an agent only, or
`agent drain|undrain NAME`) and `agents` (who runs what).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import cell, err, out, safe, tell, toned, when
from jobdash.core.model import BadInput
from jobdash.present.durations import duration
from jobdash.present.status import agent_look
from jobdash.present.text import sanitize
from jobdash.present.times import abbreviation, header
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service import Service


class InertFormatter(logging.Formatter):
    """The engine's log messages quote names, error texts and job output: each line of a
    record is made inert like any other data."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(sanitize(line) for line in super().format(record).split("\n"))


async def cmd_agents(svc: Service, a: argparse.Namespace) -> int:
    from jobdash.cli.tables import listing, show_table

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
        err().print(
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
        # Narrow, what says least of an agent's health goes first, before a value is cut.
        drop=("PID", header("STARTED", now), "DONE", "FAILED"),
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


async def drain(svc: Service, action: str, target: str | None) -> int:
    """`agent drain|undrain NAME`: an admin's request to another agent."""
    if not target:
        raise BadInput(
            f"agent {action}: which agent? (jobdash agent {action} NAME; see `jobdash agents`)"
        )
    await svc.drain_agent(target, drain=action == "drain")
    if action == "drain":
        out().print(
            safe(f"agent {target} draining: it finishes its running tasks and claims no more")
        )
    else:
        out().print(safe(f"agent {target} undrained: it claims tasks again"))
    return EXIT_OK


async def cmd_serve(svc: Service, a: argparse.Namespace) -> int:
    import asyncio  # loaded by the command that waits, not by `jobdash --help`

    from jobdash.core.service import freeze_start_up

    action = getattr(a, "action", None)
    if action in ("drain", "undrain"):
        return await drain(svc, action, a.target)
    if getattr(a, "target", None):
        raise BadInput(
            f"agent: unexpected argument {a.target!r} (did you mean `agent drain NAME`?)"
        )
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter("jobdash %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if svc.engine is None and signals > 1:  # a start that will not end: stopped the plain way
            loop.remove_signal_handler(sig)
            os.kill(os.getpid(), sig)
            return
        if signals == 1:
            err().print(
                f"jobdash: stopping: no new tasks; running ones get {a.grace:g}s (signal again to stop now)"
            )
        else:
            tell("jobdash: stopping now: killing running tasks and giving their claims back")
            if svc.engine is not None:
                svc.engine.hurry()
        stop.set()

    # Caught before the engine starts: a signal while it registers and makes its first
    # claims stops it as any stop does (claims given back, offline), not as a crash would.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    engine = await svc.start_engine(
        slots=a.slots, name=a.name, lease=a.lease, scheduler=a.command == "serve"
    )
    freeze_start_up()
    tell(
        f"jobdash {a.command}: agent {engine.name} with {plural(a.slots, 'slot')} on "
        f"{svc.location} (pid {os.getpid()}, lease {engine.opts.lease:g}s)"
    )
    if not engine.catalogue.types:
        where = svc.config.path or "no config file"
        tell(
            f"jobdash {a.command}: no job types ({where}): this engine runs no jobs; "
            "--config FILE or --demo gives it some"
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
    tell(f"jobdash {a.command}: agent {engine.name} stopped")
    return EXIT_OK


COMMANDS = {"serve": cmd_serve, "agent": cmd_serve, "agents": cmd_agents}
