"""Python tasks that agent subprocesses of the tests import (`tests.agent_jobs:…`)."""

from __future__ import annotations

import os
from typing import Any, TextIO

_out: dict[str, TextIO] = {}


async def plan(ctx: Any) -> None:
    """The job function of the `noops` type: `n` record tasks."""
    for i in range(int(ctx.params["n"])):
        ctx.add_task(record, i, name=str(i))


async def record(ctx: Any, item: Any) -> None:
    """A no-op task that writes its item to this process's file under params["out"]."""
    folder = ctx.params["out"]
    f = _out.get(folder)
    if f is None:
        f = _out[folder] = open(  # noqa: SIM115, ASYNC230 - kept open for the life of the agent
            os.path.join(folder, f"{os.getpid()}.items"), "a", buffering=1
        )
    f.write(f"{item}\n")
