"""The store's housekeeping, which every agent does: admitting queued jobs past their locks,
recovering the tasks of dead agents, noting why running jobs wait, sending execution
reports, pruning by retention.

Why every agent: any live process keeps the whole store moving, with no master to lose.
Each step is a transaction in the store, safe to run from many processes at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobdash.core.agent.liveness import leftover_groups, pid_alive
from jobdash.core.agent.options import (
    POLL,
    PRUNE_EVERY,
    RECOVER_EVERY,
    REPORT_EVERY,
    STALE_AFTER,
    WAIT_GRACE,
    WAITS_EVERY,
    AgentOptions,
)
from jobdash.core.alarm import Alarm
from jobdash.core.artifacts import sweep_kept
from jobdash.core.processes import killpg
from jobdash.core.store.base import Store

if TYPE_CHECKING:
    from jobdash.core.reports import Reporter

log = logging.getLogger("jobdash.agent")


class Housekeeper:
    """One agent's housekeeping (`run` is one of its loops); `host` is the agent's."""

    def __init__(self, store: Store, opts: AgentOptions, host: str) -> None:
        self.store = store
        self.opts = opts
        self.host = host
        self.report_task: asyncio.Task[int] | None = None  # reports being sent
        self._wake = Alarm()

    def wake(self) -> None:
        """Look now (another process may have submitted a job to admit)."""
        self._wake.ring()

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Until `stopping()`: admit queued jobs, recover dead agents' tasks, note why running
        jobs wait, send due reports, prune by retention -- each at its own pace."""
        last_recover = last_report = last_waits = 0.0
        last_prune = last_agents_prune = -PRUNE_EVERY
        while not stopping():
            try:
                live_after = time.time() - STALE_AFTER
                if await self.store.has_jobs_to_admit():
                    await self.store.admit(live_after)
                if time.monotonic() - last_recover > RECOVER_EVERY:
                    last_recover = time.monotonic()
                    if self.opts.pid_check:
                        await self.expire_dead()
                    if await self.store.has_lost_tasks():
                        await self.store.recover_lost()
                if time.monotonic() - last_waits > WAITS_EVERY:
                    last_waits = time.monotonic()
                    await self.store.note_waits(live_after, WAIT_GRACE)
                if self.opts.reporter is not None and time.monotonic() - last_report > REPORT_EVERY:
                    last_report = time.monotonic()
                    self._start_reports(self.opts.reporter)
                if self.opts.retention and time.monotonic() - last_prune > PRUNE_EVERY:
                    last_prune = time.monotonic()
                    pruned = await self.store.prune(time.time() - self.opts.retention)
                    if pruned:
                        log.info("retention: %d finished jobs removed", pruned)
                if time.monotonic() - last_agents_prune > PRUNE_EVERY:
                    last_agents_prune = time.monotonic()
                    await self.store.prune_agents(time.time() - self.opts.agent_retention)
                    if swept := await sweep_kept(self.store, time.time()):
                        log.info("artifacts: %d kept files of removed jobs removed", swept)
            except Exception:
                self.store.report_failure(log, "housekeeping failed")
            await self._wake.wait(POLL)

    async def expire_dead(self) -> None:
        """Agents of this host whose process is gone: their claims end now, and what their
        command attempts left running is killed (it must not run beside the next attempt)."""
        dead, owners, pgids = await self.store.expire_dead_agents(self.host, pid_alive)
        if not dead:
            return
        log.warning("agents gone: %s; recovering their tasks", ", ".join(dead))
        for pgid in set(pgids) | leftover_groups(owners):
            if pgid != os.getpgrp():
                killpg(pgid, signal.SIGKILL)

    def _start_reports(self, reporter: Reporter) -> None:
        """Send due reports in the background: a slow mail server never holds up the loop."""
        if self.report_task is not None and not self.report_task.done():
            return

        async def send() -> int:
            try:
                return await reporter.look()
            except Exception:
                self.store.report_failure(log, "sending reports failed")
            return 0

        self.report_task = asyncio.get_running_loop().create_task(send(), name="jobdash-reports")
