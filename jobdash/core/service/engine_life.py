"""This process's engine and scheduler, the part of the `Service` that starts them
(`jobdash serve`, `jobdash agent`, the dashboard's embedded engine) and stops them when the
service closes.

A start is a task of its own, which `close` ends and waits for. The dashboard starts its
engine once its first frame is drawn, so `q` pressed at once closes the service while the
start is under way: closing past it let the start go on over a closed store (its
scheduler's first lease then failed with a traceback), and waiting for it to finish could
take seconds (its first write waits for the store's whole-file check). So `close` cancels
the start, waits until it has ended, and then stops whatever of the engine it had started,
as when the caller's own task is cancelled (Textual's workers, at exit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobdash.core.agent import AgentOptions
from jobdash.core.catalogue import Catalogue
from jobdash.core.heap import freeze_once
from jobdash.core.model import Refused
from jobdash.core.service.access import Access

if TYPE_CHECKING:
    import asyncio

    from jobdash.core.agent import Agent


class EngineLife(Access):
    """Start this process's engine (and scheduler); stop them and the store (`close`)."""

    _engine_start: asyncio.Task[Agent] | None = None  # a `start_engine` under way
    _closing = False  # `close` was called: no engine starts any more

    async def close(self) -> None:
        """Stop the engine and scheduler (a start under way ends first), close the store."""
        self._closing = True
        try:
            start = self._engine_start
            if start is not None and not start.done():
                import asyncio  # a start under way: on a loop

                start.cancel()
                await asyncio.wait([start])  # its end, whatever it is (not raised here)
            await self.stop_scheduler()
            if self.engine is not None:
                await self.engine.shutdown(timeout=0, now=True)
        finally:
            await self.store.close()  # whatever happened: its threads would keep us alive

    async def start_engine(
        self,
        slots: int = 4,
        name: str | None = None,
        lease: float | None = None,
        scheduler: bool = True,
    ) -> Agent:
        """Run an engine in this process: publish the catalogue and start an agent (which
        also sends execution reports). `lease`: seconds a claim lasts without renewal.
        `scheduler`: also run the scheduler (not for `jobdash agent`). Cancelling the
        caller cancels the start; once `close` was called, none starts (Refused)."""
        if self._closing:
            raise Refused("the engine was not started: the service is closing")
        import asyncio

        start = asyncio.ensure_future(self._start(slots, name, lease, scheduler))
        self._engine_start = start
        return await start

    async def _start(
        self, slots: int, name: str | None, lease: float | None, scheduler: bool
    ) -> Agent:
        # The engine's machinery (runners, reports, the scheduler and its plannings) is
        # loaded when an engine starts, not by every command that reads the store.
        from jobdash.core.agent.agent import Agent
        from jobdash.core.reports import Reporter
        from jobdash.core.scheduler import Scheduler
        from jobdash.core.stalls import StallWatch

        opts = AgentOptions(
            name=name,
            slots=slots,
            retention=self.config.retention,
            agent_retention=self.config.agent_retention,
            artifact_inline_max=self.config.artifact_inline_max,
        )
        if lease is not None:
            opts.lease = lease
            opts.heartbeat = min(opts.heartbeat, lease / 5)
        # The engine runs the types of its own config (and demo types), never another's.
        catalogue = Catalogue(self.local_types)
        agent = Agent(self.store, opts, catalogue)
        await self.store.publish_catalogue(agent.name, catalogue.published())
        stalls = StallWatch(self.store, self.local_types)
        opts.reporter = Reporter(self.store, self.config.smtp, agent.owner, stalls=stalls)
        self.engine = agent
        await self.engine.start()
        if scheduler:
            # `Scheduler(self)`: the whole Service is its Submitter (submit_schedule).
            self.scheduler = Scheduler(self)  # type: ignore[arg-type]
            await self.scheduler.start()
        freeze_once()  # what the engine's start made lives as long as it (see core.heap)
        return self.engine

    async def stop_scheduler(self) -> None:
        """Stop firing schedules and hand the leader lease over at once."""
        if self.scheduler is not None:
            sched, self.scheduler = self.scheduler, None
            await sched.stop()
