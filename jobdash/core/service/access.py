"""`Access`: who the user is and what they may see and do, the part of the `Service` that
every action and read goes through: the store and the config it opened, the job types it
knows (its config's, then what live engines publish), and the permission checks: every one
asks `core.permissions`, the one table of rules (an admin does anything, a user acts on
their own jobs, a role of the config grants more; nothing in read-only mode).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Self

from jobdash.core.agent import is_live
from jobdash.core.catalogue import check_submitted, type_from_dict, type_hash
from jobdash.core.identity import current_user, groups_of
from jobdash.core.model import (
    BadInput,
    Job,
    JobType,
    NotFound,
    Refused,
)
from jobdash.core.permissions import Rights, rights_of
from jobdash.core.service.locations import is_default_db, read_config, store_location
from jobdash.core.store.base import Store, open_store

if TYPE_CHECKING:
    import asyncio

    from jobdash.core.agent import Agent
    from jobdash.core.config import Config
    from jobdash.core.scheduler import Scheduler
    from jobdash.core.store.records import JobFilter
    from jobdash.core.store.side_records import Published


class Access:
    """Who the user is and what they may see and do: the store, the config, the catalogue of
    job types, and the permission checks every action and read of the `Service` makes."""

    # Opened to be read without the event loop (`core.loopfree`): its coroutines never
    # wait, and what would read ahead on a loop reads when awaited.
    loop_free = False

    def __init__(
        self,
        store: Store,
        config: Config,
        user: str,
        types: dict[str, JobType],
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        self.user = user
        self.local_types = types
        self.types = dict(types)
        self.read_only = read_only
        self.engine: Agent | None = None
        self.scheduler: Scheduler | None = None
        self._rights: Rights | None = None

    @classmethod
    async def open(
        cls,
        db: str | None = None,
        config: str | None = None,
        extra_types: Mapping[str, JobType] | None = None,
        user: str | None = None,
        read_only: bool = False,
        reading: bool = False,
        loop_free: bool = False,
        upgrading: Callable[[str], None] | None = None,
    ) -> Self:
        """Load the config (errors before anything is opened), then open the store.
        `reading` (a command that only reads) or `read_only`: a store that cannot be
        written is opened to be read (see `open_store`). `extra_types`: job types added
        to the config's where it does not define the name (the command line's `--demo`
        passes the demo types). `loop_free`: to read without the event loop (the command
        line's reads: `core.loopfree`); NeedsLoop, before the store is opened, where it
        cannot be. `upgrading`: told, once, a line to say before a store made by an older
        jobdash is upgraded (see `open_store`)."""
        cfg = read_config(config)
        if cfg.path is not None:
            # Python job types named in the config live next to it.
            folder = str(cfg.path.parent.resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)
        types = dict(extra_types or {}) | dict(cfg.types)
        who = user or current_user()  # before the store is opened: nothing to close
        store = await open_store(
            store_location(db),
            create_folder=is_default_db(db),
            reading=reading or read_only or loop_free,
            loop_free=loop_free,
            upgrading=upgrading,
        )
        if store.role is not None:  # the database says who the user is, and enforces it
            who = store.role.name
        svc = cls(store, cfg, who, types, read_only)
        svc.loop_free = loop_free
        try:
            await svc.refresh_catalogue()
        except BaseException:
            await store.close()  # its threads would keep the process alive
            raise
        return svc

    @property
    def location(self) -> str:
        """Where the store is (to tell the user)."""
        return self.store.location

    @property
    def created(self) -> str:
        """What opening the store created, to say once ("created store at …"); or ""."""
        return self.store.created

    @property
    def damaged(self) -> asyncio.Event:
        """Set once the store is found damaged: nothing more is written, an engine stops."""
        return self.store.damaged

    # ----------------------------------------------------------------- catalogue

    async def live_agents(self) -> set[str]:
        """The agents that use the store now: recent heartbeat, and on this host a live
        process (a dashboard killed a second ago must not be mistaken for a running engine)."""
        agents = await self.store.agents()
        if not agents:  # the host's name (`socket`) is not needed
            return set()
        import socket

        now, host = time.time(), socket.gethostname()
        return {info.name for info, _ in agents if is_live(info, now, host)}

    async def refresh_catalogue(self) -> None:
        """The types this process shows and submits: its own config's, then for other names
        those engines published (live engines' first, then the latest published)."""
        live = await self.live_agents()
        published: dict[str, JobType] = {}
        for p in sorted(await self.store.catalogue(), key=lambda p: p.agent not in live):
            published.setdefault(p.name, type_from_dict(p.spec))
        self.types = published | self.local_types

    async def _live_catalogue(self) -> tuple[set[str], list[Published]]:
        live = await self.live_agents()
        return live, [p for p in await self.store.catalogue() if p.agent in live]

    async def _type_hash(self, jt: JobType) -> str:
        """The hash of `jt`, once a live engine runs that very definition (see
        `check_submitted`)."""
        digest = type_hash(jt)
        if self.engine is not None and digest in self.engine.catalogue.hashes:
            return digest  # our own engine runs it (the scheduler's fires take this way)
        live, rows = await self._live_catalogue()
        check_submitted(jt, digest, live, rows)
        return digest

    def job_type(self, name: str) -> JobType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none defined"
            raise BadInput(f"unknown job type {name!r} (known: {known})") from None

    # ----------------------------------------------------------------- permissions

    @property
    def is_admin(self) -> bool:
        """An admin: a member of the admin role where the database decides (PostgreSQL under
        row-level security), else named in the config's admins."""
        role = self.store.role
        return role.admin if role is not None else self.user in self.config.admins

    @property
    def rights(self) -> Rights:
        """What this user may do (`core.permissions`), read once: by the config's roles (and
        the user's OS groups), or where the database enforces who sees what (PostgreSQL under
        row-level security) by the roles it holds (`jobdash db roles` wrote them)."""
        if self._rights is None:
            role = self.store.role
            if role is not None:  # the database's grants, which its policies hold to
                self._rights = Rights(self.user, role.admin, role.roles, role.configured)
            else:
                groups = groups_of(self.user) if self.config.roles else frozenset()
                self._rights = rights_of(self.user, self.is_admin, self.config.roles, groups)
        return self._rights

    def _seen(self, f: JobFilter) -> JobFilter:
        """`f` narrowed to the jobs this user sees: their own, and those a role lets them see
        (type and target globs); everyone's for an admin or a role that sees every job."""
        user, shared = self.rights.seen
        return dataclasses.replace(f, user=user, shared=shared)

    def _visible(self, job: Job) -> bool:
        return self.rights.allows("view", job.type, job.target, job.user)

    def may(self, action: str, job: Job) -> None:
        """Refused unless the user may take `action` (a right of `core.permissions`) on
        `job`: the rules' answer, in one line naming the missing right."""
        self.rights.check(action, f"job {job.id}", job.type, job.target, job.user)

    def target_of(self, type_name: str, params: Mapping[str, str]) -> str:
        """The target a job of this type with these parameters has (what a role's
        `targets` match; its parameter's default when not given, as a schedule's job gets
        it; "" when the type is unknown here or has no target)."""
        jt = self.types.get(type_name)
        return "" if jt is None else jt.target_in(dict(params))

    def _check_writable(self, what: str) -> None:
        if self.read_only:
            raise Refused(f"read-only: cannot {what}")

    def _check_right(
        self, action: str, what: str, thing: str, type_name: str = "", target: str = ""
    ) -> None:
        """Refused in read-only mode (`what`: the action's words there), or unless the rules
        let the user take `action` on `thing`."""
        self._check_writable(what)
        self.rights.check(action, thing, type_name, target, what=what)

    async def job(self, job_id: int) -> Job:
        try:
            job = await self.store.get_job(job_id)
        except NotFound:
            job = None
        if job is None or not self._visible(job):
            mine = "" if self.rights.sees_all else " among your jobs"
            raise NotFound(f"no job {job_id}{mine}")
        return job
