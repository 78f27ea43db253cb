"""The plain data of the Store contract's reads aside from the job listing and the change
feed (`records`): read marks, who the database says the user is, published job types, the
audit's and the failures' filters. No behaviour, as `records`.

A module of its own so that a read that touches none of them (`jobdash jobs`) does not
build their dataclasses (each costs the interpreter ~3 M instructions to build): the store
modules that make one import it where they do, the others under TYPE_CHECKING."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobdash.core.permissions import Role as PermissionRole
from jobdash.core.permissions import Shared
from jobdash.core.query import Query


@dataclass(frozen=True)
class ReadMark:
    """How far `user` has read a job's log: through line `seq`, and how many of the lines
    counted up to there (`Job.log_lines`, by level) that is, so that what is unread is the
    job's counts less these."""

    user: str
    job_id: int
    seq: int
    lines: int
    warnings: int
    errors: int


@dataclass(frozen=True)
class Role:
    """Who a store's database says its connection is, where the database enforces who sees
    what (a PostgreSQL role under row-level security): the user, and whether it sees all."""

    name: str
    admin: bool
    # The config's roles as the database holds them for this user (`jobdash db roles`), and
    # whether any role is configured there (then starting a job needs `run`).
    roles: tuple[PermissionRole, ...] = ()
    configured: bool = False


@dataclass(frozen=True)
class Published:
    """A job type as an agent published it."""

    agent: str
    name: str
    hash: str
    spec: dict[str, Any]
    published: float


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events `Store.audit_events` returns (`core.audit` parses it): `terms`
    (field, value, negated) restrict a field exactly, values of one field OR'ed, fields
    AND'ed; each of `words` (folded text, negated) must be found in the event's user,
    action, target, detail, actor or host (ASCII-only case folding, `query.fold`); `since`:
    at or after that time; `user`: only the events this user asked for (None: everyone's),
    and with it `shared`: also every event on a job ("job:ID") of those types and targets
    (what a role lets the user see)."""

    terms: tuple[tuple[str, str, bool], ...] = ()
    words: tuple[tuple[str, bool], ...] = ()
    since: float | None = None
    user: str | None = None
    shared: Shared = ()


@dataclass(frozen=True)
class FailureFilter:
    """Which failed attempts `Store.failure_groups` and `Store.failure_tasks` count: those of
    the jobs `query` matches (its `since:` terms count back from `now` on the attempts'
    own time, and its free words may also be found in the normalised message), of `user`
    only (None: everyone's; with it `shared`: also the jobs of others a role lets the user
    see), at or after `since`. `buckets`: the groups' trend, that many
    equal spans from `since` (else the first attempt counted) to `now`."""

    query: Query = field(default_factory=Query)
    user: str | None = None
    since: float | None = None
    now: float | None = None
    buckets: int = 12
    shared: Shared = ()
